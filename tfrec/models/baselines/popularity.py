"""Most-popular baseline: every user gets the items rated most often in training."""

from __future__ import annotations

import dataclasses

import numpy as np

from tfrec.models.base import ModelConfig, Recommender


@dataclasses.dataclass
class PopularityConfig(ModelConfig):
    """The popularity model has no options."""


class Popularity(Recommender):
    """Scores each item by its number of training ratings (a ranking model)."""

    name = "popularity"
    Config = PopularityConfig
    parallel_scoring = True
    predicts_ratings = False

    def _fit(self, data, split, options) -> None:
        pass

    def _score(self, users: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.popularity_, (len(users), len(self.popularity_))).copy()

    def serving_scorer(self, seen):
        from tfrec.models.scorers import FactorScorer

        return FactorScorer(np.zeros(len(self.user_ids_), np.float32), self.popularity_)

    def _predict(self, users, items):
        return self.popularity_[items]
