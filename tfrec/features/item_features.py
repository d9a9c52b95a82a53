"""Categorical and numeric item features, for models that read item metadata.

* :func:`item_categories`: each item's genres, production companies (TMDB)
  and runtime bucket (TMDB) as integer category IDs, padded into a table
  that a model embeds and averages (an "embedding bag" per item).
* :func:`item_numbers`: standardised runtime, vote average and log vote
  count (TMDB), for concatenation to content vectors.

Both read only the items they are given (the training items) and return
``None`` pieces when the dataset has no such column, so MovieLens without
TMDB metadata yields genres only and no numbers.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

RUNTIME_EDGES = (80, 90, 100, 110, 120, 135, 150)
NUMERIC_COLUMNS = ("runtime", "vote_average", "vote_count")
_NO_GENRE = "(no genres listed)"


@dataclasses.dataclass
class ItemCategories:
    """Category IDs per item.

    Attributes:
        table: int32 (n_items, width), category ID + 1 per entry, 0 pads.
        vocabulary: Category names; name of ID ``i`` is ``vocabulary[i]``.
    """

    table: np.ndarray
    vocabulary: list[str]


def item_categories(
    items: pd.DataFrame, item_ids: np.ndarray, min_count: int = 2, max_per_item: int = 16
) -> ItemCategories:
    """Genres, companies and runtime bucket of each item in ``item_ids`` order.

    Args:
        items: The dataset's items frame.
        item_ids: Raw item IDs, in the model's column order.
        min_count: Categories on fewer items are dropped (rare companies).
        max_per_item: At most this many categories per item are kept.

    Returns:
        The padded category table and its vocabulary.
    """
    frame = items.drop_duplicates("item_id").set_index("item_id").reindex(item_ids)
    names = [_categories(row) for row in frame.itertuples()]
    counts = pd.Series([n for row in names for n in set(row)], dtype=object).value_counts()
    vocabulary = sorted(counts.index[counts >= min_count])
    index = {name: i for i, name in enumerate(vocabulary)}
    rows = [[index[n] + 1 for n in row if n in index][:max_per_item] for row in names]
    width = max(1, max((len(r) for r in rows), default=0))
    table = np.zeros((len(rows), width), np.int32)
    for i, row in enumerate(rows):
        table[i, : len(row)] = row
    return ItemCategories(table, vocabulary)


def _categories(row) -> list[str]:
    out = []
    genres = getattr(row, "genres", None)
    if isinstance(genres, list):
        out += [f"genre:{g}" for g in genres if g != _NO_GENRE]
    companies = getattr(row, "production_companies", None)
    if isinstance(companies, str) and companies:
        out += [f"company:{c}" for c in dict.fromkeys(companies.split("|")) if c]
    runtime = getattr(row, "runtime", None)
    if runtime is not None and np.isfinite(runtime) and runtime > 0:
        out.append(f"runtime:{int(np.searchsorted(RUNTIME_EDGES, runtime, side='right'))}")
    return out


def item_numbers(items: pd.DataFrame, item_ids: np.ndarray) -> np.ndarray | None:
    """Standardised numeric TMDB features (unknown -> 0, the mean), or None.

    Vote counts are log1p-transformed first. Statistics come from the given
    (training) items.

    Returns:
        float32 (n_items, n_columns) or None when no column has a value.
    """
    frame = items.drop_duplicates("item_id").set_index("item_id").reindex(item_ids)
    columns = []
    for name in NUMERIC_COLUMNS:
        if name not in frame.columns:
            continue
        values = pd.to_numeric(frame[name], errors="coerce").to_numpy(np.float64)
        if name == "vote_count":
            values = np.log1p(np.clip(values, 0, None))
        known = np.isfinite(values)
        if known.sum() < 2:
            continue
        mean, std = values[known].mean(), values[known].std()
        columns.append(np.where(known, (values - mean) / (std if std > 0 else 1.0), 0.0))
    if not columns:
        return None
    return np.stack(columns, axis=1).astype(np.float32)
