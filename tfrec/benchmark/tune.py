"""``--tune``: a small grid per model, scored on the validation split only.

Every point of a model's grid (the product of its option lists, which
always include the model's default) is fitted on train with the first
seed, with early stopping on validation as usual, and scored on
validation by :func:`tfrec.evaluate` (``part="validation"``: candidates are
all items but the user's training items, relevant are their validation
items). The point with the best validation NDCG@10 is then used for every
seed; test ratings are never read. Models without a grid keep their
defaults.
"""

from __future__ import annotations

import itertools

from tfrec.models import model_class


def grid(name: str) -> dict[str, list]:
    """The model's ``tuning_grid`` (beside its config): option -> values.

    Options not in it keep the model's defaults (tuned on validation by hand
    for the model issues); each list includes the default value.
    """
    return dict(model_class(name).Config.tuning_grid)


TUNE_METRIC = "ndcg@10"  # higher is better


def grid_points(name: str, base: dict | None = None) -> list[dict]:
    """Every config of the model's grid on top of ``base`` (user options).

    Options the user set explicitly are not searched. A model without a
    grid gives one point, ``base`` itself.
    """
    base = dict(base or {})
    searched = {k: v for k, v in grid(name).items() if k not in base}
    if not searched:
        return [base]
    keys = list(searched)
    return [
        {**base, **dict(zip(keys, values, strict=True))}
        for values in itertools.product(*searched.values())
    ]


def choose(points: list[dict]) -> dict:
    """The point with the best validation score (the first on ties).

    Args:
        points: ``[{"config": {...}, "validation": {"ndcg@10": ...}}, ...]``.
    """
    scores = [p["validation"].get(TUNE_METRIC, float("nan")) for p in points]
    finite = [(s, i) for i, s in enumerate(scores) if s == s]
    best = max(finite, key=lambda pair: (pair[0], -pair[1]))[1] if finite else 0
    return points[best]
