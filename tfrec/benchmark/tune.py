"""``tfrec benchmark --tune``: each model's search on validation, first seed.

The machinery of ``tfrec train --tune`` (:mod:`tfrec.tuning.search`): the
model's search space (``Config.search_space()``, beside its config), the
defaults as the first trial, Optuna's TPE sampler seeded with the first
seed, each trial fitted on train (early stopping on validation as usual) and
scored by :func:`tfrec.evaluate` with ``part="validation"``. The benchmark
ranks every model by validation NDCG@10, and runs a fixed number of trials
rather than a time budget, so that a benchmark repeats: every setting of a
finite space (the ``tuning_grid``), or :data:`TRIALS` settings of a space
with ranges. The chosen setting is used for every seed; test ratings are
never read. Models without a space keep their defaults.
"""

from __future__ import annotations

from tfrec.models import model_class
from tfrec.tuning import space as space_

TUNE_METRIC = "ndcg@10"  # higher is better
TRIALS = 8  # trials of a space with ranges


def space(name: str, base: dict | None = None) -> dict:
    """The model's searched options (not those in ``base``), described:
    choices as lists, ranges as text."""
    return space_.describe(space_.searched(model_class(name).Config, base))


def n_trials(name: str, base: dict | None = None) -> int:
    """Trials of the model's search: 1 when there is nothing to search."""
    searched = space_.searched(model_class(name).Config, base)
    ranged = any(isinstance(v, space_.Range) for v in searched.values())
    return int(min(space_.size(searched), TRIALS) if ranged else space_.size(searched))


def run(job: dict, split) -> dict:
    """The worker's ``tune`` job: the search, as one point per trial.

    Returns:
        ``{"model", "seed", "points": [{"config", "validation", "seconds", "error"}]}``;
        ``validation`` holds :data:`TUNE_METRIC` (empty for a failed trial).
    """
    from tfrec.tuning.search import Search

    search = Search(
        job["model"],
        split,
        config=job["config"],
        seed=job["seed"],
        metric=TUNE_METRIC,
        say=print if job["verbose"] else _silent,
    ).run(n_trials=n_trials(job["model"], job["config"]))
    points = [
        {
            "config": {**job["config"], **trial.params},
            "validation": {} if trial.score is None else {TUNE_METRIC: trial.score},
            "seconds": trial.seconds,
            "error": trial.error,
        }
        for trial in search.trials
    ]
    return {"model": job["model"], "seed": job["seed"], "points": points}


def choose(points: list[dict]) -> dict:
    """The point with the best validation score (the first on ties).

    Args:
        points: ``[{"config": {...}, "validation": {"ndcg@10": ...}}, ...]``.
    """
    scores = [p["validation"].get(TUNE_METRIC, float("nan")) for p in points]
    finite = [(s, i) for i, s in enumerate(scores) if s == s]
    best = max(finite, key=lambda pair: (pair[0], -pair[1]))[1] if finite else 0
    return points[best]


def _silent(line: str) -> None:
    """Drops a progress line (a quiet benchmark)."""
