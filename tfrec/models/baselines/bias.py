"""Baseline predictor: global mean + regularised user and item biases.

Fitted by alternating least squares as in Koren (2010) and Surprise's
``BaselineOnly``::

    b_i = sum_u (r_ui - mu - b_u) / (reg_item + n_i)
    b_u = sum_i (r_ui - mu - b_i) / (reg_user + n_u)
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np

from tfrec.errors import check_non_negative, check_positive_int
from tfrec.models.base import ModelConfig, Recommender
from tfrec.tuning.space import Range


@dataclasses.dataclass
class BiasConfig(ModelConfig):
    """Options of the bias baseline.

    Attributes:
        reg_user: Shrinkage of user biases towards 0 (Surprise's default 15).
        reg_item: Shrinkage of item biases towards 0 (Surprise's default 10).
        n_iterations: Alternating passes.
    """

    tuning_ranges: ClassVar[dict] = {
        "reg_user": Range(1.0, 50.0, log=True),
        "reg_item": Range(1.0, 50.0, log=True),
    }

    reg_user: float = 15.0
    reg_item: float = 10.0
    n_iterations: int = 10

    def validate(self):
        check_non_negative("reg_user", self.reg_user)
        check_non_negative("reg_item", self.reg_item)
        check_positive_int("n_iterations", self.n_iterations)


class Bias(Recommender):
    """mu + b_user + b_item; ranks every user's unseen items by item bias."""

    name = "bias"
    Config = BiasConfig
    parallel_scoring = True

    def _fit(self, data, split, options) -> None:
        n_users, n_items = len(data.user_ids), len(data.item_ids)
        residual = data.ratings.astype(np.float64) - self.global_mean_
        n_u = np.bincount(data.users, minlength=n_users)
        n_i = np.bincount(data.items, minlength=n_items)
        b_u, b_i = np.zeros(n_users), np.zeros(n_items)
        for _ in range(self.config.n_iterations):
            b_i = np.bincount(data.items, residual - b_u[data.users], n_items) / (
                self.config.reg_item + n_i
            )
            b_u = np.bincount(data.users, residual - b_i[data.items], n_users) / (
                self.config.reg_user + n_u
            )
        self.user_bias_, self.item_bias_ = b_u.astype(np.float32), b_i.astype(np.float32)

    def _score(self, users):
        return (self.global_mean_ + self.user_bias_[users, None] + self.item_bias_[None, :]).astype(
            np.float32
        )

    def _predict(self, users, items):
        return self.global_mean_ + self.user_bias_[users] + self.item_bias_[items]

    def serving_scorer(self, seen):
        from tfrec.models.scorers import FactorScorer

        return FactorScorer(self.global_mean_ + self.user_bias_, self.item_bias_)

    def _arrays(self):
        return {"user_bias": self.user_bias_, "item_bias": self.item_bias_}

    def _load_arrays(self, arrays):
        self.user_bias_, self.item_bias_ = arrays["user_bias"], arrays["item_bias"]
