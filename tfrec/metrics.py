"""Metric formulas (numpy only). The protocol that feeds them is in
:mod:`tfrec.evaluation`.

Top-N metrics take ``hits``, a (n_users, K) boolean matrix (``hits[u, j]``:
the j-th recommendation of user u is relevant) and ``n_relevant``, each user's
number of relevant items. With ``m = min(n_relevant, K)``:

* HR@K = 1 if any hit
* Precision@K = hits / K
* Recall@K = hits / m
* NDCG@K = sum_j hit_j / log2(j + 2) divided by the ideal sum over m hits
* AP@K = sum_j Precision@(j+1) * hit_j / m  (MAP@K is its mean over users)
"""

from __future__ import annotations

import collections
import concurrent.futures
import os

import numpy as np
import scipy.sparse as sp

from tfrec.topk import exclude, top_k

# Batches that full_ranking ranks at once for thread-safe scorers (numpy models);
# each holds a (batch, n_items) score matrix.
RANKING_THREADS = min(2, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)
# Scores held per batch of full_ranking (64M float32: 256 MB), whatever the catalogue size.
MAX_BATCH_SCORES = 1 << 26


def rmse(predicted, actual) -> float:
    """Root mean squared error."""
    error = np.asarray(predicted, np.float64) - np.asarray(actual, np.float64)
    return float(np.sqrt(np.mean(error**2))) if len(error) else float("nan")


def mae(predicted, actual) -> float:
    """Mean absolute error."""
    error = np.asarray(predicted, np.float64) - np.asarray(actual, np.float64)
    return float(np.mean(np.abs(error))) if len(error) else float("nan")


def ranking_metrics(hits: np.ndarray, n_relevant: np.ndarray) -> dict[str, np.ndarray]:
    """Per-user HR, precision, recall, NDCG and AP at K = hits.shape[1].

    Args:
        hits: (n_users, K) boolean matrix, best-ranked first.
        n_relevant: (n_users,) number of relevant items per user (>= 1).

    Returns:
        Dict of per-user float64 arrays: ``hr``, ``precision``, ``recall``,
        ``ndcg``, ``ap``.
    """
    hits = np.asarray(hits, dtype=bool)
    k = hits.shape[1]
    m = np.minimum(np.asarray(n_relevant), k).astype(np.float64)
    m_safe = np.maximum(m, 1.0)
    n_hits = hits.sum(axis=1)
    discounts = 1.0 / np.log2(np.arange(k) + 2.0)
    dcg = hits @ discounts
    ideal = np.cumsum(discounts)[np.maximum(m.astype(np.int64), 1) - 1]
    precision_at = np.cumsum(hits, axis=1) / np.arange(1, k + 1)
    return {
        "hr": (n_hits > 0).astype(np.float64),
        "precision": n_hits / k,
        "recall": n_hits / m_safe,
        "ndcg": dcg / ideal,
        "ap": (precision_at * hits).sum(axis=1) / m_safe,
    }


def ndcg_curve(hits: np.ndarray, n_relevant: np.ndarray) -> np.ndarray:
    """Per-user NDCG@K for every K = 1 ... hits.shape[1] at once.

    Args:
        hits: (n_users, K) boolean matrix, best-ranked first.
        n_relevant: (n_users,) number of relevant items per user (>= 1).

    Returns:
        (n_users, K) float64; column ``j`` is NDCG@(j + 1), equal to
        :func:`ranking_metrics`'s ``ndcg`` on ``hits[:, : j + 1]``.
    """
    hits = np.asarray(hits, dtype=bool)
    k = hits.shape[1]
    discounts = 1.0 / np.log2(np.arange(k) + 2.0)
    dcg = np.cumsum(hits * discounts, axis=1)
    m = np.minimum(np.asarray(n_relevant)[:, None], np.arange(1, k + 1)[None, :])
    return dcg / np.cumsum(discounts)[np.maximum(m, 1) - 1]


def sampled_rank_metrics(positive: np.ndarray, negatives: np.ndarray, k: int) -> dict:
    """HR@K and NDCG@K of one positive among sampled negatives (the NCF protocol).

    Ties count against the positive, so a constant scorer gets 0.

    Args:
        positive: (n_users,) score of each user's held-out item.
        negatives: (n_users, n_negatives) scores of sampled unseen items.
        k: Cut-off.
    """
    rank = (negatives >= positive[:, None]).sum(axis=1)
    hit = rank < k
    return {"hr": hit.astype(np.float64), "ndcg": np.where(hit, 1.0 / np.log2(rank + 2.0), 0.0)}


def full_ranking(
    score_rows,
    relevant: sp.csr_matrix,
    excluded: sp.csr_matrix,
    k: int,
    batch_size: int = 1024,
    on_top_k=None,
    threads: int = 1,
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Top-``k`` ranking metrics over the whole catalogue, a batch of rows at a time.

    Args:
        score_rows: ``score_rows(rows) -> (len(rows), n_items)`` scores.
        relevant: (n_rows, n_items) matrix of each row's relevant items.
        excluded: (n_rows, n_items) matrix of items never to rank (seen ones).
        k: Cut-off.
        batch_size: Rows scored at once (fewer when that many rows would hold
            more than ``MAX_BATCH_SCORES`` scores).
        on_top_k: Optional ``on_top_k(rows, index, valid)`` called with each
            batch's top-k item indices (and which of them are real items),
            batch by batch in order.
        threads: Batches scored and ranked at once, on threads (numpy
            releases the GIL in the heavy parts); ``score_rows`` must then be
            thread-safe.

    Returns:
        (per-row metric arrays as in :func:`ranking_metrics`, boolean mask of
        the items recommended to anyone).
    """
    n_rows, n_items = relevant.shape
    n_relevant = np.diff(relevant.indptr)
    # Bounded memory on large catalogues: at most MAX_BATCH_SCORES scores per batch.
    batch_size = min(batch_size, max(16, MAX_BATCH_SCORES // max(n_items, 1)))

    def rank(block):
        scores = exclude(np.asarray(score_rows(block), dtype=np.float32), excluded, block)
        index, values = top_k(scores, k)
        valid = np.isfinite(values)
        hits = contains(relevant[block], index) & valid
        if hits.shape[1] < k:  # catalogue smaller than k
            hits = np.pad(hits, ((0, 0), (0, k - hits.shape[1])))
        return block, index, valid, ranking_metrics(hits, n_relevant[block])

    parts = {name: [] for name in ("hr", "precision", "recall", "ndcg", "ap")}
    recommended = np.zeros(n_items, dtype=bool)
    blocks = [np.arange(s, min(s + batch_size, n_rows)) for s in range(0, n_rows, batch_size)]
    for block, index, valid, metrics in _in_order(rank, blocks, threads):
        recommended[index[valid]] = True
        if on_top_k is not None:
            on_top_k(block, index, valid)
        for name, values in metrics.items():
            parts[name].append(values)
    columns = {name: np.concatenate(v) if v else np.empty(0) for name, v in parts.items()}
    return columns, recommended


def _in_order(function, items, threads: int):
    """``map(function, items)`` on ``threads`` threads, results in order, at most
    ``threads`` items in flight (numpy releases the GIL in the heavy parts:
    matrix products, partitions, comparisons)."""
    if threads <= 1 or len(items) <= 1:
        yield from map(function, items)
        return
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        pending = collections.deque()
        for item in items:
            pending.append(pool.submit(function, item))
            if len(pending) >= threads:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def contains(matrix: sp.csr_matrix, index: np.ndarray) -> np.ndarray:
    """``matrix[i, index[i, j]] != 0`` for every (i, j), without densifying the rows."""
    matrix = matrix.tocsr()
    matrix.sort_indices()
    n_columns = np.int64(matrix.shape[1])
    stored = np.repeat(np.arange(matrix.shape[0], dtype=np.int64), np.diff(matrix.indptr))
    keys = stored * n_columns + matrix.indices  # sorted: rows, then sorted columns
    wanted = np.arange(index.shape[0], dtype=np.int64)[:, None] * n_columns + index
    position = np.minimum(np.searchsorted(keys, wanted), max(len(keys) - 1, 0))
    return (keys[position] == wanted) if len(keys) else np.zeros(index.shape, bool)


def semantic_hits(
    index: np.ndarray, valid: np.ndarray, relevant: sp.csr_matrix, unit_vectors, threshold: float
) -> np.ndarray:
    """Whether any of each row's top-k items is "semantically" relevant: its
    vector's cosine to one of the row's relevant items is at least ``threshold``.

    Args:
        index: (n, k) recommended item indices; ``valid`` marks real ones.
        relevant: (n, n_items) relevant items of the same rows.
        unit_vectors: (n_items, d) L2-normalised item vectors.
        threshold: Cosine needed to count.

    Returns:
        (n,) bool.
    """
    rows = np.repeat(np.arange(relevant.shape[0]), np.diff(relevant.indptr))
    cosine = np.einsum("pd,pkd->pk", unit_vectors[relevant.indices], unit_vectors[index[rows]])
    pair_hit = ((cosine >= threshold) & valid[rows]).any(axis=1)
    out = np.zeros(relevant.shape[0], dtype=bool)
    np.logical_or.at(out, rows, pair_hit)
    return out
