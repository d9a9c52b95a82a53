"""Metric formulas against hand-computed values."""

import numpy as np
import pytest

from tfrec.metrics import full_ranking, mae, ranking_metrics, rmse, sampled_rank_metrics
from tfrec.topk import top_k


def test_rating_errors():
    assert rmse([3, 4], [4, 2]) == pytest.approx(np.sqrt((1 + 4) / 2))
    assert mae([3, 4], [4, 2]) == pytest.approx(1.5)


def test_ranking_metrics_by_hand():
    hits = np.array(
        [
            [False, True, False, True],  # 2 relevant, both found at 2 and 4
            [False, False, False, False],  # nothing found
            [True, False, False, False],
        ]
    )  # 9 relevant, K=4 -> ideal 4 hits
    m = ranking_metrics(hits, np.array([2, 1, 9]))
    assert m["hr"].tolist() == [1, 0, 1]
    assert m["precision"].tolist() == [0.5, 0, 0.25]
    assert m["recall"].tolist() == [1.0, 0, 0.25]
    dcg0 = 1 / np.log2(3) + 1 / np.log2(5)
    assert m["ndcg"][0] == pytest.approx(dcg0 / (1 + 1 / np.log2(3)))
    ideal2 = sum(1 / np.log2(j + 2) for j in range(4))
    assert m["ndcg"][2] == pytest.approx(1 / ideal2)
    assert m["ap"][0] == pytest.approx((1 / 2 + 2 / 4) / 2)
    assert m["ap"][2] == pytest.approx(1 / 4)


def test_sampled_ties_count_against_the_positive():
    result = sampled_rank_metrics(
        np.array([1.0, 0.5, 0.0]), np.array([[0.0, 0.2], [0.9, 0.1], [0.0, 0.0]]), k=1
    )
    assert result["hr"].tolist() == [1, 0, 0]
    assert result["ndcg"][0] == 1.0


def test_top_k_orders_and_breaks_ties_by_index():
    scores = np.array([[0.1, 0.9, 0.9, -np.inf, 0.5]], dtype=np.float32)
    index, values = top_k(scores, 3)
    assert index.tolist() == [[1, 2, 4]] and values[0].tolist() == pytest.approx([0.9, 0.9, 0.5])
    assert top_k(scores, 10)[0].shape == (1, 5)


@pytest.mark.parametrize("engine", ["numpy", "tensorflow", "blocks"])
def test_top_k_agrees_with_a_stable_full_sort(engine, monkeypatch):
    from tfrec import topk

    if engine != "numpy":  # the paths taken for large arrays
        monkeypatch.setattr(topk, "TF_TOP_K_SCORES", 0)
    monkeypatch.setattr(topk, "BLOCK", 4 if engine == "blocks" else 1 << 30)
    rng = np.random.default_rng(0)
    for trial in range(100):
        # Small rows, and rows wide enough for the blocked candidate search.
        n = int(rng.integers(1, 40)) if trial % 2 else int(rng.integers(256, 3000))
        scores = rng.integers(-3, 4, size=(4, n)).astype(np.float32)
        if trial % 4 == 0:  # few ties: the blocked search's usual case
            scores += rng.normal(scale=0.01, size=scores.shape).astype(np.float32)
        scores[scores == 3] = -np.inf
        scores[:, 0] = rng.normal(size=4)
        if trial % 10 == 0:
            scores[1, 1] = np.nan  # counts as -inf
        k = int(rng.integers(1, 50))
        index, values = top_k(scores, k)
        clean = np.where(np.isnan(scores), -np.inf, scores)
        expected = np.argsort(-clean, axis=1, kind="stable")[:, : min(k, n)]
        np.testing.assert_array_equal(index, expected)
        np.testing.assert_array_equal(values, np.take_along_axis(clean, expected, axis=1))
        assert index.dtype == np.int64 and values.dtype == np.float32


def test_full_ranking_on_threads_equals_one_thread():
    import scipy.sparse as sp

    rng = np.random.default_rng(3)
    scores = rng.normal(size=(50, 300)).astype(np.float32)
    relevant = sp.random(50, 300, density=0.05, format="csr", random_state=1)
    excluded = sp.random(50, 300, density=0.1, format="csr", random_state=2)
    seen_order = []

    def run(threads):
        seen_order.clear()
        return full_ranking(
            lambda rows: scores[rows],
            relevant,
            excluded,
            10,
            batch_size=7,
            on_top_k=lambda rows, index, valid: seen_order.append(rows[0]),
            threads=threads,
        ), list(seen_order)

    (one, recommended_one), order_one = run(1)
    (many, recommended_many), order_many = run(3)
    for name in one:
        np.testing.assert_array_equal(one[name], many[name])
    np.testing.assert_array_equal(recommended_one, recommended_many)
    assert order_one == order_many == list(range(0, 50, 7))  # callbacks in batch order
