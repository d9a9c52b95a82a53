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
* ``cold-users`` (new users): the users, sorted, permuted by
  ``numpy.random.default_rng(seed)``; the first 20% are the test cold users,
  the next 10% the validation cold users, and all their interactions leave
  train. Each cold user's interactions with train items (others dropped),
  sorted by (timestamp, item), give the first ``history`` (H, default 5) as
  what the user brings (``Split.given``) and the next 10 as relevant
  (``validation`` / ``test``); later ones are dropped. On data without
  timestamps the order is a seeded shuffle instead. Models that serve new
  users rank every train item but the given ones from the given items (H = 0:
  from nothing but what they know of the user's features).
* ``none``: every rating in train (for fitting a final model).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tfrec.data.schema import Dataset
from tfrec.errors import ConfigError, check_choice

SPLIT_METHODS = (
    "temporal",
    "leave-one-out",
    "random",
    "global-time",
    "cold-items",
    "cold-users",
    "none",
)
COLD_MIN_RATINGS = 5  # items with fewer ratings are never cold
COLD_TEST_SHARE, COLD_VALIDATION_SHARE = 0.2, 0.1
DEFAULT_HISTORY = 5  # cold-users: interactions a new user brings
COLD_RELEVANT = 10  # cold-users: the interactions after them that are relevant
TIMED_METHODS = ("temporal", "leave-one-out", "global-time")
# The splits only some models can score: the capability they need, and who is new.
NEEDS = {"cold-items": ("serves_new_items", "items"), "cold-users": ("serves_new_users", "users")}


def models_for(method: str, names) -> tuple[list[str], list[str]]:
    """``names`` split into the models that can be scored on ``method`` and the others."""
    from tfrec.models import model_class

    if method.split("+")[0] not in NEEDS:
        return list(names), []
    flag = NEEDS[method.split("+")[0]][0]
    able = [n for n in names if getattr(model_class(n), flag)]
    return able, [n for n in names if n not in able]


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
        given: For ``cold-users``: ``{"validation": ..., "test": ...}``, the
            interactions each part's cold users bring (their first
            ``history``, oldest first); ``validation`` / ``test`` hold the
            next ones, the relevant items.
        history: For ``cold-users``: the number of given interactions (H).
        train_shards: For a prepared directory: its train shards
            (:class:`~tfrec.data.prepare.stream.TrainShards`), which the
            models that stream epochs (mf) read instead of ``train``.
        part_shards: For a prepared directory: ``{part: row count of each
            shard}``; each part is its shards' rows, shard after shard, and
            shard s of every part holds the same users (evaluation ranks a
            shard's users at a time).
    """

    dataset: Dataset
    train: pd.DataFrame
    validation: pd.DataFrame
    test: pd.DataFrame
    method: str
    seed: int = 0
    cold_items: dict | None = None
    given: dict | None = None
    history: int | None = None
    train_shards: object | None = None
    part_shards: dict | None = None

    def with_validation_in_train(self) -> Split:
        """The split for ``--refit``: train + validation as train, no validation
        (for ``cold-users``, the validation users' given interactions too)."""
        parts = [self.train, self.validation]
        if self.given is not None:
            parts.insert(1, self.given["validation"])
        return dataclasses.replace(
            self,
            train=pd.concat(parts, ignore_index=True),
            validation=self.validation.iloc[:0],
            method=f"{self.method}+refit",
            cold_items=None if self.cold_items is None else {"test": self.cold_items["test"]},
            given=None if self.given is None else {"test": self.given["test"]},
            train_shards=None,  # train is no longer the shards' rows
            part_shards=None,
        )

    def sizes(self) -> dict:
        """Row counts per part."""
        return {
            "train": len(self.train),
            "validation": len(self.validation),
            "test": len(self.test),
        }


def split(
    dataset: Dataset,
    method: str = "temporal",
    seed: int = 0,
    fraction: float = 0.1,
    history: int | None = None,
) -> Split:
    """Splits ``dataset`` with the named method.

    Args:
        dataset: The dataset to split.
        method: One of ``SPLIT_METHODS``.
        seed: Seed of the random split.
        fraction: Share of validation and of test (temporal, random, global-time).
        history: ``cold-users`` only: interactions each cold user brings (H,
            default 5; 0: none).

    Returns:
        A :class:`Split`.
    """
    check_choice("split", method, SPLIT_METHODS)
    if history is not None and method != "cold-users":
        raise ConfigError(
            f"history applies to split 'cold-users' only; got split {method!r} "
            "(drop --history, or use --split cold-users)"
        )
    if method == "cold-users":
        return _cold_users(dataset, seed, DEFAULT_HISTORY if history is None else history)
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


def _cold_users(dataset: Dataset, seed: int, history: int) -> Split:
    if isinstance(history, bool) or not isinstance(history, (int, np.integer)) or history < 0:
        raise ConfigError(f"history must be a non-negative integer; got {history!r}")
    ratings = dataset.ratings
    users = np.unique(ratings["user_id"].to_numpy())
    order = np.random.default_rng(seed).permutation(users)
    n_test = int(len(users) * COLD_TEST_SHARE)
    n_validation = int(len(users) * COLD_VALIDATION_SHARE)
    if n_test == 0 or n_validation == 0:
        raise ConfigError(f"split 'cold-users' needs at least 10 users; this data has {len(users)}")
    part_of_user = {"test": order[:n_test], "validation": order[n_test : n_test + n_validation]}
    cold = np.isin(ratings["user_id"].to_numpy(), order[: n_test + n_validation])
    train = ratings[~cold].reset_index(drop=True)
    rest = ratings[cold & ratings["item_id"].isin(train["item_id"].unique()).to_numpy()]
    if dataset.has_timestamps:
        rest = rest.sort_values(["user_id", "timestamp", "item_id"], kind="stable")
    else:  # no time order: a seeded shuffle within each user
        shuffle = np.random.default_rng(seed + 1).random(len(rest))
        rest = rest.iloc[np.lexsort((shuffle, rest["user_id"].to_numpy()))]
    position = rest.groupby("user_id", sort=False).cumcount().to_numpy()
    given, relevant = {}, {}
    for part, part_users in part_of_user.items():
        mine = rest["user_id"].isin(part_users).to_numpy()
        given[part] = rest[mine & (position < history)].reset_index(drop=True)
        window = (position >= history) & (position < history + COLD_RELEVANT)
        relevant[part] = rest[mine & window].reset_index(drop=True)
    return Split(
        dataset,
        train,
        relevant["validation"],
        relevant["test"],
        "cold-users",
        seed,
        given=given,
        history=int(history),
    )


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
