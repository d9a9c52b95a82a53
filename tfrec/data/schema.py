"""The one in-memory schema every dataset is read into.

* ``ratings``: ``user_id`` (int32), ``item_id`` (int32), ``rating`` (float32),
  ``timestamp`` (int64, seconds since the epoch); one row per (user, item).
  Implicit feedback (no rating column in the source) has rating 1.0 and may
  carry ``weight`` (float32): the pair's strength (a play count, hours, a
  quantity, or how many times the pair occurred).
* ``items``: ``item_id``, ``title``, ``genres`` (list of str), ``tags``
  (list of str), ``year`` (float, NaN when unknown); one row per item.
* ``users``: ``user_id`` (int32, coded as in ``ratings``) plus the user
  features (one row per user of the ratings, sorted; missing values where the
  user table lacks a user), or None.
* ``features``: which columns of ``users``, ``items`` and ``ratings`` are typed
  features (user, item and context features), see
  :mod:`tfrec.data.feature_schema`; empty by default.

IDs in the frames are integers. Where the source's IDs are strings (or
integers outside int32), the frames hold each ID's row in a
:class:`~tfrec.data.vocabulary.Vocabulary` of the raw IDs (``user_vocab``,
``item_vocab``), assigned in the raw IDs' sorted order; models keep the raw
IDs, so users only ever see those.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from tfrec.data.feature_schema import FeatureSchema
from tfrec.data.vocabulary import Vocabulary
from tfrec.errors import DataError

RATING_COLUMNS = ("user_id", "item_id", "rating", "timestamp")
RATING_DTYPES = {
    "user_id": np.int32,
    "item_id": np.int32,
    "rating": np.float32,
    "timestamp": np.int64,
}


@dataclass
class Dataset:
    """Ratings, items and (optionally) users of one dataset.

    Attributes:
        name: Dataset name as in the registry (``"ml-latest-small"``, ``"synthetic"``).
        ratings: Ratings frame, see the module docstring.
        items: Items frame, see the module docstring.
        users: Users frame with demographics, or None.
        rating_scale: (lowest, highest) rating the dataset allows.
        source: Where the data came from (a directory, a file or "generated").
        user_vocab: Raw user IDs when the frames hold rows into them (string
            IDs); None when the frames hold the raw integer IDs.
        item_vocab: The same for item IDs (the ratings' and the items table's).
        implicit: True when the source has no ratings: every row is an
            interaction, rating 1.0; the rating models refuse such data.
        has_timestamps: False when the source has no time column (all
            timestamps 0); the splits that need time refuse such data.
        extra: What the reader wants ``tfrec data info`` to show (the column
            mapping, k-core counts, ...).
        features: The typed user, item and context features among the
            frames' columns (:class:`~tfrec.data.feature_schema.FeatureSchema`).
    """

    name: str
    ratings: pd.DataFrame
    items: pd.DataFrame
    users: pd.DataFrame | None = None
    rating_scale: tuple[float, float] = (0.5, 5.0)
    source: str = ""
    extra: dict = field(default_factory=dict)
    user_vocab: Vocabulary | None = None
    item_vocab: Vocabulary | None = None
    implicit: bool = False
    has_timestamps: bool = True
    features: FeatureSchema = field(default_factory=FeatureSchema)

    def raw_user_ids(self, ids) -> np.ndarray:
        """The raw user IDs of frame IDs (the same array when they are raw)."""
        return np.asarray(ids) if self.user_vocab is None else self.user_vocab.decode(ids)

    def raw_item_ids(self, ids) -> np.ndarray:
        """The raw item IDs of frame IDs (the same array when they are raw)."""
        return np.asarray(ids) if self.item_vocab is None else self.item_vocab.decode(ids)

    def info(self) -> dict:
        """Counts and date range, as printed by ``tfrec data info``."""
        ts = self.ratings["timestamp"]
        n_users = int(self.ratings["user_id"].nunique())
        n_items = int(self.ratings["item_id"].nunique())
        n = len(self.ratings)
        dated = n and self.has_timestamps
        first = pd.to_datetime(ts.min(), unit="s") if dated else None
        last = pd.to_datetime(ts.max(), unit="s") if dated else None
        return {
            "dataset": self.name,
            "source": self.source,
            "n_users": n_users,
            "n_items": n_items,
            "n_items_in_catalog": int(len(self.items)),
            "n_ratings": int(n),
            "density": n / (n_users * n_items) if n else 0.0,
            "feedback": "implicit" if self.implicit else "explicit",
            "user_ids": _id_kind(self.user_vocab),
            "item_ids": _id_kind(self.item_vocab),
            "rating_scale": None if self.implicit else list(self.rating_scale),
            "mean_rating": None if self.implicit or not n else float(self.ratings["rating"].mean()),
            "first_rating": first.strftime("%Y-%m-%d") if first is not None else None,
            "last_rating": last.strftime("%Y-%m-%d") if last is not None else None,
            "weights": _weight_summary(self.ratings),
            "has_tags": bool(self.items["tags"].map(len).sum() > 0),
            "has_user_demographics": self.users is not None,
            **self._feature_info(),
            **self.extra,
        }

    def _feature_info(self) -> dict:
        """The feature schema (source, type, cardinality, missing share, an
        example per feature, and ``context_time``); nothing without features."""
        if not self.features:
            return {}
        from tfrec.data.feature_columns import summary

        frames = {"user": self.users, "item": self.items, "context": self.ratings}
        return {
            "features": summary(self.features, frames),
            "context_time": self.features.context_time,
        }


def _weight_summary(ratings: pd.DataFrame) -> str | None:
    """The strengths' range and median, e.g. ``"0.1 to 11,754 (median 4.5)"``; None: none."""
    if "weight" not in ratings or not len(ratings):
        return None
    w = ratings["weight"].to_numpy()

    def text(x) -> str:
        return f"{x:,.0f}" if x >= 1000 else f"{x:.4g}"

    return f"{text(w.min())} to {text(w.max())} (median {text(np.median(w))})"


def _id_kind(vocab: Vocabulary | None) -> str:
    if vocab is None or not vocab.is_string:
        return "integer"
    return "string"


def validate_ratings(ratings: pd.DataFrame, rating_scale, source: str) -> pd.DataFrame:
    """Checks a ratings frame and returns it with the schema's dtypes.

    Args:
        ratings: Frame with at least the columns of ``RATING_COLUMNS``.
        rating_scale: (lowest, highest) allowed rating.
        source: Path or name used in error messages.

    Raises:
        DataError: Missing columns, NaN, out-of-scale ratings or duplicate
            (user_id, item_id) rows, with the first offending row.
    """
    missing = [c for c in RATING_COLUMNS if c not in ratings.columns]
    if missing:
        raise DataError(
            f"{source}: missing column(s) {', '.join(missing)}; a ratings file needs "
            f"{', '.join(RATING_COLUMNS)} (MovieLens: userId, movieId, rating, timestamp)"
        )
    ratings = ratings.loc[:, list(RATING_COLUMNS)]
    nan_rows = ratings.isna().any(axis=1).to_numpy()
    if nan_rows.any():
        row = int(np.flatnonzero(nan_rows)[0])
        raise DataError(
            f"{source}: {int(nan_rows.sum())} rating row(s) have empty or NaN values, first at "
            f"data row {row + 1}: {ratings.iloc[row].to_dict()}; remove or fill those rows"
        )
    low, high = rating_scale
    values = ratings["rating"].to_numpy()
    bad = (values < low) | (values > high)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{source}: rating {float(values[row]):g} at data row {row + 1} is outside the "
            f"rating scale [{low}, {high}] ({int(bad.sum())} such rows); "
            "fix the file or the dataset's scale"
        )
    ratings = ratings.astype(RATING_DTYPES)
    dup = ratings.duplicated(["user_id", "item_id"]).to_numpy()
    if dup.any():
        row = int(np.flatnonzero(dup)[0])
        r = ratings.iloc[row]
        raise DataError(
            f"{source}: {int(dup.sum())} duplicate (user_id, item_id) row(s), first user_id="
            f"{int(r.user_id)} item_id={int(r.item_id)} at data row {row + 1}; keep one rating "
            f"per pair (e.g. the latest)"
        )
    return ratings.reset_index(drop=True)


def make_items(item_ids, titles=None, genres=None, tags=None, years=None) -> pd.DataFrame:
    """Builds an items frame in the schema from parallel sequences."""
    item_ids = np.asarray(item_ids, dtype=np.int32)
    n = len(item_ids)
    return pd.DataFrame(
        {
            "item_id": item_ids,
            "title": list(titles) if titles is not None else [f"item {i}" for i in item_ids],
            "genres": list(genres) if genres is not None else [[] for _ in range(n)],
            "tags": list(tags) if tags is not None else [[] for _ in range(n)],
            "year": np.asarray(years, dtype=float) if years is not None else np.full(n, np.nan),
        }
    )


def complete_items(items: pd.DataFrame, ratings: pd.DataFrame) -> pd.DataFrame:
    """Adds placeholder rows for rated items missing from the items table."""
    missing = np.setdiff1d(ratings["item_id"].unique(), items["item_id"].to_numpy())
    if len(missing) == 0:
        return items.reset_index(drop=True)
    return pd.concat([items, make_items(missing)], ignore_index=True)
