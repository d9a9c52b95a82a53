"""Tiny planted data and a planted model for the tuning tests (known answers)."""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import numpy as np
import pandas as pd
import scipy.sparse as sp

from tfrec.data.interaction_log import read_interactions
from tfrec.models.base import ModelConfig, Recommender, encode
from tfrec.splits import split
from tfrec.tuning.space import Range


def two_groups(seed: int = 0):
    """Two taste groups of 40 users over 30 items each, implicit, no time
    order; each user took a seeded 60% of their group's items. Item-to-item
    similarity finds the group; popularity cannot (the groups are even)."""
    rng = np.random.default_rng(seed)
    rows = [
        (f"u{group}-{user}", f"i{group}-{item}")
        for group in range(2)
        for user in range(40)
        for item in rng.choice(30, size=18, replace=False)
    ]
    frame = pd.DataFrame(rows, columns=["user", "item"])
    data = read_interactions(frame, columns={"user": "user", "item": "item"}, name="two-groups")
    return split(data, "random", seed=seed)


@dataclasses.dataclass
class PeekConfig(ModelConfig):
    """A model whose option ``peek`` is planted to win on validation.

    Attributes:
        peek: Score each user's validation items first (a perfect validation score).
        blur: Weight of uniform noise added to the scores (only for a
            continuous range in the space).
    """

    tuning_grid: ClassVar[dict[str, list]] = {"peek": [False, True]}
    tuning_ranges: ClassVar[dict] = {"blur": Range(0.0, 1.0)}

    peek: bool = False
    blur: float = 0.5
    seed: int = 0


class Peek(Recommender):
    """Popularity, plus (with ``peek``) the user's validation items on top."""

    name = "peek"
    Config = PeekConfig
    predicts_ratings = False

    def _fit(self, data, split, options) -> None:
        target = split.validation
        users = encode(data.user_ids, target["user_id"])
        items = encode(data.item_ids, target["item_id"])
        ok = (users >= 0) & (items >= 0)
        shape = (len(data.user_ids), len(data.item_ids))
        self.validation_ = sp.csr_matrix((np.ones(ok.sum()), (users[ok], items[ok])), shape)
        self.noise_ = np.random.default_rng(self.config.seed).random(shape).astype(np.float32)

    def _score(self, users):
        scores = self.popularity_ / self.popularity_.max() + self.config.blur * self.noise_[users]
        if self.config.peek:
            scores = scores + 10 * self.validation_[users].toarray()
        return scores.astype(np.float32)
