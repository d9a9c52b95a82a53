"""Parsers for the official MovieLens file formats.

* ``latest``: ml-latest-small, ml-latest, ml-20m, ml-25m (CSV with a header,
  quoted titles; ratings.csv, movies.csv, tags.csv, links.csv).
* ``100k``: ml-100k (u.data tab-separated; u.item and u.user pipe-separated,
  latin-1, 19 genre flags).
* ``1m``: ml-1m (``::``-separated .dat files, latin-1, users.dat demographics).

Each reader takes the unpacked dataset directory and returns
(ratings, items, users) in the schema of :mod:`tfrec.data.schema`;
:func:`demographics` types the users' columns as features.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd

from tfrec.data import feature_columns as fc
from tfrec.data.feature_schema import Feature, FeatureSchema
from tfrec.data.schema import RATING_DTYPES, complete_items, make_items
from tfrec.data.tables import read_table
from tfrec.data.tmdb import enrich, find_tmdb, read_tmdb
from tfrec.errors import DataError

GENRES_100K = (
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
)
_YEAR_IN_TITLE = r"\((\d{4})\)\s*$"
# The demographics of u.user (ml-100k) and users.dat (ml-1m): ml-1m's age is
# the lower end of an age band (1, 18, 25, ...) and its occupation a code (0-20).
USER_FEATURES = {
    "age": "numeric",
    "gender": "category",
    "occupation": "category",
    "zip_code": "category",
}


def read_latest(directory: Path):
    """Reads the ml-latest / ml-20m / ml-25m CSV format."""
    ratings = read_table(
        directory / "ratings.csv",
        sep=",",
        dtype={
            "userId": np.int32,
            "movieId": np.int32,
            "rating": np.float32,
            "timestamp": np.int64,
        },
    )
    _require_columns(
        ratings, ("userId", "movieId", "rating", "timestamp"), directory / "ratings.csv"
    )
    ratings = ratings.rename(columns={"userId": "user_id", "movieId": "item_id"})
    movies = read_table(directory / "movies.csv", sep=",", dtype={"movieId": np.int32})
    _require_columns(movies, ("movieId", "title", "genres"), directory / "movies.csv")
    genres = movies["genres"].fillna("").map(_split_genres)
    tags = _read_tags(directory / "tags.csv", movies["movieId"])
    items = make_items(movies["movieId"], movies["title"], genres, tags, _years(movies["title"]))
    links = directory / "links.csv"
    if links.exists():
        link_frame = read_table(
            links, sep=",", dtype={"movieId": np.int32, "imdbId": str, "tmdbId": "Int64"}
        )
        items = items.merge(
            link_frame.rename(
                columns={"movieId": "item_id", "imdbId": "imdb_id", "tmdbId": "tmdb_id"}
            ),
            on="item_id",
            how="left",
        )
        tmdb = find_tmdb(directory)
        if tmdb is not None:
            items = enrich(items, read_tmdb(tmdb))
    return ratings, complete_items(items, ratings), None


def read_100k(directory: Path):
    """Reads the ml-100k format (u.data, u.item, u.user)."""
    ratings = read_table(
        directory / "u.data",
        sep="\t",
        header=None,
        names=["user_id", "item_id", "rating", "timestamp"],
        dtype=RATING_DTYPES,
    )
    item_columns = [
        "item_id",
        "title",
        "release_date",
        "video_release_date",
        "imdb_url",
        *GENRES_100K,
    ]
    raw = read_table(
        directory / "u.item",
        sep="|",
        header=None,
        names=item_columns,
        encoding="latin-1",
        dtype={"item_id": np.int32},
    )
    flags = raw.loc[:, list(GENRES_100K)].fillna(0).to_numpy(dtype=bool)
    genre_names = np.array(GENRES_100K, dtype=object)
    genres = [list(genre_names[row]) for row in flags]
    years = pd.to_datetime(raw["release_date"], format="%d-%b-%Y", errors="coerce").dt.year
    years = years.fillna(_years(raw["title"]))
    items = make_items(raw["item_id"], raw["title"].fillna(""), genres, None, years)
    users = None
    if (directory / "u.user").exists():
        users = read_table(
            directory / "u.user",
            sep="|",
            header=None,
            encoding="latin-1",
            names=["user_id", "age", "gender", "occupation", "zip_code"],
            dtype={"user_id": np.int32, "age": np.int32, "zip_code": str},
        )
    return ratings, complete_items(items, ratings), users


def read_1m(directory: Path):
    """Reads the ml-1m format (``::``-separated ratings.dat, movies.dat, users.dat)."""
    ratings = read_table(
        _double_colon(directory / "ratings.dat"),
        sep="\t",
        header=None,
        names=["user_id", "item_id", "rating", "timestamp"],
        dtype=RATING_DTYPES,
        source=str(directory / "ratings.dat"),
    )
    movies = read_table(
        _double_colon(directory / "movies.dat"),
        sep="\t",
        header=None,
        names=["item_id", "title", "genres"],
        encoding="latin-1",
        dtype={"item_id": np.int32},
        source=str(directory / "movies.dat"),
    )
    genres = movies["genres"].fillna("").map(_split_genres)
    items = make_items(movies["item_id"], movies["title"], genres, None, _years(movies["title"]))
    users = None
    if (directory / "users.dat").exists():
        users = read_table(
            _double_colon(directory / "users.dat"),
            sep="\t",
            header=None,
            names=["user_id", "gender", "age", "occupation", "zip_code"],
            encoding="latin-1",
            source=str(directory / "users.dat"),
            dtype={"user_id": np.int32, "age": np.int32, "occupation": np.int32, "zip_code": str},
        )
    return ratings, complete_items(items, ratings), users


def demographics(users: pd.DataFrame, ratings: pd.DataFrame) -> tuple[pd.DataFrame, FeatureSchema]:
    """A MovieLens users frame as user features, and their schema.

    Returns:
        One row per user of ``ratings`` (sorted; the IDs are the raw integers,
        as in the ratings), ``age`` float32, ``gender``, ``occupation`` and
        ``zip_code`` strings (``""`` for a user the table lacks); and the
        schema of :data:`USER_FEATURES`.
    """
    ids = np.unique(ratings["user_id"].to_numpy())
    rows = pd.Index(users["user_id"].to_numpy(np.int64)).get_indexer(ids)
    frame = pd.DataFrame({"user_id": ids.astype(np.int32)})
    features = []
    for name, kind in USER_FEATURES.items():
        text = users[name].astype(str).where(users[name].notna(), "").str.strip()
        frame[name] = fc.take(fc.convert(text, kind, column=name), rows, kind)
        features.append(Feature(name, "user", kind))
    return frame, FeatureSchema(tuple(features))


def _double_colon(path: Path) -> io.BytesIO:
    # pandas' C parser takes one-character separators only; '::' never occurs
    # inside ml-1m fields, and tabs do not occur at all.
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: file not found") from None
    return io.BytesIO(data.replace(b"::", b"\t"))


def _read_tags(path: Path, item_ids: pd.Series) -> list[list[str]]:
    if not path.exists():
        return [[] for _ in range(len(item_ids))]
    tags = read_table(path, sep=",", dtype={"movieId": np.int32, "tag": str})
    _require_columns(tags, ("movieId", "tag"), path)
    tags = tags.dropna(subset=["tag"])
    tags = tags.assign(tag=tags["tag"].str.strip().str.lower())
    tags = tags[tags["tag"] != ""].drop_duplicates(["movieId", "tag"])
    per_item = tags.groupby("movieId", sort=False)["tag"].agg(list)
    return [list(t) if isinstance(t, list) else [] for t in per_item.reindex(item_ids)]


def _split_genres(text: str) -> list[str]:
    if not text or text == "(no genres listed)":
        return []
    return text.split("|")


def _years(titles: pd.Series) -> pd.Series:
    return pd.to_numeric(titles.astype(str).str.extract(_YEAR_IN_TITLE)[0], errors="coerce")


def _require_columns(frame: pd.DataFrame, columns, path):
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataError(
            f"{path}: missing column(s) {', '.join(missing)}; "
            f"found {', '.join(map(str, frame.columns))}"
        )
