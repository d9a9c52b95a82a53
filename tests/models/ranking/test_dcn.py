"""DCN-v2: the cross layer against its formula, the shared contract, both tasks."""

import numpy as np
import pytest

from tests.recommender_contract import RecommenderContract
from tfrec.errors import ConfigError

_SMALL = {"epochs": 4, "embedding_dim": 8, "hidden_units": (8,), "batch_size": 128}


class TestDCN(RecommenderContract):
    model_name = "dcn"
    options = _SMALL
    learns_checkerboard = False  # 8 users x 8 items is too little for a dropout network

    def test_bad_structure_is_named(self):
        with pytest.raises(ConfigError, match="structure must be one of stacked, parallel"):
            self.make(structure="side-by-side")

    def test_ranking_task_on_explicit_data_ranks(self, small_split):
        model = self.make(task="ranking").fit(small_split)
        assert not model.predicts_ratings
        scores = model.predict(model.user_ids[:3], model.item_ids[:3])
        assert np.all((scores > 0) & (scores < 1))


def test_cross_layer_is_the_formula():
    """x_1 = x_0 ⊙ (W x_0 + b) + x_0 with known W and b; and the low-rank W = V U^T."""
    import tf_keras as keras

    from tfrec.models.ranking.cross import cross_network

    rng = np.random.default_rng(0)
    x0 = rng.normal(size=(5, 4)).astype(np.float32)
    inputs = keras.Input((4,))
    model = keras.Model(inputs, cross_network(inputs, 2, (), 0.0, "stacked", None, 0))
    w1, b1, w2, b2 = (rng.normal(size=s).astype(np.float32) for s in [(4, 4), 4, (4, 4), 4])
    model.get_layer("cross_0").set_weights([w1, b1])
    model.get_layer("cross_1").set_weights([w2, b2])
    x1 = x0 * (x0 @ w1 + b1) + x0
    x2 = x0 * (x1 @ w2 + b2) + x1
    np.testing.assert_allclose(model(x0).numpy(), x2, rtol=1e-5, atol=1e-5)

    low_rank = keras.Model(inputs, cross_network(inputs, 1, (), 0.0, "stacked", 2, 0))
    u, v, b = rng.normal(size=(4, 2)), rng.normal(size=(2, 4)), rng.normal(size=4)
    low_rank.get_layer("cross_0").set_weights([w.astype(np.float32) for w in (u, v, b)])
    expected = x0 * (x0 @ u @ v + b) + x0
    np.testing.assert_allclose(low_rank(x0).numpy(), expected, rtol=1e-4, atol=1e-4)


def _planted_cross(seed=0, n_users=3000, n_items=3000, per_user=4):
    """Ratings 3 + 4·a_u·b_i·c_i (+ noise) from a user's numeric feature a and an
    item's b and c; a few ratings per ID, so only the features can explain them."""
    import pandas as pd

    from tfrec.data.interaction_log import read_interactions

    rng = np.random.default_rng(seed)
    a, b, c = rng.uniform(-1, 1, n_users), rng.uniform(-1, 1, n_items), rng.uniform(-1, 1, n_items)
    users = np.repeat(np.arange(n_users), per_user)
    items = rng.integers(0, n_items, len(users))
    rating = 3 + 4 * a[users] * b[items] * c[items] + rng.normal(0, 0.2, len(users))
    log = pd.DataFrame({"user": users, "item": items, "rating": np.round(rating * 2) / 2})
    log["rating"] = log["rating"].clip(0.5, 5)
    return read_interactions(
        log.drop_duplicates(["user", "item"]),
        name="planted-cross",
        users=pd.DataFrame({"user": np.arange(n_users), "a": np.round(a, 3)}),
        user_features="a=numeric",
        items=pd.DataFrame({"item": np.arange(n_items), "b": np.round(b, 3), "c": np.round(c, 3)}),
        item_features="b=numeric,c=numeric",
    )


def test_learns_a_planted_cross_better_than_an_mlp():
    """Two cross layers learn the degree-3 product; an MLP with twice the hidden units
    and no cross layer (about the same number of weights) learns it worse."""
    from tfrec.models import get_model
    from tfrec.splits import split

    parts = split(_planted_cross(), "random", seed=0)
    common = {"embedding_dim": 8, "epochs": 30, "dropout": 0.0, "learning_rate": 3e-3}
    common["batch_size"] = 256
    rmse = {}
    for name, options in {
        "dcn": {"cross_layers": 2, "hidden_units": (8,)},
        "mlp": {"cross_layers": 0, "hidden_units": (16,)},
    }.items():
        model = get_model("dcn", **common, **options).fit(parts)
        error = model.predict(parts.test.user_id, parts.test.item_id) - parts.test.rating
        rmse[name] = float(np.sqrt(np.mean(error**2)))
    assert rmse["dcn"] < rmse["mlp"] - 0.008, rmse  # seed 0: 0.353 against 0.370


def test_negatives_follow_popularity_and_hard_candidates():
    """``item_weights`` draws negatives in proportion to them; ``hard_share`` 1 takes
    every negative from the user's candidate row."""
    from tfrec.pipelines import implicit_dataset

    users = np.repeat(np.arange(50), 2)
    items = np.tile([0, 1], 50)
    weights = np.array([0, 0, 1, 1, 6, 0, 0, 0], np.float64)  # items 2, 3, 4 only

    def negatives(**extra):
        dataset = implicit_dataset(users, items, 8, 20, 10_000, 0, 1, **extra)
        features, labels = next(iter(dataset))
        return features["user"].numpy()[labels == 0], features["item"].numpy()[labels == 0]

    _, drawn = negatives(item_weights=weights)
    share = np.bincount(drawn, minlength=8) / len(drawn)
    np.testing.assert_allclose(share, weights / weights.sum(), atol=0.03)
    candidates = np.stack([np.full(3, 5 + u % 3) for u in range(50)])  # user u: item 5 + u % 3
    rows, drawn = negatives(candidates=candidates, hard_share=1.0)
    np.testing.assert_array_equal(drawn, 5 + rows % 3)


def test_grouped_batches_put_each_positive_before_its_negatives():
    from tfrec.pipelines import implicit_dataset

    users, items = np.repeat(np.arange(10), 2), np.tile([0, 1], 10)
    extra = {"position": np.arange(20, dtype=np.int64)}
    dataset = implicit_dataset(users, items, 8, 3, 40, 0, 1, extra=extra, grouped=True)
    features, labels = next(iter(dataset))
    groups = {k: v.numpy().reshape(-1, 4) for k, v in features.items()}
    np.testing.assert_array_equal(labels.numpy().reshape(-1, 4), [[1, 0, 0, 0]] * 10)
    assert (groups["user"] == groups["user"][:, :1]).all()
    assert (groups["position"] == groups["position"][:, :1]).all()
    np.testing.assert_array_equal(groups["item"][:, 0], items[groups["position"][:, 0]])
    assert not np.isin(groups["item"][:, 1:], [0, 1]).any()  # negatives: unseen items


def test_softmax_loss_ranks_with_logits(small_split):
    from tfrec.models import get_model

    model = get_model("dcn", **_SMALL, task="ranking", loss="softmax").fit(small_split)
    assert model.history_ and np.isfinite(model.history_[-1]["loss"])
    with pytest.raises(ConfigError, match="weighting 'log' needs loss 'bce'"):
        get_model("dcn", loss="softmax", weighting="log")


def test_history_reads_only_the_items_before_the_position():
    """h_u at a training pair's position is the mean of the user's earlier items only."""
    import tensorflow as tf

    from tfrec.models.ranking.history import HistoryMean

    items = np.array([3, 1, 2, 0, 4])  # user 0: 3, 1, 2; user 1: 0, 4 (in time order)
    layer = HistoryMean(items, np.array([0, 3]), length=2, n_items=5, dim=5, l2=0.0)
    users, positions = tf.constant([0, 0, 0, 1, 1], tf.int64), tf.constant([0, 2, 3, 4, 5])
    positions = tf.cast(positions, tf.int64)
    layer(users, positions)  # builds the embedding
    layer.embedding.set_weights([np.eye(5, dtype=np.float32)])  # item i -> the i-th unit vector
    out = layer(users, positions).numpy()
    expected = np.zeros((5, 5), np.float32)
    expected[1, [3, 1]] = 0.5  # before position 2: items 3, 1
    expected[2, [1, 2]] = 0.5  # before position 3 (the user's end), the last 2: 1, 2
    expected[3, 0] = 1.0  # before position 4: item 0 only (position 3 is the user's start)
    expected[4, [0, 4]] = 0.5
    np.testing.assert_allclose(out, expected)  # row 0: the user's first item, no history


def test_item_trend_counts_only_earlier_interactions():
    """n_i in windows before the example's own time; at the user's end, after the last item."""
    import tensorflow as tf

    from tfrec.models.ranking.trend import DAY, ItemTrend

    # user 0: item 0 at day 0, item 1 at day 10, item 0 at day 20; user 1: item 0 at day 15
    items = np.array([0, 1, 0, 0])
    times = (np.array([0, 10, 20, 15]) * DAY).astype(np.int64)
    layer = ItemTrend(items, times, ends=np.array([3, 4]), windows=(7,))
    users = tf.constant([0, 0, 1, 0, 1], tf.int64)
    rows = tf.constant([0, 0, 0, 1, 1], tf.int64)
    positions = tf.constant([2, 3, 4, 1, 3], tf.int64)
    out = layer(users, rows, positions).numpy() * 5.0
    counts = np.expm1(out[:, :2]).round()
    # pair at day 20 (item 0): days 0 and 15 before it, day 15 within 7 days; itself excluded
    # user 0's end (day 20 + 1 s): item 0 at days 0, 15, 20; days 15 and 20 within 7 days
    # user 1's end (day 15 + 1 s): days 0 and 15; item 1 at user 0's own pair (day 10): none,
    # age 0; item 1 at user 1's first pair (day 15): day 10, within 7 days, 5 days old
    np.testing.assert_array_equal(counts, [[1, 2], [2, 3], [1, 2], [0, 0], [1, 1]])
    ages = [20, 20 + 1 / DAY, 15 + 1 / DAY, 0, 5]
    np.testing.assert_allclose(np.expm1(out[:, 2]), ages, rtol=1e-5)


class TestDCNTrend(RecommenderContract):
    """The item-trend features alone (no history): fit, save, load and export agree."""

    model_name = "dcn"
    options = {**_SMALL, "history": 0, "trend_windows": (30.0, 365.0)}
    learns_checkerboard = False


def test_trend_windows_need_timestamps():
    """Without timestamps every time is 0: the trend would read nothing in
    training and everything at serving, so dcn refuses it."""
    from tfrec import split
    from tfrec.data.synthetic import music
    from tfrec.models import get_model

    data = music(n_users=40, n_items=30, n_pairs=300)
    model = get_model("dcn", trend_windows=[30], **_SMALL)
    with pytest.raises(ConfigError, match="trend_windows needs timestamps"):
        model.fit(split(data, "random"))


def test_recency_weights_halve_over_the_users_history():
    from tfrec.models.ranking.dcn import recency_weights

    # User 0 holds positions 0-3, user 1 positions 4-5; rows in data order.
    starts, ends = np.array([0, 4]), np.array([4, 6])
    users, positions = np.array([0, 0, 1, 0, 1, 0]), np.array([3, 2, 5, 1, 4, 0])
    expected = [1, 2**-0.25, 1, 2**-0.5, 2**-0.5, 2**-0.75]
    np.testing.assert_allclose(recency_weights(positions, starts, ends, users), expected, 1e-6)
    with pytest.raises(ConfigError, match="recent_half_life needs loss 'bce'"):
        from tfrec.models import get_model

        get_model("dcn", loss="softmax", recent_half_life=0.25)


def test_recency_weighted_ranking_fits(small_split):
    from tfrec.models import get_model

    model = get_model("dcn", **_SMALL, task="ranking", recent_half_life=0.25).fit(small_split)
    assert np.isfinite(model.history_[-1]["loss"])


def context_log(seed=0, n_users=60, per_user=30, n_items=10):
    """Every user takes "a" items on a tv and "b" items on a phone (a device
    per interaction, drawn evenly): only the context tells which."""
    import pandas as pd

    from tfrec.data.interaction_log import read_interactions
    from tfrec.splits import split

    rng = np.random.default_rng(seed)
    users = np.repeat([f"u{u}" for u in range(n_users)], per_user)
    device = rng.choice(["tv", "phone"], len(users))
    items = np.where(device == "tv", "a", "b") + rng.integers(0, n_items, len(users)).astype(str)
    when = rng.integers(1_600_000_000, 1_700_000_000, len(users))
    log = pd.DataFrame({"user": users, "item": items, "device": device, "when": when})
    log = log.drop_duplicates(["user", "item"])
    return split(read_interactions(log, name="devices", context_features="device"), "none")


def test_learns_a_planted_context(tmp_path):
    """The request's device picks the items; without one, both kinds come back;
    the saved model reloads to the same answers."""
    from tfrec.models import get_model, load_model

    model = get_model("dcn", seed=0, epochs=20, history=0).fit(context_log())
    users = ["u0", "u1", "u2", "u3"]
    for device, kind in (("tv", "a"), ("phone", "b")):
        context = {"device": [device] * len(users)}
        items, _ = model.recommend(users, k=5, exclude_seen=False, context=context)
        assert all(i.startswith(kind) for i in items.ravel()), (device, items)
    items, _ = model.recommend(users, k=5, exclude_seen=False)
    assert {i[0] for i in items.ravel()} == {"a", "b"}, items
    model.save(tmp_path / "model")
    context = {"device": ["tv", "phone", "", "tv"]}
    np.testing.assert_allclose(
        load_model(tmp_path / "model").recommend(users, k=5, context=context)[1],
        model.recommend(users, k=5, context=context)[1],
        rtol=1e-6,
    )


def test_a_run_with_early_stopping_reloads_quietly(tmp_path, caplog):
    """A checkpoint-format model (one with features) whose fit kept its best
    epoch reloads without warnings about the early-stopping copies."""
    import gc

    import tfrec
    from tfrec.models import load_model

    tfrec.train("dcn", context_log().dataset, "temporal", tmp_path / "run", config=_SMALL)
    load_model(tmp_path / "run" / "model")
    gc.collect()  # a checkpoint's load status warns of what it did not restore when freed
    assert "could not be found" not in caplog.text


def test_context_term_without_context_is_its_flag():
    """A request that brings no context value reads [0 ... 0 | 1], as a training
    row whose context was dropped; one that brings any reads its encoding."""
    import tf_keras as keras

    from tfrec.data.feature_schema import Feature
    from tfrec.models.ranking.context import RequestContext

    device = Feature("device", "context", "category")
    adapt = {"context_device": np.array(["tv", "phone"], object), "timestamp": np.array([0, 3_600])}
    inputs, term = RequestContext((device,), True, adapt).term(dropout=0.0, seed=0)
    model = keras.Model(inputs, term)
    out = model(
        {
            "context_device": np.array(["", "tv", ""]),
            "timestamp": np.array([-1, -1, 7_200]),
        }
    ).numpy()
    np.testing.assert_array_equal(out[0], np.r_[np.zeros(out.shape[1] - 1), 1.0])
    assert out[1, -1] == 0 and out[2, -1] == 0 and np.abs(out[1:, :-1]).sum(axis=1).min() > 0


def test_context_dropout_draws_once_per_group():
    """Under the listwise loss a positive and its negatives are one request:
    their rows keep or drop the context together."""
    import tf_keras as keras

    from tfrec.data.feature_schema import Feature
    from tfrec.models.ranking.context import RequestContext

    adapt = {"context_device": np.array(["tv", "phone"], object)}
    context = RequestContext((Feature("device", "context", "category"),), False, adapt)
    inputs, term = context.term(dropout=0.5, seed=0, group=3)
    model = keras.Model(inputs, term)
    flags = model({"context_device": np.array(["tv"] * 300)}, training=True).numpy()[:, -1]
    groups = flags.reshape(-1, 3)
    assert (groups == groups[:, :1]).all() and 0 < groups[:, 0].mean() < 1


def test_context_needs_a_log_with_context(small_split):
    from tfrec.errors import NotSupportedError
    from tfrec.models import get_model

    model = get_model("dcn", **{**_SMALL, "epochs": 1}).fit(small_split)
    with pytest.raises(NotSupportedError, match="dcn was trained without request context"):
        model.recommend(model.user_ids[:1], context={"timestamp": [0]})


def test_tensorboard_logs_without_the_json_warning(small_split, tmp_path, caplog):
    """dcn's history layer holds arrays, so Keras cannot write the model's JSON
    summary; it skips it, and the fit does not print Keras' long warning."""
    import logging

    from tfrec.models import get_model

    with caplog.at_level(logging.WARNING, logger="tensorflow"):
        get_model("dcn", **{**_SMALL, "epochs": 1}).fit(small_split, log_dir=tmp_path / "logs")
    assert (tmp_path / "logs" / "train").is_dir()
    assert "failed to serialize" not in caplog.text
