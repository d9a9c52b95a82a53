"""Train / validation / test splits.

* ``temporal`` (the protocol's default, as the seed notebook does it): each
  user's ratings sorted by time (stable, so ties keep file order); the last
  ``max(1, int(n * 0.1))`` go to test, the same number before them to
  validation, the rest to train. On ml-latest-small: 81,200 / 9,818 / 9,818.
* ``leave-one-out``: each user's last rating to test, the one before to
  validation (users with fewer than 3 ratings keep theirs in train).
* ``random``: a seeded 80/10/10 shuffle of all ratings.
* ``global-time``: one cut-off date for everybody, 80/10/10 by time.
* ``cold-items`` (item cold start): the items with at least 5 ratings,
  sorted, permuted by ``numpy.random.default_rng(seed)``; the first 20% are
  the test cold items, the next 10% the validation cold items. Every rating
  of a cold item leaves train (to test or validation); the rest is train.
  Models rank the cold items from their content alone (see
  :mod:`tfrec.evaluation`).
* ``none``: every rating in train (for fitting a final model).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tfrec.data.schema import Dataset
from tfrec.errors import ConfigError, check_choice

SPLIT_METHODS = ("temporal", "leave-one-out", "random", "global-time", "cold-items", "none")
COLD_MIN_RATINGS = 5  # items with fewer ratings are never cold
COLD_TEST_SHARE, COLD_VALIDATION_SHARE = 0.2, 0.1
TIMED_METHODS = ("temporal", "leave-one-out", "global-time")


@dataclass
class Split:
    """A dataset cut into train, validation and test ratings.

    Attributes:
        dataset: The dataset the ratings come from (items, users, scale).
        train: Ratings to fit on.
        validation: Ratings for early stopping and tuning.
        test: Ratings to report on.
        method: Name of the split method.
        seed: Seed used (random and cold-items splits).
        cold_items: For ``cold-items``: ``{"validation": ..., "test": ...}``,
            the sorted frame IDs of each part's cold items (its candidates).
    """

    dataset: Dataset
    train: pd.DataFrame
    validation: pd.DataFrame
    test: pd.DataFrame
    method: str
    seed: int = 0
    cold_items: dict | None = None

    def with_validation_in_train(self) -> Split:
        """The split for ``--refit``: train + validation as train, no validation."""
        train = pd.concat([self.train, self.validation], ignore_index=True)
        return Split(
            self.dataset,
            train,
            self.validation.iloc[:0],
            self.test,
            f"{self.method}+refit",
            self.seed,
            None if self.cold_items is None else {"test": self.cold_items["test"]},
        )

    def sizes(self) -> dict:
        """Row counts per part."""
        return {
            "train": len(self.train),
            "validation": len(self.validation),
            "test": len(self.test),
        }


def split(
    dataset: Dataset, method: str = "temporal", seed: int = 0, fraction: float = 0.1
) -> Split:
    """Splits ``dataset`` with the named method.

    Args:
        dataset: The dataset to split.
        method: One of ``SPLIT_METHODS``.
        seed: Seed of the random split.
        fraction: Share of validation and of test (temporal, random, global-time).

    Returns:
        A :class:`Split`.
    """
    check_choice("split", method, SPLIT_METHODS)
    if method in TIMED_METHODS and not dataset.has_timestamps:
        raise ConfigError(
            f"split {method!r} orders interactions by time, and {dataset.name!r} has no "
            "timestamp column; use --split random (or map one: --columns timestamp=COLUMN)"
        )
    if not 0 < fraction < 0.5:
        raise ConfigError(f"fraction must be between 0 and 0.5; got {fraction!r}")
    ratings = dataset.ratings
    cold = None
    if method == "cold-items":
        part, cold = _cold_items(ratings, seed)
        dataset = _without_tags(dataset, np.concatenate([cold["validation"], cold["test"]]))
    elif method == "none":
        part = np.zeros(len(ratings), dtype=np.int8)
    elif method == "temporal":
        ratings, part = _temporal(ratings, fraction)
    elif method == "leave-one-out":
        ratings, part = _leave_one_out(ratings)
    elif method == "random":
        part = _random(len(ratings), seed, fraction)
    else:
        ratings, part = _global_time(ratings, fraction)
    return Split(
        dataset,
        ratings[part == 0].reset_index(drop=True),
        ratings[part == 1].reset_index(drop=True),
        ratings[part == 2].reset_index(drop=True),
        method,
        seed,
        cold,
    )


def _by_user_then_time(ratings: pd.DataFrame):
    """Ratings sorted stably by (user, timestamp), each row's position in its user
    and its user's count."""
    order = np.lexsort((ratings["timestamp"].to_numpy(), ratings["user_id"].to_numpy()))
    ratings = ratings.iloc[order].reset_index(drop=True)
    users = ratings["user_id"].to_numpy()
    starts = np.flatnonzero(np.r_[True, users[1:] != users[:-1]])
    counts = np.diff(np.r_[starts, len(users)])
    position = np.arange(len(users)) - np.repeat(starts, counts)
    return ratings, position, np.repeat(counts, counts)


def _temporal(ratings, fraction):
    ratings, position, n = _by_user_then_time(ratings)
    n_test = np.maximum(1, (n * fraction).astype(np.int64))
    part = np.zeros(len(ratings), dtype=np.int8)
    part[position >= n - 2 * n_test] = 1
    part[position >= n - n_test] = 2
    return ratings, part


def _leave_one_out(ratings):
    ratings, position, n = _by_user_then_time(ratings)
    part = np.zeros(len(ratings), dtype=np.int8)
    eligible = n >= 3
    part[eligible & (position == n - 2)] = 1
    part[eligible & (position == n - 1)] = 2
    return ratings, part


def _random(n_rows, seed, fraction):
    u = np.random.default_rng(seed).random(n_rows)
    return np.where(u < fraction, 2, np.where(u < 2 * fraction, 1, 0)).astype(np.int8)


def _cold_items(ratings, seed):
    items = ratings["item_id"].to_numpy()
    counts = np.bincount(items)
    eligible = np.flatnonzero(counts >= COLD_MIN_RATINGS)  # sorted
    order = np.random.default_rng(seed).permutation(eligible)
    n_test = int(len(eligible) * COLD_TEST_SHARE)
    n_validation = int(len(eligible) * COLD_VALIDATION_SHARE)
    if n_test == 0 or n_validation == 0:
        raise ConfigError(
            f"split 'cold-items' needs at least 10 items with {COLD_MIN_RATINGS}+ ratings; "
            f"this data has {len(eligible)}"
        )
    test, validation = np.sort(order[:n_test]), np.sort(order[n_test : n_test + n_validation])
    part = np.zeros(len(items), dtype=np.int8)
    part[np.isin(items, validation)] = 1
    part[np.isin(items, test)] = 2
    return part, {"validation": validation, "test": test}


def _without_tags(dataset: Dataset, items: np.ndarray) -> Dataset:
    """The dataset with the tags of ``items`` removed: tags are interactions, and a
    cold item's would tell who watched it."""
    table = dataset.items.copy()
    cold = table["item_id"].isin(items).to_numpy()
    table["tags"] = [[] if c else t for c, t in zip(cold, table["tags"], strict=True)]
    return dataclasses.replace(dataset, items=table)


def _global_time(ratings, fraction):
    order = np.argsort(ratings["timestamp"].to_numpy(), kind="stable")
    ratings = ratings.iloc[order].reset_index(drop=True)
    rank = np.arange(len(ratings)) / max(len(ratings), 1)
    part = np.where(rank >= 1 - fraction, 2, np.where(rank >= 1 - 2 * fraction, 1, 0))
    return ratings, part.astype(np.int8)
