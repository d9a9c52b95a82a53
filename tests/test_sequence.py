"""The next-item sequence model: the shared contract, history recommendations, export."""

import numpy as np
import pytest

from tests.recommender_contract import RecommenderContract
from tfrec.errors import ConfigError
from tfrec.models import get_model
from tfrec.sequences import UserSequences

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

    @pytest.mark.parametrize(("softmax", "stride"), [("full", 1), ("sampled", 1), ("full", 3)])
    def test_learns_the_next_item(self, cycle_split, softmax, stride):
        options = {**_SMALL, "epochs": 40, "max_len": 3, "patience": 0, "learning_rate": 0.02}
        model = get_model("lstm", softmax=softmax, num_sampled=4, stride=stride, **options).fit(
            cycle_split
        )
        items, _ = model.recommend_history([[3, 4, 5], [10, 11, 12], [7, 8]], k=1)
        assert items[:, 0].tolist() == [6, 1, 9]


@pytest.fixture(scope="module")
def cycle_split():
    """60 users each walk the cycle 1 -> 2 -> ... -> 12 -> 1 from a random start."""
    import pandas as pd

    from tfrec.data.schema import Dataset, make_items, validate_ratings
    from tfrec.splits import split

    n_users, n_items, steps = 60, 12, 30
    rng = np.random.default_rng(0)
    rows = []
    for user in range(n_users):
        start = rng.integers(n_items)
        for step in range(steps):
            rows.append((user + 1, (start + step) % n_items + 1, 4.0, 1_000_000 + step))
    ratings = pd.DataFrame(rows, columns=["user_id", "item_id", "rating", "timestamp"])
    ratings = ratings.drop_duplicates(["user_id", "item_id"], keep="last")
    ratings = validate_ratings(ratings, (0.5, 5.0), "cycle")
    data = Dataset("cycle", ratings, make_items(np.arange(1, n_items + 1)))
    return split(data, "leave-one-out")


@pytest.mark.parametrize(
    "options",
    [
        {"encoder": "lstm", "item_vectors": True, "vector_dim": 8},
        {"encoder": "transformer", "item_vectors": True, "vector_dim": 8},
        {"encoder": "gru", "item_features": True, "softmax": "sampled", "num_sampled": 20},
    ],
    ids=["lstm-vectors", "transformer-vectors", "gru-categories-sampled"],
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


@pytest.mark.parametrize("first_targets", [False, True])
@pytest.mark.parametrize("stride", [1, 2, 3, 4])
def test_windows_make_every_item_a_target_once(stride, first_targets):
    """Each item after a user's first (every item, with ``first_targets``) is
    the weighted target of exactly one window, read after the items just
    before it: at least ``length - stride + 1`` of them, or all of the
    user's earlier items. Stride 1 keeps the targets in sequence order."""
    from tfrec.sequences import target_windows

    rng = np.random.default_rng(stride)
    lengths = rng.integers(0, 9, size=30)
    users = np.repeat(np.arange(30), lengths)
    ends = np.cumsum(lengths)
    items = rng.integers(0, 50, size=len(users))
    sequences = UserSequences(users, items, ends - lengths, ends)
    length = 4
    windows = sequences.windows(stride, first_targets)
    tensors = target_windows(
        items, windows["last"], windows["start"], length, stride, first_targets
    )
    inputs, mask, targets, weights = (t.numpy() for t in tensors)
    seen = []
    for row, last in enumerate(windows["last"]):
        for j in np.flatnonzero(weights[row]):
            position = last - (length - 1 - j)  # the target's position
            start = windows["start"][row]
            assert targets[row, j] == items[position]
            assert j + 1 >= length - stride + 1
            history = inputs[row, : j + 1][mask[row, : j + 1] > 0]
            expected = items[max(start, position - (j + 1)) : position]
            assert history.tolist() == expected.tolist()
            seen.append(position)
    first = np.arange(len(users)) == (ends - lengths)[users]
    expected = np.flatnonzero(~first | first_targets).tolist()
    assert sorted(seen) == expected
    if stride == 1:
        assert seen == expected


def test_user_sequences_are_time_ordered():
    from types import SimpleNamespace

    data = SimpleNamespace(
        users=np.array([1, 0, 1, 0]),
        items=np.array([5, 6, 7, 8]),
        timestamps=np.array([30, 20, 10, 10]),
        user_ids=np.array([10, 11]),
    )
    sequences = UserSequences.from_interactions(data)
    assert sequences.items.tolist() == [8, 6, 7, 5]
    assert sequences.starts.tolist() == [0, 2] and sequences.ends.tolist() == [2, 4]


class TestLSTMRetrieval(RecommenderContract):
    model_name = "lstm_retrieval"
    options = {"embedding_dim": 8, "epochs": 3, "batch_size": 256, "history": 5}
    learns_checkerboard = False  # implicit: every checkerboard item was watched by both groups

    @pytest.mark.parametrize("stride", [1, 3])
    def test_learns_the_next_item(self, cycle_split, stride):
        """With the train items excluded only the validation (next) and test
        items remain; the model must put the next one first."""
        options = {**self.options, "epochs": 40, "history": 3, "patience": 0, "stride": stride}
        model = self.make(**options, learning_rate=0.02).fit(cycle_split)
        top, _ = model.recommend(model.user_ids, k=1)
        following = cycle_split.validation.set_index("user_id").loc[model.user_ids, "item_id"]
        assert np.mean(top[:, 0] == following.to_numpy()) >= 0.9

    def test_query_needs_some_input(self):
        with pytest.raises(ConfigError, match="user_embedding=true or history > 0"):
            self.make(history=0)
