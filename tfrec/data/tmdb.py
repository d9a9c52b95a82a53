"""Optional TMDB metadata from "The Movies Dataset" (Kaggle) CSV files.

Put ``movies_metadata.csv`` and, optionally, ``keywords.csv`` in the
MovieLens directory (or in its ``tmdb/`` subdirectory); items are joined
through ``links.csv``'s ``tmdbId``. Absent files mean no enrichment.

Added item columns: ``overview`` (text), ``keywords`` and
``production_companies`` (names joined by ``|``; read as text by
:mod:`tfrec.features.text`, and as categories by
:mod:`tfrec.features.item_features`), ``runtime``,
``vote_average`` and ``vote_count`` (floats, NaN when unknown).

The list columns are Python-literal lists of ``{'id': ..., 'name': ...}``
dicts, parsed with :func:`ast.literal_eval` (literals only, never code).
The file has a few malformed rows whose ``id`` is not a number; they are
skipped.
"""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pandas as pd

from tfrec.data.tables import read_table
from tfrec.errors import DataError

TMDB_COLUMNS = (
    "overview",
    "keywords",
    "production_companies",
    "runtime",
    "vote_average",
    "vote_count",
)


def find_tmdb(directory: Path) -> Path | None:
    """The directory holding ``movies_metadata.csv``, if any."""
    for candidate in (directory, directory / "tmdb"):
        if (candidate / "movies_metadata.csv").is_file():
            return candidate
    return None


def read_tmdb(directory: Path) -> pd.DataFrame:
    """One row per TMDB id: ``tmdb_id`` and :data:`TMDB_COLUMNS`."""
    path = directory / "movies_metadata.csv"
    meta = read_table(path, sep=",", dtype=str)
    _require(meta, ("id", "overview", "production_companies", "runtime"), path)
    meta["tmdb_id"] = pd.to_numeric(meta["id"], errors="coerce")
    meta = meta.dropna(subset=["tmdb_id"]).drop_duplicates("tmdb_id")
    frame = pd.DataFrame(
        {
            "tmdb_id": meta["tmdb_id"].astype(np.int64),
            "overview": meta["overview"].fillna("").astype(str),
            "production_companies": meta["production_companies"].map(_names),
            **{c: _number(meta, c) for c in ("runtime", "vote_average", "vote_count")},
        }
    )
    keywords_path = directory / "keywords.csv"
    if keywords_path.is_file():
        keywords = read_table(keywords_path, sep=",", dtype=str)
        _require(keywords, ("id", "keywords"), keywords_path)
        keywords["tmdb_id"] = pd.to_numeric(keywords["id"], errors="coerce")
        keywords = keywords.dropna(subset=["tmdb_id"]).drop_duplicates("tmdb_id")
        keywords = pd.DataFrame(
            {
                "tmdb_id": keywords["tmdb_id"].astype(np.int64),
                "keywords": keywords["keywords"].map(_names),
            }
        )
        frame = frame.merge(keywords, on="tmdb_id", how="left")
    else:
        frame["keywords"] = ""
    frame["keywords"] = frame["keywords"].fillna("")
    return frame[["tmdb_id", *TMDB_COLUMNS]]


def enrich(items: pd.DataFrame, tmdb: pd.DataFrame) -> pd.DataFrame:
    """Items with the TMDB columns joined through their ``tmdb_id``."""
    if "tmdb_id" not in items.columns:
        raise DataError("TMDB metadata needs links.csv (its tmdbId column) to join on")
    keys = pd.to_numeric(items["tmdb_id"], errors="coerce").astype("Int64")
    joined = items.assign(_key=keys).merge(
        tmdb.rename(columns={"tmdb_id": "_key"}).astype({"_key": "Int64"}), on="_key", how="left"
    )
    for column in ("overview", "keywords", "production_companies"):
        joined[column] = joined[column].fillna("")
    return joined.drop(columns="_key")


def _number(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame.columns:
        return pd.Series(np.nan, index=frame.index)
    return pd.to_numeric(frame[column], errors="coerce")


def _names(value) -> str:
    """ "[{'id': 1, 'name': 'Pixar'}, {'id': 2, 'name': 'Disney'}]" -> "Pixar|Disney"."""
    if not isinstance(value, str) or not value.startswith("["):
        return ""
    try:
        entries = ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return ""
    return "|".join(str(e["name"]) for e in entries if isinstance(e, dict) and "name" in e)


def _require(frame: pd.DataFrame, columns, path: Path) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(
            f"{path}: missing column(s) {', '.join(missing)}; expected The Movies Dataset format"
        )
