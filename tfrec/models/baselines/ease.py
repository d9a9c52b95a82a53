"""EASE^R (Steck 2019): a closed-form linear item-item model for implicit feedback.

With X the (n_users, n_items) training matrix (1 where the user rated the
item, or the rating itself with ``use_ratings``), EASE learns item-item
weights

    B = argmin_B ||X - X B||_F^2 + l2 ||B||_F^2   subject to diag(B) = 0

whose closed form, with P = (X^T X + l2 I)^-1, is

    B_ij = -P_ij / P_jj   (i != j),     B_jj = 0

    score(u, j) = sum_i X_ui B_ij = (X_u B)_j

P is computed in float64 by LAPACK's Cholesky routines (potrf, potri), three
times faster than ``tf.linalg`` here (26 s against 84 s for ml-latest-small's
8,255 training items, two busy cores; ``tf.linalg.eigh`` took 728 s). Unless
``l2`` is set, it is the value of ``L2_GRID`` whose dense B has the best
validation NDCG@10, one inversion per value.

Each column of B then keeps only its ``top_weights`` largest |B_ij|: that
sparse B is what numpy and the SavedModel both score with. On ml-latest-small's
temporal split (l2 = 200 chosen) it gives HR@10 0.311 and NDCG@10 0.0688
(dense B: 0.309, 0.0682), and 0.372 and 0.0843 with ``--refit`` (dense: 0.357,
0.0797). The fit holds dense n_items x n_items matrices, so it refuses
catalogues whose estimate exceeds ``max_memory_gb``.

Reference: H. Steck, "Embarrassingly Shallow Autoencoders for Sparse Data",
WWW 2019.
"""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import scipy.sparse as sp
from scipy.linalg import lapack

from tfrec.errors import ConfigError, TfrecError, check_positive, check_positive_int
from tfrec.models.base import ModelConfig, Recommender
from tfrec.topk import top_k

L2_GRID = (50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0)
DEFAULT_L2 = 500.0  # when the split has no validation ratings (Steck's ML-20M value)
BYTES_PER_ITEM_PAIR = 24  # float64 Gram matrix and inverse, float32 B and best B so far
_BLOCK = 1024  # rows of B built, or columns pruned, at once


@dataclasses.dataclass
class EASEConfig(ModelConfig):
    """Options of EASE.

    Attributes:
        l2: The L2 penalty lambda; None chooses it from ``L2_GRID`` on
            validation NDCG@10.
        use_ratings: X holds the ratings instead of 1 per rated item.
        top_weights: Weights kept per column of B (per scored item).
        max_memory_gb: Largest estimated memory of the dense matrices
            (``BYTES_PER_ITEM_PAIR`` per item pair); None: half of this
            machine's RAM.
    """

    l2: float | None = None
    use_ratings: bool = False
    top_weights: int = 500
    max_memory_gb: float | None = None

    def validate(self):
        if self.l2 is not None:
            check_positive("l2", self.l2)
        check_positive_int("top_weights", self.top_weights)
        if self.max_memory_gb is not None:
            check_positive("max_memory_gb", self.max_memory_gb)


def check_memory(n_items: int, max_memory_gb: float | None) -> None:
    """Raises ConfigError when the dense fit of ``n_items`` items would not fit."""
    needed = BYTES_PER_ITEM_PAIR * n_items**2 / 1e9
    if max_memory_gb is not None:
        limit, source = max_memory_gb, "max_memory_gb"
    else:
        try:
            limit = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2e9
        except (AttributeError, ValueError, OSError):  # no sysconf: no limit
            return
        source = "half of this machine's RAM"
    if needed > limit:
        raise ConfigError(
            f"ease needs about {needed:.1f} GB for its dense {n_items:,} x {n_items:,} item "
            f"matrices, more than {limit:.1f} GB ({source}); keep fewer items with "
            "--min-item-interactions N (items rated fewer than N times are dropped) "
            "or raise max_memory_gb"
        )


def gram_matrix(x: sp.csr_matrix) -> np.ndarray:
    """X^T X as a dense float64 array in Fortran order (for LAPACK)."""
    x = x.astype(np.float64)
    return (x.T @ x).toarray(order="F")


def ease_matrix(gram: np.ndarray, l2: float) -> np.ndarray:
    """The closed-form B for ``gram`` = X^T X.

    Returns:
        (n_items, n_items) float32 array; entry (i, j) is B_ij.
    """
    n = len(gram)
    a = gram.copy(order="F")
    a[np.diag_indices(n)] += l2
    factor, info = lapack.dpotrf(a, lower=True, overwrite_a=True)
    if info == 0:
        inverse, info = lapack.dpotri(factor, lower=True, overwrite_c=True)
    if info != 0:
        raise TfrecError(f"X^T X + l2 I is not positive definite (LAPACK info {info}); raise l2")
    diagonal = inverse.diagonal().copy()
    b = np.empty((n, n), np.float32)
    for start in range(0, n, _BLOCK):
        rows = np.arange(start, min(start + _BLOCK, n))
        # Rows i of P; potri filled only its lower triangle, the (i, j) with i >= j.
        upper = np.arange(n)[None, :] > rows[:, None]
        b[rows] = -np.where(upper, inverse[:, rows].T, inverse[rows, :]) / diagonal[None, :]
        b[rows, rows] = 0.0
    return b


def prune(b: np.ndarray, top_weights: int) -> sp.csr_matrix:
    """``b`` with each column's ``top_weights`` largest |B_ij| kept (ties to the lower i)."""
    n = len(b)
    k = min(top_weights, n - 1)
    sources, targets = [], []
    for start in range(0, n, _BLOCK):
        columns = np.abs(b[:, start : start + _BLOCK].T)  # one row per column j
        index, _ = top_k(columns, k)
        sources.append(index.ravel())
        targets.append(np.repeat(np.arange(start, start + len(columns)), k))
    sources, targets = np.concatenate(sources), np.concatenate(targets)
    pruned = sp.csr_matrix((b[sources, targets], (sources, targets)), shape=(n, n))
    pruned.eliminate_zeros()
    pruned.sort_indices()
    return pruned


class EASE(Recommender):
    """Steck's EASE^R: a ridge regression of each item on all others (a ranking model)."""

    name = "ease"
    Config = EASEConfig
    chosen_on_validation = ("l2",)
    predicts_ratings = False
    parallel_scoring = True

    def _fit(self, data, split, options) -> None:
        check_memory(len(data.item_ids), self.config.max_memory_gb)
        gram = gram_matrix(self._inputs(data.matrix))
        if self.config.l2 is not None:
            self.l2_ = float(self.config.l2)
            b = ease_matrix(gram, self.l2_)
        else:
            self.l2_, b = self._choose_l2(gram, split.validation, options.verbose)
        del gram
        self.weights_ = prune(b, self.config.top_weights)

    def _choose_l2(self, gram, validation, verbose: bool) -> tuple[float, np.ndarray]:
        """The grid's l2 whose dense B has the best validation NDCG@10, and that B."""
        from tfrec.models.training.ranking_stopping import ValidationRanking

        ranking = ValidationRanking(self, validation, None, None)
        if not ranking.active:
            return DEFAULT_L2, ease_matrix(gram, DEFAULT_L2)
        best, ndcg = None, {}
        for l2 in L2_GRID:
            b = ease_matrix(gram, l2)
            scores = ranking.measure(lambda rows, b=b: self._inputs(self.seen_[rows]) @ b)
            ndcg[l2] = scores["val_ndcg@10"]
            if best is None or ndcg[l2] > ndcg[best[0]]:
                best = (l2, b)
            del b  # freed before the next inversion
        if verbose:
            tried = ", ".join(f"{l2:g}: {value:.4f}" for l2, value in ndcg.items())
            print(f"l2 {best[0]:g} chosen on validation NDCG@10 of the dense B ({tried})")
        return best

    def refit_options(self) -> dict:
        return {"l2": self.l2_}

    def _inputs(self, matrix: sp.csr_matrix) -> sp.csr_matrix:
        """Rows of X: the ratings, or 1 per rated item."""
        x = matrix.astype(np.float32)
        if not self.config.use_ratings:
            x.data[:] = 1.0
        return x

    def _score(self, users):
        return (self._inputs(self.seen_[users]) @ self.weights_).toarray()

    def serving_scorer(self, seen):
        from tfrec.models.scorers import SparseProductScorer

        return SparseProductScorer(seen, [self.weights_], binary=not self.config.use_ratings)

    def _arrays(self):
        w = self.weights_
        l2 = np.float64(self.l2_)
        return {"data": w.data, "indices": w.indices, "indptr": w.indptr, "l2": l2}

    def _load_arrays(self, arrays):
        n = len(self.item_ids_)
        weights = (arrays["data"], arrays["indices"], arrays["indptr"])
        self.weights_ = sp.csr_matrix(weights, shape=(n, n))
        self.l2_ = float(arrays["l2"])
