"""lstm (GRU, LSTM and transformer encoders): the shared contract, a cycle, options."""

import numpy as np
import pytest

from tests.recommender_contract import RecommenderContract
from tfrec.errors import ConfigError
from tfrec.models import get_model

_SMALL = {"epochs": 3, "embedding_dim": 8, "units": 16, "batch_size": 128, "max_len": 5}


class TestGRU(RecommenderContract):
    model_name = "lstm"
    options = _SMALL
    learns_checkerboard = False  # no order in the checkerboard's ratings

    def test_history_recommendations_exclude_the_history(self, fitted):
        history = list(fitted.item_ids[:3])
        items, scores = fitted.recommend_history([history, [], [-5]], k=4)
        assert items.shape == (3, 4)
        assert not set(items[0]) & set(history)
        popular = fitted.item_ids[np.argsort(-fitted.popularity_, kind="stable")[:4]]
        assert list(items[1]) == list(popular) == list(items[2])

    def test_exported_history_signature_matches(self, fitted, tmp_path):
        import tensorflow as tf

        served = tf.saved_model.load(str(fitted.export(tmp_path)))
        long_history = list(fitted.item_ids[10:20])  # longer than max_len: the last 5 count
        rows = [[*fitted.item_ids[:3], -1], [-1, -1, -1, -1], long_history[-4:]]
        padded = np.array(rows, dtype=np.int64)
        recommend = served.signatures["recommend_history"]
        out = recommend(history=tf.constant(padded), k=tf.constant([6]))
        histories = [[i for i in row if i != -1] for row in rows]
        items, scores = fitted.recommend_history(histories, k=6)
        np.testing.assert_array_equal(out["item_ids"].numpy(), items)
        np.testing.assert_allclose(out["scores"].numpy(), scores, rtol=1e-5, atol=1e-5)
        out = recommend(history=tf.constant([long_history], tf.int64), k=tf.constant([3]))
        np.testing.assert_array_equal(
            out["item_ids"].numpy(), fitted.recommend_history([long_history], k=3)[0]
        )

    @pytest.mark.parametrize(
        ("softmax", "stride", "tied"), [("full", 1, True), ("sampled", 1, True), ("full", 3, False)]
    )
    def test_learns_the_next_item(self, cycle_split, softmax, stride, tied):
        # Input dropout (default 0.5) is for real data; the cycle has nothing to overfit.
        options = {**_SMALL, "epochs": 40, "max_len": 3, "patience": 0, "learning_rate": 0.02}
        options.update(embedding_dropout=0.0, tied_output=tied, num_sampled=4)
        model = get_model("lstm", softmax=softmax, stride=stride, **options).fit(cycle_split)
        items, _ = model.recommend_history([[3, 4, 5], [10, 11, 12], [7, 8]], k=1)
        assert items[:, 0].tolist() == [6, 1, 9]


@pytest.mark.parametrize(
    "options",
    [
        {"encoder": "lstm", "item_vectors": True, "vector_dim": 8, "tied_output": False},
        {"encoder": "transformer", "item_vectors": True, "vector_dim": 8},
        {"encoder": "gru", "item_features": True, "softmax": "sampled", "num_sampled": 20},
        {"embedding_dropout": 0.3, "label_smoothing": 0.1},
        {"softmax": "sampled", "num_sampled": 20},
        {"item2vec": True, "horizon": 3, "horizon_decay": 0.8},
    ],
    ids=[
        "lstm-vectors-untied",
        "transformer-vectors",
        "gru-categories-sampled",
        "tied-dropout-smoothing",
        "tied-sampled",
        "item2vec-horizon",
    ],
)
def test_other_options_fit_save_and_export(options, small_split, tmp_path):
    import tensorflow as tf

    from tfrec.models import load_model

    model = get_model("lstm", **options, **_SMALL).fit(small_split)
    users = np.array(model.user_ids[:4], dtype=np.int64)
    expected = model.recommend(users, k=5)
    served = tf.saved_model.load(str(model.export(tmp_path / "export")))
    out = served.signatures["recommend"](user_id=tf.constant(users), k=tf.constant([5]))
    np.testing.assert_array_equal(out["item_ids"].numpy(), expected[0])
    model.save(tmp_path / "run")
    np.testing.assert_array_equal(
        load_model(tmp_path / "run").recommend(users, k=5)[0], expected[0]
    )


def test_history_categories_feed_the_encoder(small_split):
    model = get_model("lstm", item_features=True, **_SMALL).fit(small_split)
    assert model.categories_.shape[0] == len(model.item_ids)
    users = np.arange(4)
    before = model._score(users)
    bag = model.model_.get_layer("item_categories").embedding
    bag.set_weights([np.zeros_like(w) for w in bag.get_weights()])
    assert not np.allclose(model._score(users), before)


def test_bad_encoder_is_named():
    with pytest.raises(ConfigError, match="encoder"):
        get_model("lstm", encoder="rnn")


def test_future_targets_known_answer():
    import tensorflow as tf

    from tfrec.models.sequence.encoders import future_targets

    # Two users: items 10..14 at positions 0..4, items 20..22 at 5..7.
    items = tf.constant([10, 11, 12, 13, 14, 20, 21, 22], tf.int64)
    # Windows of 2 ending at target positions 3 (user 1) and 7 (user 2).
    future, weights = future_targets(
        items, tf.constant([3, 7], tf.int64), tf.constant([5, 8], tf.int64), 2, 3, 0.5
    )
    # Input positions 1, 2 (user 1) are followed by 2, 3, 4 and 3, 4, (5 is user 2's).
    np.testing.assert_array_equal(future[0].numpy(), [[12, 13, 14], [13, 14, 20]])
    np.testing.assert_allclose(weights[0].numpy(), [[4 / 7, 2 / 7, 1 / 7], [2 / 3, 1 / 3, 0]])
    # Input positions 5, 6 (user 2) are followed by 6, 7 and by 7 only.
    np.testing.assert_array_equal(future[1, :, 0].numpy(), [21, 22])
    np.testing.assert_allclose(weights[1].numpy(), [[2 / 3, 1 / 3, 0], [1, 0, 0]])


def test_horizon_learns_the_next_items(cycle_split):
    options = {**_SMALL, "epochs": 40, "max_len": 3, "patience": 0, "learning_rate": 0.02}
    options.update(embedding_dropout=0.0, label_smoothing=0.0, horizon=3, horizon_decay=0.5)
    model = get_model("lstm", **options).fit(cycle_split)
    items, _ = model.recommend_history([[3, 4, 5], [10, 11, 12]], k=3)
    assert items[:, 0].tolist() == [6, 1]  # the next item weighs most
    assert [sorted(row) for row in items.tolist()] == [[6, 7, 8], [1, 2, 3]]


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"horizon": 0}, "horizon"),
        ({"horizon_decay": 0.0}, "horizon_decay"),
        ({"horizon": 3, "softmax": "sampled"}, "sampled"),
    ],
)
def test_bad_horizon_is_named(options, match):
    with pytest.raises(ConfigError, match=match):
        get_model("lstm", **options)


def test_horizon_follows_the_split():
    from types import SimpleNamespace

    from tfrec.splits import COLD_RELEVANT

    cold, next_item = SimpleNamespace(given={"validation": None}), SimpleNamespace(given=None)
    assert get_model("lstm")._horizon(cold) == COLD_RELEVANT == 10
    assert get_model("lstm")._horizon(next_item) == 1
    assert get_model("lstm", softmax="sampled")._horizon(cold) == 1
    assert get_model("lstm", horizon=3)._horizon(next_item) == 3
