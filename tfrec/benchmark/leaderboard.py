"""From the runs (model x seed) to the leaderboard: one row per model.

Each metric of a row is the mean over seeds, with

* ``<metric>_users_low/_high``: the 95% bootstrap interval over users of
  that mean (per-user values averaged over seeds, users resampled);
* ``<metric>_seeds_low/_high``: the 95% Student-t interval over seeds of
  the per-seed values (absent for a single fit).

Coverage@10 is a catalogue-level figure and has only the interval over
seeds; train seconds, peak RSS and export size likewise. Rows are sorted by
the main metric, NDCG@10; every other model is compared with the best by
a paired bootstrap over users of the per-user NDCG@10 difference
(Holm-adjusted over the models compared), and marked
``worse_than_best`` when that adjusted p-value is below 0.05.
"""

from __future__ import annotations

import numpy as np

from tfrec.benchmark import stats

MAIN = "ndcg@10"
RANKING = ("ndcg@10", "hr@10", "precision@10", "recall@10", "map@10")
RATING = ("rmse", "mae")
LABELS = {  # display names of the metrics, for the tables and the plots
    "ndcg@10": "NDCG@10",
    "hr@10": "HR@10",
    "precision@10": "Precision@10",
    "recall@10": "Recall@10",
    "map@10": "MAP@10",
    "coverage@10": "coverage@10",
    "rmse": "RMSE",
    "mae": "MAE",
}
COSTS = ("train_seconds", "peak_rss_mb", "export_mb")
ALPHA = 0.05
_COLUMN = {
    "hr@10": "hr",
    "precision@10": "precision",
    "recall@10": "recall",
    "ndcg@10": "ndcg",
    "map@10": "ap",
}
_CURVE_POINTS = 101


def build_leaderboard(runs: list[dict], n_boot: int = 1000, seed: int = 0) -> dict:
    """The leaderboard of a set of runs.

    Args:
        runs: Worker results (``tfrec.benchmark.worker``) with their per-user
            ``arrays``, or ``{"model", "seed", "error"}`` for failed runs.
        n_boot: Bootstrap resamples.
        seed: Seed of the resampling (the same resamples for every model).

    Returns:
        A JSON-ready dict: ``rows`` (best first), ``runs`` (one record per
        fit, without per-user arrays), ``ndcg_curves``, ``popularity``,
        ``histories`` and ``notes``.
    """
    groups: dict[str, list[dict]] = {}
    for run in runs:
        if "error" not in run:
            groups.setdefault(run["model"], []).append(run)
    failed = sorted({r["model"] for r in runs if "error" in r})
    notes = [
        f"{name}: {sum(r['model'] == name and 'error' in r for r in runs)} run(s) failed "
        f"({next(r['error'] for r in runs if r['model'] == name and 'error' in r)})"
        for name in failed
    ]
    rows, main_values = [], {}
    for name, group in groups.items():
        row, main_values[name] = _row(name, group, n_boot, seed)
        rows.append(row)
    rows.sort(key=lambda r: -r[MAIN] if r[MAIN] is not None else np.inf)
    _compare_with_best(rows, main_values, n_boot, seed)
    for rank, row in enumerate(rows, 1):
        row["rank"] = rank
    popularity = _popularity(groups)
    for row in rows:
        row["rec_popularity"] = popularity["models"][row["model"]]["mean_popularity"]
    return {
        "main_metric": MAIN,
        "alpha": ALPHA,
        "rows": rows,
        "runs": [_run_record(r) for r in runs],
        "ndcg_curves": {
            name: np.mean([r["ndcg_curve"] for r in group], axis=0).tolist()
            for name, group in groups.items()
        },
        "popularity": popularity,
        "histories": {
            name: {"history": group[0]["history"], "best_epoch": group[0]["best_epoch"]}
            for name, group in groups.items()
            if group[0]["history"]
        },
        "notes": notes,
    }


def _aligned(group: list[dict], ids_key: str) -> tuple[np.ndarray, list[np.ndarray]]:
    """The users every run of a model has, and each run's positions of them."""
    common = group[0]["arrays"][ids_key]
    for run in group[1:]:
        common = np.intersect1d(common, run["arrays"][ids_key])
    return common, [np.searchsorted(r["arrays"][ids_key], common) for r in group]


def _row(name: str, group: list[dict], n_boot: int, seed: int) -> tuple[dict, tuple]:
    first = group[0]
    row = {
        "model": name,
        "fits": len(group),
        "seeds": [r["seed"] for r in group],
        "predicts_ratings": first["predicts_ratings"],
    }
    users, positions = _aligned(group, "user_ids")
    row["n_users"] = int(len(users))
    main = None
    for metric in RANKING:
        column = _COLUMN[metric]
        values = np.stack([r["arrays"][column][p] for r, p in zip(group, positions, strict=True)])
        mean, low, high = stats.mean_ci_over_users(values, n_boot, seed)
        _put(row, metric, mean, (low, high), _seed_ci(group, metric))
        if metric == MAIN:
            main = (users, values.mean(axis=0))
    coverage = stats.ci_over_seeds([r["metrics"]["coverage@10"] for r in group])
    _put(row, "coverage@10", coverage[0], None, coverage[1:])
    if first["predicts_ratings"] and "rating_user_ids" in first["arrays"]:
        rating_users, rating_positions = _aligned(group, "rating_user_ids")
        counts = first["arrays"]["rating_n"][rating_positions[0]]
        row["n_rating_users"] = int(len(rating_users))
        row["n_rating_pairs"] = int(counts.sum())
        for metric, key, root in (("rmse", "rating_sse", True), ("mae", "rating_sae", False)):
            sums = np.stack(
                [r["arrays"][key][p] for r, p in zip(group, rating_positions, strict=True)]
            )
            mean, low, high = stats.error_ci_over_users(sums, counts, root, n_boot, seed)
            _put(row, metric, mean, (low, high), _seed_ci(group, metric))
    else:
        for metric in RATING:
            _put(row, metric, None, None, None)
    for cost in COSTS:
        values = [r[cost] for r in group if r[cost] is not None]
        mean, low, high = stats.ci_over_seeds(values) if values else (None, None, None)
        _put(row, cost, mean, None, (low, high) if values else None)
    epochs = [r["best_epoch"] for r in group if r["best_epoch"]]
    row["epochs"] = epochs or None
    row["config"] = first["config"]
    return row, main


def _seed_ci(group: list[dict], metric: str) -> tuple[float, float]:
    return stats.ci_over_seeds([r["metrics"].get(metric, np.nan) for r in group])[1:]


def _put(row: dict, metric: str, mean, users_ci, seeds_ci) -> None:
    row[metric] = _finite(mean)
    if users_ci is not None or metric in RANKING + RATING:
        low, high = users_ci if users_ci is not None else (None, None)
        row[f"{metric}_users_low"], row[f"{metric}_users_high"] = _finite(low), _finite(high)
    low, high = seeds_ci if seeds_ci is not None else (None, None)
    row[f"{metric}_seeds_low"], row[f"{metric}_seeds_high"] = _finite(low), _finite(high)


def _finite(value):
    if value is None:
        return None
    value = float(value)
    return value if np.isfinite(value) else None


def _compare_with_best(rows: list[dict], main_values: dict, n_boot: int, seed: int) -> None:
    """Paired bootstrap of every model against the best on the main metric."""
    if not rows:
        return
    best = rows[0]["model"]
    best_users, best_values = main_values[best]
    tests = []
    for row in rows[1:]:
        users, values = main_values[row["model"]]
        common, in_best, in_other = np.intersect1d(
            best_users, users, assume_unique=True, return_indices=True
        )
        test = stats.paired_test(best_values[in_best], values[in_other], n_boot, seed)
        test["n_users"] = int(len(common))
        tests.append(test)
    adjusted = stats.holm([t["p"] for t in tests])
    key = f"{MAIN}_vs_best"
    rows[0].update(
        {key: 0.0, f"{key}_low": None, f"{key}_high": None, "p_value": None, "p_holm": None}
    )
    rows[0]["worse_than_best"] = False
    for row, test, p_holm in zip(rows[1:], tests, adjusted, strict=True):
        row[key] = _finite(-test["diff"])  # this model minus the best
        row[f"{key}_low"], row[f"{key}_high"] = _finite(-test["high"]), _finite(-test["low"])
        row["p_value"], row["p_holm"] = _finite(test["p"]), _finite(p_holm)
        row["worse_than_best"] = bool(np.isfinite(p_holm) and p_holm < ALPHA and test["diff"] > 0)
    for row in rows:
        row["best_model"] = best


def _popularity(groups: dict[str, list[dict]]) -> dict:
    """Recommended-item popularity against the catalogue's.

    Items are sorted from most to least rated in training; for each model,
    the cumulative share of its top-10 recommendations (all users, all
    seeds) going to the most popular x% of the catalogue, beside the same
    curve for the training ratings themselves and the uniform diagonal.
    """
    if not groups:
        return {"x": [], "training": [], "catalogue_mean_popularity": None, "models": {}}
    popularity = next(iter(groups.values()))[0]["arrays"]["popularity"]
    order = np.argsort(-popularity, kind="stable")
    n = len(order)
    at = np.unique(np.linspace(0, n - 1, min(_CURVE_POINTS, n)).round().astype(np.int64))

    def cumulative(counts):
        total = counts.sum()
        shares = np.cumsum(counts[order]) / total if total else np.zeros(n)
        return shares[at].round(5).tolist()

    models = {}
    for name, group in groups.items():
        recommended = np.sum([r["arrays"]["recommended"] for r in group], axis=0).astype(np.float64)
        total = recommended.sum()
        models[name] = {
            "curve": cumulative(recommended),
            "mean_popularity": float(recommended @ popularity / total) if total else None,
        }
    return {
        "x": ((at + 1) / n).round(5).tolist(),
        "training": cumulative(popularity),
        "catalogue_mean_popularity": float(popularity.mean()),
        "models": models,
    }


def _run_record(run: dict) -> dict:
    """A run without its per-user arrays, curve and history (for leaderboard.json)."""
    if "error" in run:
        return {"model": run["model"], "seed": run["seed"], "error": run["error"]}
    keep = (
        "model",
        "seed",
        "metrics",
        "train_seconds",
        "eval_seconds",
        "peak_rss_mb",
        "export_mb",
        "best_epoch",
        "config",
    )
    return {k: run[k] for k in keep}
