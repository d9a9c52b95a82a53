"""Peer libraries behind tfrec's :class:`~tfrec.models.Recommender` interface.

Surprise's BaselineOnly, SVD and SVD++ (rating models) and implicit's ALS
and BPR (ranking models) are fitted by their own libraries on the same
training ratings, then scored by tfrec's evaluator, so the leaderboard
compares like with like. Each adapter copies the fitted parameters out into
numpy arrays in tfrec's item order and scores a batch of users with one
matrix product. They are registered models like any other
(``tfrec.get_model("implicit_als")``), available when their library is
installed (``pip install "tfrec[peers]"``); they cannot be exported as
SavedModels.

Defaults are the libraries' own (Surprise's ``reg_u``/``reg_i`` of
BaselineOnly, implicit's factors, regularisation and iterations).
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np
import pandas as pd
import scipy.sparse as sp

from tfrec.models.base import ModelConfig, Recommender
from tfrec.models.weighting import check_weighting, confidence
from tfrec.tuning.space import Range

# ---- Surprise -------------------------------------------------------------------------------


@dataclasses.dataclass
class SurpriseBaselineConfig(ModelConfig):
    """Surprise ``BaselineOnly`` with ALS (its defaults)."""

    tuning_grid: ClassVar[dict[str, list]] = {"reg_u": [5.0, 15.0], "reg_i": [5.0, 10.0]}

    reg_u: float = 15.0
    reg_i: float = 10.0
    n_epochs: int = 10


@dataclasses.dataclass
class SurpriseSVDConfig(ModelConfig):
    """Surprise ``SVD`` (its defaults)."""

    tuning_grid: ClassVar[dict[str, list]] = {"n_factors": [50, 100], "reg_all": [0.02, 0.05]}

    n_factors: int = 100
    n_epochs: int = 20
    lr_all: float = 0.005
    reg_all: float = 0.02
    seed: int = 0


@dataclasses.dataclass
class SurpriseSVDppConfig(ModelConfig):
    """Surprise ``SVDpp`` (its defaults)."""

    tuning_grid: ClassVar[dict[str, list]] = {"n_factors": [10, 20]}

    n_factors: int = 20
    n_epochs: int = 20
    lr_all: float = 0.007
    reg_all: float = 0.02
    seed: int = 0


class _Surprise(Recommender):
    """score(u, i) = mu + b_u + b_i + q_i . p_u, in tfrec's user and item order."""

    predicts_ratings = True
    exportable = False

    def _fit(self, data, split, options) -> None:
        import surprise

        frame = pd.DataFrame({"user": data.users, "item": data.items, "rating": data.ratings})
        reader = surprise.Reader(rating_scale=self.rating_scale_)
        trainset = surprise.Dataset.load_from_df(frame, reader).build_full_trainset()
        algorithm = self._algorithm(surprise)
        algorithm.fit(trainset)
        # Surprise numbers users and items by first appearance: map its inner
        # IDs back to tfrec's rows once (one dict lookup per user and item).
        users = np.fromiter(map(trainset.to_inner_uid, range(len(data.user_ids))), np.int64)
        items = np.fromiter(map(trainset.to_inner_iid, range(len(data.item_ids))), np.int64)
        self.mu_ = np.float64(trainset.global_mean)
        self.bu_, self.bi_, self.pu_, self.qi_ = self._parameters(algorithm, users, items, data)

    def _parameters(self, algorithm, users, items, data):
        pu, qi = algorithm.pu[users], algorithm.qi[items]
        return algorithm.bu[users], algorithm.bi[items], pu, qi

    def _score(self, users):
        scores = self.mu_ + self.bu_[users, None] + self.bi_[None, :]
        if self.pu_.shape[1]:
            scores = scores + self.pu_[users] @ self.qi_.T
        return scores.astype(np.float32)

    def _predict(self, users, items):
        out = self.mu_ + self.bu_[users] + self.bi_[items]
        out = out + np.einsum("nd,nd->n", self.pu_[users], self.qi_[items])
        return out.astype(np.float32)

    def _arrays(self):
        return {
            "mu": np.array([self.mu_]),
            "bu": self.bu_,
            "bi": self.bi_,
            "pu": self.pu_,
            "qi": self.qi_,
        }

    def _load_arrays(self, arrays):
        self.mu_, self.bu_, self.bi_ = arrays["mu"][0], arrays["bu"], arrays["bi"]
        self.pu_, self.qi_ = arrays["pu"], arrays["qi"]


class SurpriseBaseline(_Surprise):
    """Surprise ``BaselineOnly`` (ALS): mu + b_u + b_i."""

    name = "surprise_baseline"
    Config = SurpriseBaselineConfig

    def _algorithm(self, surprise):
        c = self.config
        options = {"method": "als", "reg_u": c.reg_u, "reg_i": c.reg_i, "n_epochs": c.n_epochs}
        return surprise.BaselineOnly(bsl_options=options, verbose=False)

    def _parameters(self, algorithm, users, items, data):
        bu, bi = algorithm.bu, algorithm.bi
        empty = np.zeros((len(users), 0)), np.zeros((len(items), 0))
        return bu[users], bi[items], *empty


class SurpriseSVD(_Surprise):
    """Surprise ``SVD`` (biased matrix factorisation by SGD)."""

    name = "surprise_svd"
    Config = SurpriseSVDConfig

    def _algorithm(self, surprise):
        c = self.config
        return surprise.SVD(
            n_factors=c.n_factors,
            n_epochs=c.n_epochs,
            lr_all=c.lr_all,
            reg_all=c.reg_all,
            random_state=c.seed,
        )


class SurpriseSVDpp(_Surprise):
    """Surprise ``SVDpp``: SVD plus the implicit feedback of the items a user rated."""

    name = "surprise_svdpp"
    Config = SurpriseSVDppConfig

    def _algorithm(self, surprise):
        c = self.config
        return surprise.SVDpp(
            n_factors=c.n_factors,
            n_epochs=c.n_epochs,
            lr_all=c.lr_all,
            reg_all=c.reg_all,
            random_state=c.seed,
            cache_ratings=True,
        )

    def _parameters(self, algorithm, users, items, data):
        bu, bi, pu, qi = super()._parameters(algorithm, users, items, data)
        # p_u + |N(u)|^-1/2 * sum of y_j over the items j the user rated.
        rated = data.matrix.astype(np.float64)
        rated.data[:] = 1.0
        norm = 1.0 / np.sqrt(np.maximum(np.asarray(rated.sum(axis=1)).ravel(), 1.0))
        implicit = sp.diags(norm) @ rated @ algorithm.yj[items]
        return bu, bi, pu + np.asarray(implicit), qi


# ---- implicit -------------------------------------------------------------------------------


@dataclasses.dataclass
class ImplicitALSConfig(ModelConfig):
    """implicit's ``AlternatingLeastSquares`` (its defaults).

    Its confidence is c_ui = 1 + alpha * x_ui, with x_ui = 1 (``weighting``
    ``binary``, the default), log(1 + w_ui) (``log``: Hu et al.'s log scaling
    of a strength w such as plays or hours) or w_ui (``raw``). On steam-hours
    (hours; random split, validation NDCG@10, seeds 0-2): binary 0.174, log
    0.183, log with alpha 10 0.189. A peer keeps its library's defaults;
    ``--tune`` searches ``weighting`` and ``alpha``.
    """

    tuning_grid: ClassVar[dict[str, list]] = {
        "factors": [64, 100],
        "weighting": ["binary", "log"],
    }
    tuning_ranges: ClassVar[dict] = {
        "regularization": Range(1e-3, 1.0, log=True),
        "alpha": Range(0.5, 50.0, log=True),
    }

    factors: int = 100
    regularization: float = 0.01
    alpha: float = 1.0
    iterations: int = 15
    seed: int = 0
    weighting: str = "binary"

    def validate(self):
        check_weighting(self.weighting, self.alpha, 1.0)


@dataclasses.dataclass
class ImplicitBPRConfig(ModelConfig):
    """implicit's ``BayesianPersonalizedRanking`` (its defaults) on binary feedback."""

    tuning_grid: ClassVar[dict[str, list]] = {"factors": [64, 100], "learning_rate": [0.01, 0.05]}

    factors: int = 100
    learning_rate: float = 0.01
    regularization: float = 0.01
    iterations: int = 100
    seed: int = 0


class _Implicit(Recommender):
    """score(u, i) = user_factors[u] . item_factors[i] (BPR's include an item bias)."""

    predicts_ratings = False
    exportable = False

    def _fit(self, data, split, options) -> None:
        import implicit.cpu.als  # noqa: F401 (load its BLAS before limiting it)
        import implicit.cpu.bpr  # noqa: F401
        from threadpoolctl import threadpool_limits

        weighting = getattr(self.config, "weighting", "binary")
        n = len(data.users)  # x_ui: 1, or the strength's log(1 + w) / w; ALS adds 1 + alpha x
        values = (
            np.ones(n, np.float32)
            if weighting == "binary" or data.weights is None
            else confidence(data.weights, n, weighting, alpha=1.0) - np.float32(1.0)
        )
        feedback = sp.csr_matrix((values, (data.users, data.items)), shape=data.matrix.shape)
        # implicit runs its own threads and asks for single-threaded BLAS.
        with threadpool_limits(1, "blas"):
            model = self._algorithm()
            model.fit(feedback.tocsr(), show_progress=False)
        self.user_factors_ = np.asarray(model.user_factors, dtype=np.float32)
        self.item_factors_ = np.asarray(model.item_factors, dtype=np.float32)

    def _score(self, users):
        return self.user_factors_[users] @ self.item_factors_.T

    def _predict(self, users, items):
        return np.einsum("nd,nd->n", self.user_factors_[users], self.item_factors_[items])

    def _arrays(self):
        return {"user_factors": self.user_factors_, "item_factors": self.item_factors_}

    def _load_arrays(self, arrays):
        self.user_factors_, self.item_factors_ = arrays["user_factors"], arrays["item_factors"]


class ImplicitALS(_Implicit):
    """implicit's ALS (Hu, Koren and Volinsky's weighted matrix factorisation)."""

    name = "implicit_als"
    Config = ImplicitALSConfig

    def _algorithm(self):
        from implicit.cpu.als import AlternatingLeastSquares

        c = self.config
        return AlternatingLeastSquares(
            factors=c.factors,
            regularization=c.regularization,
            alpha=c.alpha,
            iterations=c.iterations,
            random_state=c.seed,
        )


class ImplicitBPR(_Implicit):
    """implicit's BPR (Bayesian personalised ranking, SGD over sampled pairs)."""

    name = "implicit_bpr"
    Config = ImplicitBPRConfig

    def _algorithm(self):
        from implicit.cpu.bpr import BayesianPersonalizedRanking

        c = self.config
        return BayesianPersonalizedRanking(
            factors=c.factors,
            learning_rate=c.learning_rate,
            regularization=c.regularization,
            iterations=c.iterations,
            random_state=c.seed,
        )
