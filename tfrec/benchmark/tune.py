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

# Options not in a grid keep the model's defaults (tuned on validation by hand
# for the model issues); each grid includes the default value.
GRIDS: dict[str, dict[str, list]] = {
    "bias": {"reg_user": [5.0, 15.0, 25.0], "reg_item": [5.0, 10.0, 25.0]},
    "svd": {"k": [20, 50, 100]},
    "itemknn": {"n_neighbors": [10, 20, 50]},
    "mf": {"n_factors": [32, 64], "l2": [0.05, 0.15]},
    "dnn": {"embedding_dim": [32, 64], "dropout": [0.1, 0.3]},
    "hybrid": {"text_encoder": ["word2vec", "tfidf-svd"]},
    "gmf": {"embedding_dim": [32, 64], "negatives": [4, 8]},
    "two_tower": {"embedding_dim": [64, 128], "history_decay": [0.8, 0.9]},
    "lstm": {"units": [64, 128]},
    "lstm_retrieval": {"history": [10, 20]},
    "surprise_baseline": {"reg_u": [5.0, 15.0], "reg_i": [5.0, 10.0]},
    "surprise_svd": {"n_factors": [50, 100], "reg_all": [0.02, 0.05]},
    "surprise_svdpp": {"n_factors": [10, 20]},
    "implicit_als": {"factors": [64, 100], "regularization": [0.01, 0.1], "alpha": [1.0, 10.0]},
    "implicit_bpr": {"factors": [64, 100], "learning_rate": [0.01, 0.05]},
}
TUNE_METRIC = "ndcg@10"  # higher is better


def grid_points(name: str, base: dict | None = None) -> list[dict]:
    """Every config of the model's grid on top of ``base`` (user options).

    Options the user set explicitly are not searched. A model without a
    grid gives one point, ``base`` itself.
    """
    base = dict(base or {})
    grid = {k: v for k, v in GRIDS.get(name, {}).items() if k not in base}
    if not grid:
        return [base]
    keys = list(grid)
    return [
        {**base, **dict(zip(keys, values, strict=True))}
        for values in itertools.product(*grid.values())
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
