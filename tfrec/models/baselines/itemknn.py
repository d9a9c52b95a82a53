"""Item-item cosine KNN (the seed notebook's), with scikit-learn's brute-force search.

A new user, known by the items ``G`` they bring, is folded in with the
cosine similarity to every item (not only the kept neighbours, which
five given items would reach too rarely):

    score(new, j) = sum_{i in G} cos(j, i)

On ml-latest-small's cold users (H = 5; validation NDCG@10, seeds 0-2) that
scored 0.119, against 0.111 over the 20 kept neighbours.

Items are rows of the item x user rating matrix (0 where unrated); the fit
refuses data whose item vectors and neighbour lists would exceed
``max_memory_gb`` (:mod:`tfrec.models.memory`).

``similar_items`` is the exact cosine ranking over all items. For
recommendation and rating prediction each item keeps its ``n_neighbors``
nearest items ``N(j)`` with similarities ``s(j, i)``:

    score(u, j)  = sum_{i in N(j), rated by u} s(j, i) * r_ui
    r_hat(u, j)  = score(u, j) / sum_{i in N(j), rated by u} s(j, i)

(the user's mean rating when no neighbour of ``j`` was rated). On implicit
feedback it is a ranking model (predictions are the scores) and r_ui is the
confidence of the interaction's strength w_ui (play count, hours; 1 when the
log has none), in both the item vectors and the score:

    r_ui = c_ui = 1 + alpha * log(1 + w_ui)      (weighting="log")

(:mod:`tfrec.models.weighting`). The default is ``weighting="binary"``
(r_ui = 1): on steam-hours (hours played; random split, validation NDCG@10,
mean of seeds 0-2) binary scored 0.246, log 0.238 (alpha 3: 0.231), raw
hours (alpha 0.1) 0.119; log weights in the similarity alone 0.238, in the
score alone 0.244. ``--tune`` searches it.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np
import scipy.sparse as sp
from sklearn.neighbors import NearestNeighbors

from tfrec.errors import check_positive, check_positive_int
from tfrec.models import memory
from tfrec.models.base import ModelConfig, Recommender
from tfrec.models.weighting import check_weighting, confidence_matrix
from tfrec.topk import cosine_top_k

# The user x item matrix, its item x user transpose and that one's float32
# copy (4-byte values, 4-byte indices).
BYTES_PER_RATING = 3 * 8
# Per item and kept neighbour: scikit-learn's float64 distance and int64
# index, then the CSR weight and column.
BYTES_PER_NEIGHBOUR = 24
SEARCH_BYTES = 2**30  # scikit-learn's working memory for the distance chunks


@dataclasses.dataclass
class ItemKNNConfig(ModelConfig):
    """Options of the item KNN.

    Attributes:
        n_neighbors: Neighbours kept per item for scoring and prediction.
        weighting: How implicit data's strengths become r_ui: ``log``,
            ``raw`` or ``binary`` (:mod:`tfrec.models.weighting`).
        alpha: Scale of the strength in the confidence.
        max_memory_gb: Largest estimated memory of the fit; None: half of
            this machine's RAM.
    """

    tuning_grid: ClassVar[dict[str, list]] = {
        "n_neighbors": [10, 20, 50],
        "weighting": ["binary", "log"],
    }

    n_neighbors: int = 20
    weighting: str = "binary"
    alpha: float = 1.0
    max_memory_gb: float | None = None

    def validate(self):
        check_positive_int("n_neighbors", self.n_neighbors)
        check_weighting(self.weighting, self.alpha, 1.0)
        if self.max_memory_gb is not None:
            check_positive("max_memory_gb", self.max_memory_gb)


class ItemKNN(Recommender):
    """Item-based collaborative filtering with cosine similarity."""

    name = "itemknn"
    Config = ItemKNNConfig
    parallel_scoring = True
    fits_implicit = True
    scores_are_predictions = False  # scores are weighted sums, predictions weighted averages
    similar_items_supported = True
    serves_new_users = True  # fold-in: sum of s(j, i) over the given items i

    def _fit(self, data, split, options) -> None:
        if not self.predicts_ratings and data.weights is not None:
            self.seen_ = confidence_matrix(data, self.config.weighting, self.config.alpha)
        n_items = self.seen_.shape[1]
        n = min(self.config.n_neighbors + 1, n_items)
        memory.check_memory(
            "itemknn",
            BYTES_PER_RATING * self.seen_.nnz + BYTES_PER_NEIGHBOUR * n_items * n + SEARCH_BYTES,
            f"its {n_items:,} item vectors ({self.seen_.nnz:,} ratings) and {n - 1} "
            "neighbours each",
            "keep fewer items or users (--min-item-interactions N, --min-user-interactions N) "
            "or lower n_neighbors",
            self.config.max_memory_gb,
        )
        item_user = self.seen_.T.tocsr()
        nn = NearestNeighbors(metric="cosine", algorithm="brute", n_neighbors=n)
        distances, neighbours = nn.fit(item_user).kneighbors(item_user)
        rows = np.repeat(np.arange(n_items), n)
        sims = 1.0 - distances.ravel()
        keep = (neighbours.ravel() != rows) & (sims > 0)
        self.neighbours_ = sp.csr_matrix(
            (sims[keep].astype(np.float32), (rows[keep], neighbours.ravel()[keep])),
            shape=(n_items, n_items),
        )
        self.item_user_ = item_user.astype(np.float32)
        counts = np.diff(self.seen_.indptr)
        self.user_means_ = (
            np.asarray(self.seen_.sum(axis=1)).ravel() / np.maximum(counts, 1)
        ).astype(np.float32)

    def _score(self, users):
        return np.asarray((self.seen_[users] @ self.neighbours_.T).todense(), dtype=np.float32)

    def _unit_vectors(self) -> sp.csr_matrix:
        """The item vectors (rows of the item x user matrix) scaled to unit length."""
        norms = np.sqrt(np.asarray(self.item_user_.multiply(self.item_user_).sum(axis=1)).ravel())
        return (sp.diags(1.0 / np.maximum(norms, 1e-12)) @ self.item_user_).astype(np.float32)

    def _score_history(self, histories):
        unit = self._unit_vectors()
        return np.asarray(((histories.matrix() @ unit) @ unit.T).todense(), dtype=np.float32)

    def serving_history_scorer(self):
        from tfrec.models.scorers import FoldInScorer

        unit = self._unit_vectors()
        return FoldInScorer([unit, unit.T.tocsr()])

    def _predict(self, users, items):
        if not self.predicts_ratings:
            return super()._predict(users, items)
        rated = self.seen_[users]
        weights = self.neighbours_[items]
        numerator = np.asarray(rated.multiply(weights).sum(axis=1)).ravel()
        denominator = np.asarray((rated > 0).multiply(weights).sum(axis=1)).ravel()
        with np.errstate(invalid="ignore", divide="ignore"):
            out = np.where(denominator > 0, numerator / denominator, self.user_means_[users])
        return out.astype(np.float32)

    def _similar(self, items, k):
        return cosine_top_k(self.item_user_, items, k)

    def serving_scorer(self, seen):
        from tfrec.models.scorers import NeighbourScorer

        return NeighbourScorer(self.neighbours_, seen, self.user_means_, self.predicts_ratings)

    def _arrays(self):
        n, iu = self.neighbours_, self.item_user_
        return {
            "nb_data": n.data,
            "nb_indices": n.indices,
            "nb_indptr": n.indptr,
            "iu_data": iu.data,
            "iu_indices": iu.indices,
            "iu_indptr": iu.indptr,
            "user_means": self.user_means_,
        }

    def _load_arrays(self, arrays):
        n_items, n_users = len(self.item_ids_), len(self.user_ids_)
        neighbours = (arrays["nb_data"], arrays["nb_indices"], arrays["nb_indptr"])
        self.neighbours_ = sp.csr_matrix(neighbours, shape=(n_items, n_items))
        item_user = (arrays["iu_data"], arrays["iu_indices"], arrays["iu_indptr"])
        self.item_user_ = sp.csr_matrix(item_user, shape=(n_items, n_users))
        self.user_means_ = arrays["user_means"]
