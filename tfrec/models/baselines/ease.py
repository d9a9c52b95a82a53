"""EASE^R (Steck 2019): a closed-form linear item-item model for implicit feedback.

With X the (n_users, n_items) training matrix, EASE learns item-item weights

    B = argmin_B ||X - X B||_F^2 + l2 ||B||_F^2   subject to diag(B) = 0

whose closed form, with P = (X^T X + l2 I)^-1, is

    B_ij = -P_ij / P_jj   (i != j),     B_jj = 0

    score(u, j) = sum_i X_ui B_ij = (X_u B)_j

X_ui is the confidence of the interaction (Hu, Koren & Volinsky 2008; see
:mod:`tfrec.models.weighting`), from the log's strength w_ui (play count,
hours, repeats) when it has one:

    X_ui = c_ui = 1 + alpha * log(1 + w_ui / eps)    (weighting="log")
    X_ui = 1                                         (weighting="binary")

or the rating itself with ``use_ratings``. Users are scored with the same X.

The fit is one Cholesky inversion (LAPACK potrf, potri) of the dense Gram
matrix, in float32, in place: P, then B, overwrite X^T X, so the fit holds
one n_items^2 float32 array. Unless ``l2`` is set, it is the value of
``L2_GRID`` whose B, fitted in float64 on the sub-Gram matrix of the
``choice_items`` most popular items (X restricted to them), ranks validation
best (NDCG@10 over those items); the full B is then factorised once. On
ml-latest-small (temporal split) this chooses the full grid's l2 (200) and
float32 gives the float64 figures below. On ``synthetic-music`` (random split,
seed 0, 18,328 training items; ``scripts/bench_ease.py``, idle two cores,
2026-12-03) the fit takes 39 s: Gram matrix 3.6 s, the grid on the 3,000
most popular items 3.5 s, the float32 inversion and B 23 s, pruning 3.7 s;
l2 200 is chosen, as the full grid (a full B per value, 30 s each) chooses,
and validation NDCG@10 is 0.1789 either way. The float64 fit with a full
inversion per grid value took 954 s on a real music log of that size (issue
30's figure).

Each column of B then keeps only its ``top_weights`` largest |B_ij|: that
sparse B is what numpy and the SavedModel both score with. On ml-latest-small's
temporal split (l2 = 200 chosen) it gives HR@10 0.311 and NDCG@10 0.0688
(dense B: 0.309, 0.0682), and 0.372 and 0.0843 with ``--refit`` (dense: 0.357,
0.0797). The fit refuses catalogues whose dense matrix exceeds ``max_memory_gb``.

References: H. Steck, "Embarrassingly Shallow Autoencoders for Sparse Data",
WWW 2019; Y. Hu, Y. Koren and C. Volinsky, "Collaborative Filtering for
Implicit Feedback Datasets", ICDM 2008.
"""

from __future__ import annotations

import dataclasses
import sys
import time

import numpy as np
import scipy.sparse as sp
from scipy.linalg import lapack

from tfrec.errors import TfrecError, check_positive, check_positive_int
from tfrec.models import memory
from tfrec.models.base import ModelConfig, Recommender
from tfrec.models.weighting import check_weighting, confidence_matrix
from tfrec.topk import top_k

L2_GRID = (50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0)
DEFAULT_L2 = 500.0  # when the split has no validation ratings (Steck's ML-20M value)
BYTES_PER_ITEM_PAIR = 8  # the float32 Gram matrix (factorised into B), and what it is built from
_BLOCK = 1024  # columns of B built, or pruned, at once
_ETA_AFTER_S = 2.0  # steps expected to take longer print their ETA


@dataclasses.dataclass
class EASEConfig(ModelConfig):
    """Options of EASE.

    Attributes:
        l2: The L2 penalty lambda; None chooses it from ``L2_GRID`` on
            validation NDCG@10 (on the ``choice_items`` most popular items).
        use_ratings: X holds the ratings instead of confidences.
        weighting: How a strength becomes X_ui: ``binary`` (the default:
            on steam-hours, random split seed 0, validation NDCG@10 0.3129
            against 0.3063 for ``log``), ``log`` or ``raw`` (see
            :mod:`tfrec.models.weighting`); data without strengths is
            binary either way.
        alpha: Scale of the strength in the confidence.
        eps: Strength unit of the log scaling.
        choice_items: Items whose sub-Gram matrix chooses l2.
        top_weights: Weights kept per column of B (per scored item).
        max_memory_gb: Largest estimated memory of the dense matrix
            (``BYTES_PER_ITEM_PAIR`` per item pair); None: half of this
            machine's RAM.
    """

    l2: float | None = None
    use_ratings: bool = False
    weighting: str = "binary"
    alpha: float = 1.0
    eps: float = 1.0
    choice_items: int = 3_000
    top_weights: int = 500
    max_memory_gb: float | None = None

    def validate(self):
        if self.l2 is not None:
            check_positive("l2", self.l2)
        check_weighting(self.weighting, self.alpha, self.eps)
        check_positive_int("choice_items", self.choice_items)
        check_positive_int("top_weights", self.top_weights)
        if self.max_memory_gb is not None:
            check_positive("max_memory_gb", self.max_memory_gb)


def check_memory(n_items: int, max_memory_gb: float | None) -> None:
    """Raises ConfigError when the dense fit of ``n_items`` items would not fit."""
    memory.check_memory(
        "ease",
        BYTES_PER_ITEM_PAIR * n_items**2,
        f"its dense {n_items:,} x {n_items:,} item matrix",
        "keep fewer items with --min-item-interactions N (items rated fewer than N times "
        "are dropped)",
        max_memory_gb,
    )


def gram_matrix(x: sp.csr_matrix, dtype=np.float64) -> np.ndarray:
    """X^T X as a dense array in Fortran order (for LAPACK)."""
    x = x.astype(dtype)
    return (x.T @ x).toarray(order="F")


def ease_matrix(gram: np.ndarray, l2: float, *, overwrite: bool = False) -> np.ndarray:
    """The closed-form B for ``gram`` = X^T X, in ``gram``'s precision.

    Args:
        gram: (n_items, n_items) float32 or float64 X^T X.
        l2: The L2 penalty.
        overwrite: Compute B in ``gram``'s memory (it must be Fortran-ordered).

    Returns:
        (n_items, n_items) array in Fortran order; entry (i, j) is B_ij.
    """
    n = len(gram)
    a = gram if overwrite else gram.copy(order="F")
    a[np.diag_indices(n)] += l2
    potrf, potri = lapack.get_lapack_funcs(("potrf", "potri"), (a,))
    factor, info = potrf(a, lower=True, overwrite_a=True, clean=False)
    if info == 0:
        inverse, info = potri(factor, lower=True, overwrite_c=True)
    if info != 0:
        raise TfrecError(f"X^T X + l2 I is not positive definite (LAPACK info {info}); raise l2")
    # potri filled the lower triangle of P, the (i, j) with i >= j: mirror it, then
    # scale each column j by -1 / P_jj, in place, one block of columns at a time.
    for start in range(0, n, _BLOCK):
        cols = slice(start, min(start + _BLOCK, n))
        inverse[:start, cols] = inverse[cols, :start].T
        block = inverse[cols, cols]
        inverse[cols, cols] = np.tril(block) + np.tril(block, -1).T
    diagonal = inverse.diagonal().copy()
    for start in range(0, n, _BLOCK):
        cols = slice(start, min(start + _BLOCK, n))
        inverse[:, cols] /= -diagonal[cols]
    inverse[np.diag_indices(n)] = 0.0
    return inverse


def prune(b: np.ndarray, top_weights: int, report=None) -> sp.csr_matrix:
    """``b`` with each column's ``top_weights`` largest |B_ij| kept (ties to the lower i).

    ``report(done, total)`` is called after each block of columns.
    """
    n = len(b)
    k = min(top_weights, n - 1)
    sources, targets = [], []
    for start in range(0, n, _BLOCK):
        columns = np.abs(b[:, start : start + _BLOCK].T)  # one row per column j
        index, _ = top_k(columns, k)
        sources.append(index.ravel())
        targets.append(np.repeat(np.arange(start, start + len(columns)), k))
        if report is not None:
            report(start + len(columns), n)
    sources, targets = np.concatenate(sources), np.concatenate(targets)
    pruned = sp.csr_matrix((b[sources, targets], (sources, targets)), shape=(n, n))
    pruned.eliminate_zeros()
    pruned.sort_indices()
    return pruned


class _Progress:
    """Progress lines on stderr (with ``verbose``): each step's seconds, and ETAs."""

    def __init__(self, verbose: bool):
        self.verbose = verbose
        self.flops_per_s = None  # of the Cholesky inversion, measured on the l2 grid

    def say(self, line: str) -> None:
        if self.verbose:
            print(f"ease: {line}", file=sys.stderr, flush=True)

    def inversion_eta(self, n: int) -> str:
        """The expected seconds of an n x n inversion (n^3 flops), when measured."""
        if self.flops_per_s is None:
            return ""
        seconds = n**3 / self.flops_per_s
        return f" - ETA {seconds:.0f}s" if seconds > _ETA_AFTER_S else ""

    def blocks(self, what: str, started: float):
        """A ``report(done, total)`` for a loop over blocks: one line when the first
        block predicts a long loop, one at the end."""

        def report(done, total):
            seconds = time.perf_counter() - started
            left = seconds / done * (total - done)
            if done < total and (done == min(_BLOCK, total)) and left > _ETA_AFTER_S:
                self.say(f"{what} {done:,}/{total:,} - {seconds:.1f}s - ETA {left:.0f}s")
            elif done == total:
                self.say(f"{what} done in {seconds:.1f}s")

        return report


class EASE(Recommender):
    """Steck's EASE^R: a ridge regression of each item on all others (a ranking model)."""

    name = "ease"
    Config = EASEConfig
    chosen_on_validation = ("l2",)
    predicts_ratings = False
    parallel_scoring = True
    serves_new_users = True  # fold-in: x_new B

    def _fit(self, data, split, options) -> None:
        n = len(data.item_ids)
        check_memory(n, self.config.max_memory_gb)
        progress = _Progress(options.verbose)
        self.confidence_ = self._confidence(data)
        x = self._rows(np.arange(len(data.user_ids)))
        started = time.perf_counter()
        gram = gram_matrix(x, np.float32)
        progress.say(f"Gram matrix X^T X of {n:,} items in {time.perf_counter() - started:.1f}s")
        if self.config.l2 is not None:
            self.l2_ = float(self.config.l2)
        else:
            self.l2_ = self._choose_l2(gram, x, split, progress)
        started = time.perf_counter()
        progress.say(f"factorising at l2 {self.l2_:g} (float32){progress.inversion_eta(n)}")
        b = ease_matrix(gram, self.l2_, overwrite=True)
        progress.say(f"B in {time.perf_counter() - started:.1f}s")
        report = progress.blocks("pruning B's columns", time.perf_counter())
        self.weights_ = prune(b, self.config.top_weights, report)

    def _confidence(self, data) -> sp.csr_matrix | None:
        """X's entries c_ui when strengths make them differ from 1 (else None)."""
        if self.config.use_ratings or data.weights is None or self.config.weighting == "binary":
            return None
        c = self.config
        return confidence_matrix(data, c.weighting, c.alpha, c.eps)

    def _choose_l2(self, gram, x, split, progress) -> float:
        """The grid's l2 whose float64 B on the most popular items ranks validation best."""
        from tfrec.metrics import full_ranking
        from tfrec.models.training.ranking_stopping import VALIDATION_K, ValidationRanking

        given = (getattr(split, "given", None) or {}).get("validation")
        ranking = ValidationRanking(self, split.validation, None, None, given=given)
        if not ranking.active:
            progress.say(f"no validation users: l2 {DEFAULT_L2:g}")
            return DEFAULT_L2
        chosen = np.sort(np.argsort(-gram.diagonal(), kind="stable")[: self.config.choice_items])
        sub_gram = gram[np.ix_(chosen, chosen)].astype(np.float64, order="F")
        # Validation users' rows, relevant and seen items, over the chosen items only.
        rows = ranking.inputs(x)[:, chosen].tocsr()
        relevant = ranking.relevant[:, chosen].tocsr()
        excluded = ranking.excluded[:, chosen].tocsr()
        ndcg = {}
        for position, l2 in enumerate(L2_GRID):
            started = time.perf_counter()
            b = ease_matrix(sub_gram, l2)
            progress.flops_per_s = len(chosen) ** 3 / (time.perf_counter() - started)
            columns, _ = full_ranking(
                lambda block, b=b: rows[block] @ b,
                relevant,
                excluded,
                VALIDATION_K,
                threads=ranking.threads,
            )
            ndcg[l2] = float(columns["ndcg"].mean())
            seconds = time.perf_counter() - started
            left = seconds * (len(L2_GRID) - position - 1)
            eta = f" - ETA {left:.0f}s" if left > _ETA_AFTER_S else ""
            progress.say(
                f"l2 {l2:g} ({position + 1}/{len(L2_GRID)}): validation NDCG@10 "
                f"{ndcg[l2]:.4f} on the {len(chosen):,} most popular items - {seconds:.1f}s{eta}"
            )
        best = max(ndcg, key=ndcg.get)
        tried = ", ".join(f"{l2:g}: {value:.4f}" for l2, value in ndcg.items())
        progress.say(f"l2 {best:g} chosen on validation NDCG@10 ({tried})")
        return best

    def refit_options(self) -> dict:
        return {"l2": self.l2_}

    def _rows(self, users) -> sp.csr_matrix:
        """Rows of X: confidences, the ratings, or 1 per rated item."""
        if self.confidence_ is not None:
            return self.confidence_[users]
        x = self.seen_[users].astype(np.float32)
        if not self.config.use_ratings:
            x.data[:] = 1.0
        return x

    def _score(self, users):
        return (self._rows(users) @ self.weights_).toarray()

    def _score_history(self, histories):
        return (histories.matrix() @ self.weights_).toarray()

    def serving_history_scorer(self):
        from tfrec.models.scorers import FoldInScorer

        return FoldInScorer([self.weights_])

    def serving_scorer(self, seen):
        from tfrec.models.scorers import SparseProductScorer
        from tfrec.signatures import SeenItems

        if self.confidence_ is not None:
            return SparseProductScorer(SeenItems(self.confidence_), [self.weights_], binary=False)
        return SparseProductScorer(seen, [self.weights_], binary=not self.config.use_ratings)

    def _arrays(self):
        w, c = self.weights_, self.confidence_
        arrays = {"data": w.data, "indices": w.indices, "indptr": w.indptr, "l2": self.l2_}
        if c is not None:
            arrays.update({"c_data": c.data, "c_indices": c.indices, "c_indptr": c.indptr})
        return arrays

    def _load_arrays(self, arrays):
        n = len(self.item_ids_)
        weights = (arrays["data"], arrays["indices"], arrays["indptr"])
        self.weights_ = sp.csr_matrix(weights, shape=(n, n))
        self.l2_ = float(arrays["l2"])
        self.confidence_ = None
        if "c_data" in arrays:
            c = (arrays["c_data"], arrays["c_indices"], arrays["c_indptr"])
            self.confidence_ = sp.csr_matrix(c, shape=(len(self.user_ids_), n))
