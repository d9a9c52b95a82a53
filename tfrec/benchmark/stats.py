"""Confidence intervals and the paired test of the leaderboard (numpy only).

* Over users: a percentile bootstrap. Users are resampled with replacement
  (the same resamples for every model, from one seeded generator), and the
  statistic (e.g. the mean over seeds of NDCG@10, or of RMSE over the
  resampled users' test pairs) is recomputed on each resample.
* Over seeds: a Student-t interval of the per-seed values.
* Against the best model: a paired bootstrap over users of the mean
  per-user difference, two-sided p-values Holm-adjusted over the models
  compared.

Resamples are drawn in chunks of whole index matrices; nothing loops over
users.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

LEVEL = 0.95
_CHUNK_CELLS = 4_000_000  # index-matrix cells per chunk (bounds memory)


def bootstrap(
    statistic: Callable[[np.ndarray], np.ndarray],
    n: int,
    n_boot: int = 1000,
    seed: int = 0,
    weight: int = 1,
) -> np.ndarray:
    """The statistic on ``n_boot`` resamples of ``n`` users.

    Args:
        statistic: ``statistic(index)`` maps an (m, n) matrix of resampled
            user positions to the m values of the statistic.
        n: Number of users.
        n_boot: Number of resamples.
        seed: Seed of the resampling; the same seed gives the same resamples.
        weight: Memory per index cell that ``statistic`` needs (e.g. the
            number of seeds), to size the chunks.

    Returns:
        (n_boot,) float64.
    """
    rng = np.random.default_rng(seed)
    chunk = max(1, _CHUNK_CELLS // max(1, n * weight))
    out = np.empty(n_boot, dtype=np.float64)
    for start in range(0, n_boot, chunk):
        m = min(chunk, n_boot - start)
        out[start : start + m] = statistic(rng.integers(0, n, size=(m, n)))
    return out


def percentile_interval(samples: np.ndarray, level: float = LEVEL) -> tuple[float, float]:
    """The central ``level`` percentile interval of bootstrap samples."""
    samples = np.asarray(samples, dtype=np.float64)
    samples = samples[np.isfinite(samples)]
    if len(samples) == 0:
        return float("nan"), float("nan")
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(samples, [tail, 100.0 - tail])
    return float(low), float(high)


def mean_ci_over_users(
    values: np.ndarray, n_boot: int = 1000, seed: int = 0
) -> tuple[float, float, float]:
    """Mean over seeds and users of per-user values, with its bootstrap CI over users.

    Args:
        values: (n_seeds, n_users) per-user metric values, users aligned.

    Returns:
        (mean, low, high).
    """
    values = np.atleast_2d(np.asarray(values, dtype=np.float64))
    if values.shape[1] == 0:
        return float("nan"), float("nan"), float("nan")
    per_user = values.mean(axis=0)  # the mean over seeds is linear: average users first
    samples = bootstrap(lambda index: per_user[index].mean(axis=1), len(per_user), n_boot, seed)
    return (float(per_user.mean()), *percentile_interval(samples))


def error_ci_over_users(
    error_sums: np.ndarray, counts: np.ndarray, root: bool, n_boot: int = 1000, seed: int = 0
) -> tuple[float, float, float]:
    """RMSE (``root``) or MAE over test pairs, mean over seeds, with its CI over users.

    Args:
        error_sums: (n_seeds, n_users) per-user sums of squared (RMSE) or
            absolute (MAE) errors.
        counts: (n_users,) test pairs per user.
        root: Take the square root (RMSE).

    Returns:
        (mean over seeds, low, high).
    """
    sums = np.atleast_2d(np.asarray(error_sums, dtype=np.float64))
    counts = np.asarray(counts, dtype=np.float64)
    if sums.shape[1] == 0:
        return float("nan"), float("nan"), float("nan")
    transform = np.sqrt if root else (lambda x: x)

    def statistic(index):
        # (n_seeds, m) per-seed errors on each resample, then the mean over seeds.
        return transform(sums[:, index].sum(axis=-1) / counts[index].sum(axis=-1)).mean(axis=0)

    point = float(transform(sums.sum(axis=1) / counts.sum()).mean())
    samples = bootstrap(statistic, sums.shape[1], n_boot, seed, weight=len(sums))
    return (point, *percentile_interval(samples))


def ci_over_seeds(values, level: float = LEVEL) -> tuple[float, float, float]:
    """Mean of per-seed values and its Student-t interval; (mean, nan, nan) for one seed."""
    from scipy import stats

    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return float("nan"), float("nan"), float("nan")
    mean = float(values.mean())
    if len(values) < 2:
        return mean, float("nan"), float("nan")
    half = float(stats.t.ppf(0.5 + level / 2.0, len(values) - 1) * values.std(ddof=1))
    half /= np.sqrt(len(values))
    return mean, mean - half, mean + half


def paired_test(
    best: np.ndarray, other: np.ndarray, n_boot: int = 1000, seed: int = 0
) -> dict[str, float]:
    """Paired bootstrap over users of ``mean(best - other)``.

    Args:
        best, other: (n_users,) per-user values of two models on the same users.

    Returns:
        ``diff`` (mean difference), ``low``/``high`` (its percentile CI) and
        ``p`` (two-sided: the share of resampled differences, shifted to
        the null of no difference, at least as far from 0 as ``diff``).
    """
    diff = np.asarray(best, dtype=np.float64) - np.asarray(other, dtype=np.float64)
    if len(diff) == 0:
        return {"diff": float("nan"), "low": float("nan"), "high": float("nan"), "p": float("nan")}
    observed = float(diff.mean())
    samples = bootstrap(lambda index: diff[index].mean(axis=1), len(diff), n_boot, seed)
    low, high = percentile_interval(samples)
    extreme = np.abs(samples - observed) >= abs(observed) - 1e-15
    # Add-one estimate: never report p = 0 from a finite number of resamples.
    p = (extreme.sum() + 1.0) / (len(samples) + 1.0) if observed != 0 else 1.0
    return {"diff": observed, "low": low, "high": high, "p": float(p)}


def holm(p_values) -> np.ndarray:
    """Holm-Bonferroni adjusted p-values (NaN stays NaN)."""
    p = np.asarray(p_values, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    ok = np.flatnonzero(np.isfinite(p))
    if len(ok) == 0:
        return out
    order = ok[np.argsort(p[ok], kind="stable")]
    scaled = p[order] * (len(order) - np.arange(len(order)))
    out[order] = np.minimum(np.maximum.accumulate(scaled), 1.0)
    return out
