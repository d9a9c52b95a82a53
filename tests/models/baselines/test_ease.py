"""EASE: the shared contract plus known answers (closed form, l2 choice, memory, pruning)."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from tests.recommender_contract import RecommenderContract
from tfrec import metrics
from tfrec.data import synthetic
from tfrec.data.interaction_log import read_interactions
from tfrec.data.schema import Dataset, make_items
from tfrec.errors import ConfigError
from tfrec.models import get_model, load_model
from tfrec.models.baselines.ease import DEFAULT_L2, L2_GRID, ease_matrix, gram_matrix, prune
from tfrec.splits import split


def _closed_form(x: np.ndarray, l2: float) -> np.ndarray:
    """Steck's B in plain numpy."""
    p = np.linalg.inv(x.T @ x + l2 * np.eye(x.shape[1]))
    b = -p / np.diag(p)[None, :]
    np.fill_diagonal(b, 0.0)
    return b


@pytest.fixture(scope="module")
def tiny_x():
    return (np.random.default_rng(0).random((30, 12)) < 0.4).astype(np.float64)


class TestEASE(RecommenderContract):
    model_name = "ease"
    # The checkerboard's binary interactions are the same for both taste groups:
    # only the ratings tell them apart.
    board_options = {"use_ratings": True, "l2": 1.0}

    def test_l2_is_chosen_on_validation_and_refit_keeps_it(self, small_split, capsys):
        model = self.make().fit(small_split, verbose=True)
        err = capsys.readouterr().err
        chosen = next(line for line in err.splitlines() if " chosen on validation" in line)
        tried = chosen.split("(")[1].rstrip(")").split(", ")
        ndcg = {float(k): float(v) for k, v in (t.split(": ") for t in tried)}
        assert list(ndcg) == list(L2_GRID) and model.l2_ == max(ndcg, key=ndcg.get)
        assert "Gram matrix" in err and "pruning" in err  # a line per step
        assert model.refit_options() == {"l2": model.l2_}
        same = self.make(l2=model.l2_).fit(small_split)
        assert (same.weights_ != model.weights_).nnz == 0

    def test_l2_is_chosen_on_the_most_popular_items(self, small_split, monkeypatch):
        ranked_columns = []
        rank = metrics.full_ranking

        def spy(score_rows, relevant, excluded, k, **options):
            ranked_columns.append(relevant.shape[1])
            return rank(score_rows, relevant, excluded, k, **options)

        monkeypatch.setattr(metrics, "full_ranking", spy)
        model = self.make(choice_items=40).fit(small_split)
        assert ranked_columns == [40] * len(L2_GRID) and model.l2_ in L2_GRID

    def test_without_validation_the_default_l2_is_used(self, board_split):
        assert self.make().fit(board_split).l2_ == DEFAULT_L2


def test_weights_match_the_numpy_closed_form(tiny_x):
    weights = ease_matrix(gram_matrix(sp.csr_matrix(tiny_x)), 5.0)
    np.testing.assert_allclose(weights, _closed_form(tiny_x, 5.0), rtol=1e-5, atol=1e-6)
    assert np.all(np.diag(weights) == 0)


def test_float32_in_place_matches_float64(tiny_x):
    gram = gram_matrix(sp.csr_matrix(tiny_x), np.float32)
    b = ease_matrix(gram, 5.0, overwrite=True)
    assert b is gram and b.dtype == np.float32  # B took the Gram matrix's memory
    np.testing.assert_allclose(b, _closed_form(tiny_x, 5.0), rtol=1e-4, atol=1e-5)


def test_a_heavier_interaction_ranks_its_neighbours_higher():
    # Users a and b both have items p and q. p's neighbour r and q's neighbour s
    # are alike in the counts (three users each pair them). Only the strength
    # of a's interaction with p tells that a is more into p than q.
    pairs = [("a", "p"), ("a", "q"), ("b", "p"), ("b", "q")]
    pairs += [(f"{n}{i}", item) for i in range(3) for n, item in (("x", "p"), ("y", "q"))]
    pairs += [(f"{n}{i}", item) for i in range(3) for n, item in (("x", "r"), ("y", "s"))]
    log = pd.DataFrame(pairs, columns=["user", "item"])
    log["plays"] = np.where((log.user == "a") & (log.item == "p"), 50.0, 1.0)
    data = read_interactions(log, columns={"user": "user", "item": "item", "weight": "plays"})
    parts = split(data, "none")
    weighted = get_model("ease", l2=1.0, weighting="log").fit(parts)
    binary = get_model("ease", l2=1.0, weighting="binary").fit(parts)
    (ranked,), (scores,) = weighted.recommend(["a"], k=2)
    assert list(ranked) == ["r", "s"] and scores[0] > scores[1]
    (tie,) = binary.score(binary.users_.encode(["a"]))[:, binary.items_.encode(["r", "s"])]
    assert tie[0] == pytest.approx(tie[1])


def test_pruning_keeps_each_columns_largest_weights(tiny_x):
    dense = _closed_form(tiny_x, 5.0).astype(np.float32)
    pruned = prune(dense, 3).toarray()
    assert np.all((pruned != 0).sum(axis=0) == 3)
    for j in range(dense.shape[1]):
        largest = np.argsort(-np.abs(dense[:, j]), kind="stable")[:3]
        assert set(np.flatnonzero(pruned[:, j])) == set(largest)
        np.testing.assert_array_equal(pruned[largest, j], dense[largest, j])


@pytest.mark.parametrize("use_ratings", [False, True])
def test_scores_are_the_users_rows_times_b(tiny_x, use_ratings):
    users, items = np.nonzero(tiny_x)
    ratings = np.random.default_rng(1).integers(1, 6, len(users)).astype(np.float32)
    frame = pd.DataFrame(
        {"user_id": users + 1, "item_id": items + 1, "rating": ratings, "timestamp": 0}
    ).astype({"user_id": np.int32, "item_id": np.int32, "timestamp": np.int64})
    data = Dataset("tiny", frame, make_items(np.arange(1, tiny_x.shape[1] + 1)))
    model = get_model("ease", l2=5.0, use_ratings=use_ratings).fit(split(data, "none"))
    x = sp.csr_matrix((ratings, (users, items)), tiny_x.shape).toarray() if use_ratings else tiny_x
    expected = (x @ _closed_form(x, 5.0))[model.user_ids - 1]  # users with a rating
    np.testing.assert_allclose(model.score(model.user_ids), expected, rtol=1e-4, atol=1e-4)


def test_too_many_items_are_refused_with_the_size_and_the_fix(small_split):
    with pytest.raises(ConfigError, match=r"ease needs about .* GB .*--min-item-interactions N"):
        get_model("ease", max_memory_gb=1e-6).fit(small_split)


@pytest.mark.parametrize("option", ["l2", "max_memory_gb", "eps"])
def test_non_positive_numbers_are_refused(option):
    with pytest.raises(ConfigError, match=f"{option} must be a number > 0; got -1"):
        get_model("ease", **{option: -1})


def test_confidences_survive_save_load_and_export(tmp_path):
    import tensorflow as tf

    data = synthetic.music(n_users=40, n_items=200, n_pairs=1_500, seed=0)
    model = get_model("ease", l2=20.0, weighting="log").fit(split(data, "none"))
    assert model.confidence_ is not None
    users = model.user_ids[:5]
    items, scores = model.recommend(users, k=5)
    model.save(tmp_path / "m")
    np.testing.assert_array_equal(load_model(tmp_path / "m").recommend(users, k=5)[0], items)
    served = tf.saved_model.load(str(model.export(tmp_path / "export")))
    out = served.signatures["recommend"](user_id=tf.constant(users), k=tf.constant([5]))
    np.testing.assert_array_equal(out["item_ids"].numpy(), items)
    np.testing.assert_allclose(out["scores"].numpy(), scores, rtol=1e-4)
