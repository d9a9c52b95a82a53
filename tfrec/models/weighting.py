"""The strength of an interaction (play count, hours, quantity) as confidence.

A log may carry a non-negative strength per (user, item) pair: the number of
times it occurred (``--duplicates count``) or a mapped ``weight`` column
(plays, hours, quantity, dwell time). Implicit models read it as the
confidence of Hu, Koren & Volinsky (2008), with the log scaling of their
section 4:

    c_ui = 1 + alpha * log(1 + w_ui / eps)        (weighting="log")
    c_ui = 1 + alpha * w_ui                       (weighting="raw")
    c_ui = 1                                      (weighting="binary")

A pair without a strength has w = 1. Each model says in its docstring where
``c`` enters (a matrix entry, an example weight, a popularity sum).

Reference: Y. Hu, Y. Koren and C. Volinsky, "Collaborative Filtering for
Implicit Feedback Datasets", ICDM 2008.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from tfrec.errors import check_choice, check_non_negative, check_positive

WEIGHTINGS = ("binary", "log", "raw")


def check_weighting(weighting: str, alpha: float, eps: float) -> None:
    """Raises ConfigError for an unknown scaling or a bad alpha / eps."""
    check_choice("weighting", weighting, WEIGHTINGS)
    check_non_negative("alpha", alpha)
    check_positive("eps", eps)


def confidence(
    weights: np.ndarray | None, n: int, weighting: str = "log", alpha: float = 1.0, eps: float = 1.0
) -> np.ndarray:
    """Per-interaction confidence ``c`` (float32) of the formula above.

    Args:
        weights: Per-interaction strengths (non-negative), or None: all 1.
        n: Number of interactions (the length when ``weights`` is None).
        weighting: ``log``, ``raw`` or ``binary``.
        alpha: Scale of the strength's contribution.
        eps: Strength unit of the log scaling.
    """
    check_weighting(weighting, alpha, eps)
    if weights is None or weighting == "binary":
        return np.ones(n, np.float32)
    w = np.asarray(weights, np.float64)
    if weighting == "log":
        return (1.0 + alpha * np.log1p(w / eps)).astype(np.float32)
    return (1.0 + alpha * w).astype(np.float32)


def confidence_matrix(
    data, weighting: str = "log", alpha: float = 1.0, eps: float = 1.0
) -> sp.csr_matrix:
    """The (n_users, n_items) CSR matrix of each training interaction's ``c``.

    Args:
        data: The fit's :class:`~tfrec.models.base.Interactions` (its
            ``weights``, ``users``, ``items`` and ``matrix`` shape).
        weighting, alpha, eps: As in :func:`confidence`.
    """
    c = confidence(data.weights, len(data.users), weighting, alpha, eps)
    matrix = sp.csr_matrix((c, (data.users, data.items)), shape=data.matrix.shape)
    matrix.sort_indices()
    return matrix
