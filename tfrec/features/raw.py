"""Raw feature values: the inputs of the feature layer, taken from the frames.

The models and SavedModels take each feature as one (batch,) array of raw
values (:mod:`tfrec.data.feature_schema` gives the conventions); these
functions take them from a dataset's frames, without TensorFlow.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

TIME_KEY = "timestamp"  # the input of context_time


def raw_values(features, frame: pd.DataFrame, rows=None, time: bool = False) -> dict:
    """The raw inputs of ``features`` from ``frame``'s columns, as numpy arrays.

    Args:
        features: :class:`~tfrec.data.feature_schema.Feature` list.
        frame: The frame holding them (users, items or ratings).
        rows: Positions of the rows to take (None: all).
        time: Also take ``timestamp`` (int64) for ``context_time``.

    Returns:
        ``{feature.key: array}``: ``object`` strings ("" missing) or float32
        (NaN missing), and ``"timestamp"`` int64 when ``time``.
    """
    taken = frame if rows is None else frame.iloc[np.asarray(rows)]
    values = {}
    for feature in features:
        column = taken[feature.name] if feature.name in taken else pd.Series([None] * len(taken))
        if feature.type == "numeric":
            values[feature.key] = pd.to_numeric(column, errors="coerce").to_numpy(np.float32)
        else:
            values[feature.key] = column.fillna("").astype(str).to_numpy(dtype=object)
    if time:
        values[TIME_KEY] = taken["timestamp"].to_numpy(np.int64)
    return values


def values_of(features, frame: pd.DataFrame | None, key: str, ids) -> dict:
    """The raw inputs of ``features`` for the rows of ``frame`` whose ``key`` is
    each of ``ids``, in that order (missing values for IDs it lacks, or when
    ``frame`` is None): e.g. the user features of some users from
    ``Dataset.users``."""
    ids = np.asarray(ids)
    if frame is None:
        return missing_values(features, len(ids))
    table = frame.drop_duplicates(key).set_index(key)
    rows = table.reindex(ids.astype(table.index.dtype, copy=False)).reset_index()
    return raw_values(features, rows)


def missing_values(features, n: int, time: bool = False) -> dict:
    """``n`` rows of missing values for ``features`` (a request that brings none)."""
    values = {
        f.key: np.full(n, np.nan, np.float32) if f.type == "numeric" else np.full(n, "", object)
        for f in features
    }
    if time:
        values[TIME_KEY] = np.full(n, -1, np.int64)
    return values
