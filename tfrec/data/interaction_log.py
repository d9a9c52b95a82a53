"""The user's own interaction log: CSV, TSV, Parquet or a DataFrame.

``read_interactions(source, columns=...)`` reads any table with a user and
an item column (and optionally a rating, a time and a strength column) into
tfrec's schema, with an optional items table. Files are parsed by pyarrow, so a
25-million-row log with string IDs and ISO times loads in seconds.

* **Columns.** ``columns={"user": ..., "item": ..., "rating": ...,
  "timestamp": ..., "weight": ...}`` maps the file's columns; without it
  they are found from common spellings (:data:`ALIASES`), and
  ``dataset.extra["columns"]`` says which were used. ``KEY="none"`` says the
  file has no such column (``rating="none"``: implicit feedback, whatever
  the columns are called). A text file without a header row takes
  ``header=False`` and ``names``; one whose header looks like data is
  pointed there.
* **Rating or strength.** A column is detected as a rating only when its
  name is a rating name (:data:`ALIASES`) *and* its values look like a
  rating scale (at most 21 distinct values within [-10, 10]); count-like
  names (count, plays, hours, value, quantity, duration, ...) become
  ``weight``, a non-negative strength that the implicit models read as
  confidence (:mod:`tfrec.models.weighting`).
* **IDs** are kept raw. A column whose every value is a plain integer in
  int32 range ("42", not "042") is an integer ID column and behaves exactly
  as MovieLens does; any other column (SKUs, "u123", "042", huge integers)
  gets a :class:`~tfrec.data.vocabulary.Vocabulary`, and models, SavedModels
  and the CLI take and return its raw IDs. IDs are kept exactly as written
  (" a" and "a" differ); ``extra["notes"]`` counts IDs with surrounding spaces.
* **Time.** Epoch seconds, epoch milliseconds (values above 1e11) or
  date/time text (ISO 8601 or what pandas parses, UTC unless the text has an
  offset), all converted to seconds; ``timestamp_unit`` forces ``s``, ``ms``
  or ``iso``. Without a time column, splits that need time refuse.
* **Feedback.** With a rating column, explicit (scale from the data unless
  ``rating_scale`` is given); without, implicit: every row an interaction,
  rating 1.0.
* **Repeated (user, item) rows**: ``duplicates`` is ``last`` (the latest by
  time; ties: the later row; the default for explicit data), ``first``,
  ``mean`` (mean rating, latest time), ``count`` (the latest row, with the
  number of rows as its ``weight``, or the sum of their weights when the log
  has a weight column; the default for implicit data) or ``error``.
  ``extra["notes"]`` says how many rows were collapsed and how.
* **k-core**: ``min_user_interactions`` / ``min_item_interactions`` drop,
  repeatedly, users and items with fewer interactions, before any split.
* **Items table** (``items=``, ``item_columns={"item", "title", "genres",
  "tags", "year"}``): list columns are split on ``list_sep`` (``|``). The
  content models use what it provides; without it items are IDs alone.
* **Features** (:mod:`tfrec.data.feature_columns`): ``users=`` a user table
  (its ``user_features``, every non-ID column by default), ``item_features``
  (columns of the items table), ``context_features`` (columns of the log)
  and ``context_time``, typed ``category``, ``multi``, ``numeric`` or
  ``text`` (detected when not given) into ``Dataset.features``; the values
  are in ``Dataset.users``, ``Dataset.items`` and ``Dataset.ratings``.

Every problem is a :class:`~tfrec.errors.DataError` naming the file, the
line (data row 1 is line 2, after the header) and the value.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import numpy as np
import pandas as pd

from tfrec.data import feature_columns as fc
from tfrec.data.feature_schema import FeatureSchema, parse_features
from tfrec.data.schema import Dataset, make_items
from tfrec.data.vocabulary import Vocabulary
from tfrec.errors import ConfigError, DataError, check_choice

RATING_KEYS = ("user", "item", "rating", "timestamp", "weight")
ITEM_KEYS = ("item", "title", "genres", "tags", "year")
USER_KEYS = ("user",)
DUPLICATE_POLICIES = ("last", "first", "mean", "count", "error")
TIMESTAMP_UNITS = ("s", "ms", "iso")
FILE_SUFFIXES = (".csv", ".tsv", ".txt", ".dat", ".parquet", ".pq")

# Spellings tried, in order, when a column is not mapped (compared without
# case, "_", "-" or spaces).
ALIASES = {
    "user": ("user", "user_id", "userid", "user_key", "customer", "customer_id", "client_id",
             "visitor", "visitor_id", "visitorid", "member_id", "account_id", "session_id", "uid"),
    "item": ("item", "item_id", "itemid", "movieid", "movie_id", "product", "product_id",
             "productid", "sku", "article", "article_id", "track_id", "song_id", "artist_id",
             "content_id", "asin", "iid"),
    "rating": ("rating", "ratings", "score", "stars", "star_rating", "preference"),
    "weight": ("weight", "count", "counts", "plays", "playcount", "play_count", "n_plays",
               "listens", "hours", "hours_played", "playtime", "value", "quantity", "qty",
               "amount", "duration", "dwell_time", "clicks", "views", "visits"),
    "timestamp": ("timestamp", "ts", "time", "datetime", "date", "event_time", "event_timestamp",
                  "created_at", "purchased_at", "order_date", "played_at", "time_stamp", "when"),
    "title": ("title", "name", "item_name", "product_name", "movie_title"),
    "genres": ("genres", "genre", "category", "categories", "tags_genre"),
    "tags": ("tags", "tag", "keywords", "labels"),
    "year": ("year", "release_year"),
}  # fmt: skip
_INT32_MAX = np.iinfo(np.int32).max
_MS_THRESHOLD = 1e11  # epoch seconds stay below it until the year 5138
_MAX_RATING_LEVELS = 21  # 0-10 in halves; more distinct values are not a rating scale


def parse_mapping(text: str | dict | None, keys=RATING_KEYS, flag="--columns") -> dict:
    """``"user=customer,item=sku"`` -> ``{"user": "customer", "item": "sku"}``.

    ``KEY=none`` (or None) maps KEY to None: the file has no such column, and
    none is detected (``rating=none``: implicit feedback).

    Raises:
        ConfigError: A pair without ``=`` or a key not in ``keys``.
    """
    if text is None:
        return {}
    pairs = text.items() if isinstance(text, dict) else _pairs(text, flag)
    mapping = {}
    for key, column in pairs:
        if key not in keys:
            raise ConfigError(f"unknown key {key!r} in {flag}; accepted: {', '.join(keys)}")
        mapping[key] = None if column is None or str(column).lower() == "none" else column
    return mapping


def _pairs(text: str, flag: str):
    for pair in filter(None, (p.strip() for p in text.split(","))):
        key, sep, column = pair.partition("=")
        if not sep or not key.strip() or not column.strip():
            raise ConfigError(f"{flag} takes KEY=COLUMN pairs, e.g. {flag} item=sku; got {pair!r}")
        yield key.strip(), column.strip()


def is_table_source(source) -> bool:
    """True for a DataFrame or a path that names a table file (not a dataset name)."""
    if isinstance(source, pd.DataFrame):
        return True
    if not isinstance(source, str | os.PathLike):
        return False
    path = Path(source)
    return path.suffix.lower() in FILE_SUFFIXES or path.is_file()


def read_interactions(
    source,
    *,
    columns: str | dict | None = None,
    sep: str | None = None,
    timestamp_unit: str | None = None,
    rating_scale: tuple[float, float] | None = None,
    duplicates: str | None = None,
    min_user_interactions: int = 1,
    min_item_interactions: int = 1,
    items=None,
    item_columns: str | dict | None = None,
    list_sep: str = "|",
    name: str | None = None,
    header: bool = True,
    names: str | list[str] | None = None,
    item_header: bool = True,
    item_names: str | list[str] | None = None,
    users=None,
    user_columns: str | dict | None = None,
    user_header: bool = True,
    user_names: str | list[str] | None = None,
    user_features: str | dict | None = None,
    item_features: str | dict | None = None,
    context_features: str | dict | None = None,
    context_time: bool = False,
) -> Dataset:
    """Reads an interaction log (and an optional items table) into a Dataset.

    Args:
        source: A ``.csv``, ``.tsv``/``.txt``/``.dat`` or ``.parquet`` path,
            or a pandas DataFrame.
        columns: ``{"user", "item", "rating", "timestamp", "weight"}`` ->
            column name (or ``"user=C,item=C"``); unmapped keys are detected,
            a key mapped to ``"none"`` is absent (``rating="none"``: implicit).
        sep: Field separator of text files; detected when None.
        timestamp_unit: ``s``, ``ms`` or ``iso``; detected when None.
        rating_scale: (lowest, highest) rating; the data's range when None.
        duplicates: Policy for repeated (user, item) rows, see the module doc.
        min_user_interactions: k-core threshold on users (1: no filter).
        min_item_interactions: k-core threshold on items (1: no filter).
        items: Items table: a path or a DataFrame, or None.
        item_columns: ``{"item", "title", "genres", "tags", "year"}`` -> column.
        list_sep: Separator of the list columns (genres, tags).
        name: Dataset name; the file's stem by default.
        header: False when a text log has no header row.
        names: Column names of a text log (``"a,b,c"`` or a list); without
            them a headerless log's columns are named ``1``, ``2``, ...
        item_header: ``header`` of the items table.
        item_names: ``names`` of the items table.
        users: User table: a path or a DataFrame with one row per user, or None.
        user_columns: ``{"user"}`` -> column of the user table (detected
            like the log's user column when not given).
        user_header: ``header`` of the user table.
        user_names: ``names`` of the user table.
        user_features: Columns of the user table that are features, with
            their types: ``"age=numeric,gender=category,zip"`` (a name
            without a type is detected); every non-ID column, detected,
            when None.
        item_features: Columns of the items table that are features, as
            ``user_features`` (none when None).
        context_features: Columns of the log that are features, known at
            request time, as ``user_features`` (none when None).
        context_time: The hour of day and the weekday of each interaction
            are context features (needs a time column).

    Returns:
        The dataset; ``extra`` holds the column mapping, filter counts and
        ``notes``: one line for each thing the reader changed or ignored.

    Raises:
        DataError: Unreadable or invalid data, naming the file, line and value.
        ConfigError: Invalid options.
    """
    given = parse_mapping(columns)
    if timestamp_unit is not None:
        check_choice("timestamp_unit", timestamp_unit, TIMESTAMP_UNITS)
    if duplicates is not None:
        check_choice("duplicates", duplicates, DUPLICATE_POLICIES)
    min_users = _check_min("min_user_interactions", min_user_interactions)
    min_items = _check_min("min_item_interactions", min_item_interactions)
    wanted = {
        "user": parse_features(user_features, "user"),
        "item": parse_features(item_features, "item"),
        "context": parse_features(context_features, "context"),
    }
    _check_feature_sources(users, items, wanted, user_columns)
    notes: list[str] = []
    table = _Table.open(source, sep, header, names)
    mapping = table.resolve(given, RATING_KEYS, required=("user", "item"), flag="--columns")
    fc.check_columns(table, wanted["context"], "--context-features", _taken(mapping))
    table.load(
        [*mapping.values(), *wanted["context"]],
        ids=(mapping["user"], mapping["item"], *wanted["context"]),
    )
    context, features, detected = fc.read_features(table, wanted["context"], "context", list_sep)
    if context_time and "timestamp" not in mapping:
        raise DataError(
            f"{table.source}: --context-time reads the hour and weekday of each interaction "
            "from its time, and the log has no time column; map one with --columns "
            "timestamp=COLUMN, or drop --context-time"
        )
    if "rating" not in given:
        _check_detected_rating(table, mapping, notes)
    weights = _weights(table, mapping, "weight" in given, notes)
    user_raw = table.ids(mapping["user"], notes)
    item_raw = table.ids(mapping["item"], notes)
    item_table = None
    if items is not None:
        item_table, item_mapping = _read_items_table(
            items, item_columns, item_header, item_names, wanted["item"]
        )
    elif item_columns:
        raise ConfigError("--item-columns needs --items, the items table to read")
    user_vocab, user_codes = _vocabulary(user_raw)
    item_vocab, codes = _vocabulary(
        item_raw if item_table is None else [item_raw, item_table.ids(item_mapping["item"])]
    )
    item_codes = codes[: len(item_raw)]
    implicit = "rating" not in mapping
    ratings = (
        np.ones(len(user_codes), np.float32)
        if implicit
        else table.numbers(mapping["rating"], "rating").astype(np.float32)
    )
    has_timestamps = "timestamp" in mapping
    times = (
        table.timestamps(mapping["timestamp"], timestamp_unit)
        if has_timestamps
        else np.zeros(len(user_codes), np.int64)
    )
    scale = _rating_scale(ratings, rating_scale, table.source, implicit)
    frame = pd.DataFrame(
        {"user_id": user_codes, "item_id": item_codes, "rating": ratings, "timestamp": times}
    )
    if weights is not None:
        frame["weight"] = weights
    for column, values in context.items():
        frame[column] = values.to_numpy()
    policy = duplicates or ("count" if implicit else "last")
    frame = _deduplicate(frame, policy, table, user_vocab, item_vocab, notes)
    before = _counts(frame)
    frame = k_core(frame, min_users, min_items)
    extra = {"columns": mapping, "duplicates": policy, "notes": notes}
    if min_users > 1 or min_items > 1:
        extra["k_core"] = {"before": before, "after": _counts(frame)}
    if item_table is not None:
        extra["item_columns"] = item_mapping
        item_codes = codes[len(item_raw) :]
        item_frame, found = _items_frame(item_table, item_mapping, item_codes, list_sep, wanted)
        item_frame = _with_missing_items(item_frame, frame, item_vocab)
        item_frame = fc.fill_missing(item_frame, found[1])
        _note_features(notes, "item", *found[1:])
    else:
        item_frame = _with_missing_items(make_items([]), frame, item_vocab)
    user_frame, schema = None, {"user": [], "item": [], "context": features}
    if users is not None:
        user_frame, user_found, user_detected, user_column = _read_users(
            users, user_columns, user_header, user_names, wanted["user"], list_sep,
            user_vocab, frame["user_id"].to_numpy(),
        )  # fmt: skip
        extra["user_columns"] = {"user": user_column}
        schema["user"] = user_found
        _note_features(notes, "user", user_found, user_detected)
    if item_table is not None:
        schema["item"] = found[1]
    _note_features(notes, "context", features, detected)
    return Dataset(
        name=name or table.name,
        ratings=frame.reset_index(drop=True),
        items=item_frame,
        rating_scale=scale,
        source=table.source,
        extra=extra,
        user_vocab=user_vocab,
        item_vocab=item_vocab,
        implicit=implicit,
        has_timestamps=has_timestamps,
        users=user_frame,
        features=FeatureSchema(
            (*schema["user"], *schema["item"], *schema["context"]), bool(context_time)
        ),
    )


def _check_feature_sources(users, items, wanted: dict, user_columns=None) -> None:
    """Refuses user options without a user table and item features without items."""
    if users is None and wanted["user"]:
        raise ConfigError("--user-features needs --users, the user table to read them from")
    if users is None and user_columns:
        raise ConfigError("--user-columns needs --users, the user table to read")
    if items is None and wanted["item"]:
        raise ConfigError("--item-features needs --items, the items table to read them from")


def _taken(mapping: dict) -> dict:
    """Column -> what tfrec reads it as (``user``, ``rating``, ...)."""
    return {column: key for key, column in mapping.items()}


def _note_features(notes: list[str], source: str, features, detected) -> None:
    if features:
        notes.append(fc.features_note(source, features, detected))


def _read_users(
    source, user_columns, header, names, wanted: dict, list_sep: str, vocab, log_users
) -> tuple[pd.DataFrame, list, list[str], str]:
    """The user table as a frame with one row per user of the log (sorted by
    ``user_id``, coded as the log's users), the features, the detected ones
    and the table's user column.

    Users of the log the table lacks get missing values; users of the table
    absent from the log are dropped.
    """
    table = _Table.open(source, None, header, names)
    mapping = table.resolve(
        parse_mapping(user_columns, USER_KEYS, "--user-columns"),
        USER_KEYS,
        required=("user",),
        flag="--user-columns",
    )
    column = mapping["user"]
    if not wanted:  # every other column, detected
        wanted = {name: None for name in table.names if name not in (column, "user_id")}
    fc.check_columns(table, wanted, "--user-features", {column: "user ID"})
    table.load([column, *wanted], ids=(column, *wanted))
    raw = pd.Series(table.ids(column).to_numpy(zero_copy_only=False), dtype=object)
    repeated = np.flatnonzero(raw.duplicated().to_numpy())
    if len(repeated):
        row = int(repeated[0])
        raise DataError(
            f"{table.where(row)}: user {raw.iloc[row]!r} occurs again in column {column!r} "
            f"({len(repeated)} repeated IDs); a user table has one row per user"
        )
    values, features, detected = fc.read_features(table, wanted, "user", list_sep)
    ids = np.unique(log_users)
    codes = _codes_of(raw, vocab)
    known = np.flatnonzero(codes >= 0)  # the table's users the log has
    found = pd.Index(codes[known]).get_indexer(ids)
    rows = np.where(found >= 0, known[found], -1)
    frame = pd.DataFrame({"user_id": ids.astype(np.int32)})
    for f in features:
        frame[f.name] = fc.take(values[f.name], rows, f.type)
    return frame, features, detected, column


def _codes_of(raw: pd.Series, vocab) -> np.ndarray:
    """The frame IDs of raw IDs (strings as written), as the log's ``_vocabulary``
    coded them; -1 for IDs the log does not have."""
    if vocab is not None and vocab.is_string:
        return vocab.encode(raw.to_numpy(object))
    numbers = pd.to_numeric(raw, errors="coerce")
    whole = numbers.notna().to_numpy() & (numbers.to_numpy() % 1 == 0)
    as_int = np.where(whole, numbers.fillna(-1).to_numpy(), -1).astype(np.int64)
    canonical = whole & (pd.Series(as_int).astype(str).to_numpy(object) == raw.to_numpy(object))
    if vocab is None:
        return np.where(canonical & (as_int <= _INT32_MAX), as_int, -1)
    codes = np.full(len(raw), -1, np.int64)
    codes[canonical] = vocab.encode(as_int[canonical])
    return codes


def read_items(
    source,
    item_columns: str | dict | None = None,
    list_sep: str = "|",
    header: bool = True,
    names: str | list[str] | None = None,
):
    """An items table on its own, with its raw item IDs (for new items at export).

    Returns:
        (vocabulary of the table's raw IDs or None when they are int32 integers,
        items frame in the schema whose ``item_id`` are rows of that vocabulary
        (or the integers), and the column mapping used).
    """
    table, mapping = _read_items_table(source, item_columns, header, names)
    vocab, codes = _vocabulary(table.ids(mapping["item"]))
    return vocab, _items_frame(table, mapping, codes, list_sep)[0], mapping


def _read_items_table(
    source, item_columns, header=True, names=None, features=()
) -> tuple[_Table, dict]:
    """An items table's mapped columns and feature columns (all as text), and the mapping."""
    table = _Table.open(source, None, header, names)
    mapping = table.resolve(
        parse_mapping(item_columns, ITEM_KEYS, "--item-columns"),
        ITEM_KEYS,
        required=("item",),
        flag="--item-columns",
    )
    fc.check_columns(table, features, "--item-features", {mapping["item"]: "item ID"})
    columns = (*mapping.values(), *features)
    table.load(columns, ids=columns)
    return table, mapping


def _check_min(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ConfigError(f"{name} must be an integer >= 1; got {value!r}")
    return int(value)


def _check_detected_rating(table: _Table, mapping: dict, notes: list[str]) -> None:
    """Drops a *detected* rating column whose values do not look like a rating scale.

    A rating scale is a small set of values (at most ``_MAX_RATING_LEVELS``)
    within [-10, 10], such as 1-5 stars in halves or 1-10.
    """
    column = mapping.get("rating")
    if column is None:
        return
    values = _as_numbers(table.table.column(column).combine_chunks())
    if values is None:  # text in a rating column: read as a rating, the bad value named
        return
    levels = np.sort(pd.unique(values[np.isfinite(values)]))
    if len(levels) <= _MAX_RATING_LEVELS and (not len(levels) or np.abs(levels).max() <= 10):
        return
    shown = f"{len(levels):,} distinct values from {levels[0]:g} to {levels[-1]:g}"
    del mapping["rating"]
    notes.append(
        f"column {column!r} is not read as a rating: it has {shown}, not a rating scale; "
        f"the data is implicit feedback (map it with --columns rating={column} or "
        f"weight={column})"
    )


def _weights(table: _Table, mapping: dict, mapped: bool, notes: list[str]) -> np.ndarray | None:
    """The strength column (counts, hours, quantities) as float32, or None.

    A detected column that is not a non-negative number is left out with a
    note; a mapped one is an error.
    """
    column = mapping.get("weight")
    if column is None:
        return None
    values = _as_numbers(table.table.column(column).combine_chunks())
    if values is None and mapped:
        table.numbers(column, "weight")  # raises, naming the first non-number
    bad = None if values is None else np.flatnonzero(~(values >= 0))
    if values is not None and not len(bad):
        return values.astype(np.float32)
    if mapped:
        row = int(bad[0])
        raise DataError(
            f"{table.where(row)}: weight column {column!r} has {values[row]:g}; a weight is "
            "a non-negative strength (count, hours, quantity): fix or drop those rows"
        )
    del mapping["weight"]
    notes.append(
        f"column {column!r} is not read as a weight: it is not a non-negative number on "
        f"every row (map another with --columns weight=COLUMN)"
    )
    return None


class _Table:
    """A table's columns (pyarrow), read once the wanted ones are known, and where
    each data row came from."""

    def __init__(self, source: str, name: str, names: list[str], read, first_line: int | None):
        self.source = source
        self.name = name
        self.names = names
        self._read = read  # (columns, id columns) -> pyarrow Table
        self.first_line = first_line  # line of data row 0 in a text file; None: no lines
        self.table = None
        self.header_is_data = False  # the header row of a text file looks like data

    @classmethod
    def open(cls, source, sep: str | None, header: bool = True, names=None) -> _Table:
        """Reads the column names (the header of a text file, or ``names``)."""
        import pyarrow as pa

        if isinstance(names, str):
            names = [n.strip() for n in names.split(",")]
        is_text = not isinstance(source, pd.DataFrame) and Path(source).suffix.lower() not in (
            ".parquet",
            ".pq",
        )
        if (not header or names) and not is_text:
            raise ConfigError(
                "--no-header and --names apply to text files (.csv, .tsv, ...); "
                f"{'the DataFrame' if isinstance(source, pd.DataFrame) else source} has "
                "column names already"
            )
        if isinstance(source, pd.DataFrame):
            if source.empty:
                raise DataError("the DataFrame is empty; expected interaction rows")
            frame = source.rename(columns=str)

            def read(columns, ids):
                return pa.Table.from_pandas(frame[list(columns)], preserve_index=False)

            return cls("DataFrame", "dataframe", list(frame.columns), read, None)
        path = Path(source).expanduser()
        if not path.is_file():
            raise DataError(
                f"{path}: no such file; --dataset takes a registered name (tfrec data list) "
                f"or a {', '.join(FILE_SUFFIXES)} file"
            )
        if path.suffix.lower() in (".parquet", ".pq"):
            table = _read_parquet(path)
            return cls(str(path), path.stem, table.column_names,
                       lambda columns, ids: table.select(list(columns)), None)  # fmt: skip
        first, sep = _read_header(path, sep)
        if names and len(names) != len(first):
            raise ConfigError(
                f"--names gives {len(names)} names ({','.join(names)}), but {path} has "
                f"{len(first)} fields per line"
            )
        columns = names or (first if header else [str(i + 1) for i in range(len(first))])
        skip = 1 if header else 0
        table = cls(str(path), path.stem, columns,
                    lambda wanted, ids: _read_text(path, sep, columns, wanted, ids, skip),
                    1 + skip)  # fmt: skip
        table.header_is_data = header and not names and _looks_like_data(first)
        return table

    def load(self, columns, ids) -> None:
        """Reads ``columns``; ``ids`` as text, so that "042" stays "042"."""
        self.table = self._read(list(dict.fromkeys(columns)), ids)

    def where(self, row: int) -> str:
        if self.first_line is None:
            return f"{self.source}, row {row + 1}"
        return f"{self.source}, line {row + self.first_line}"

    def resolve(self, mapping: dict, keys, required, flag: str) -> dict:
        """The column of each key: mapped ones checked, the others detected; keys
        mapped to None are left out."""
        names = self.names
        hint = (
            "; the first row looks like data, not column names: use --no-header (and --names)"
            if self.header_is_data
            else ""
        )
        for key, column in mapping.items():
            if column is None and key in required:
                raise ConfigError(f"{flag} {key}=none: a {key} column is required")
            if column is not None and column not in names:
                raise DataError(
                    f"{self.source}: column {column!r} ({flag} {key}={column}) is not in the "
                    f"file; it has: {', '.join(names)}{hint}"
                )
        normal = {_normal(n): n for n in reversed(names)}
        taken = set(mapping.values()) - {None}
        resolved = dict(mapping)
        for key in keys:
            if key in resolved:
                continue
            found = next((normal[a] for a in map(_normal, ALIASES[key]) if a in normal), None)
            if found is not None and found not in taken:
                resolved[key] = found
                taken.add(found)
            elif key in required:
                example = "user=customer,item=sku" if "user" in keys else "item=sku,title=name"
                raise DataError(
                    f"{self.source}: no {key} column found; tried {', '.join(ALIASES[key][:8])}, "
                    f"...; the file has: {', '.join(names)}{hint}. Map it with {flag} "
                    f"{key}=COLUMN (e.g. {flag} {example})"
                )
        return {key: resolved[key] for key in keys if resolved.get(key) is not None}

    def ids(self, column: str, notes: list[str] | None = None):
        """A column as strings exactly as written (integers as their text); missing
        values refused. IDs with surrounding spaces are kept as they are, and
        counted in ``notes``."""
        import pyarrow as pa
        import pyarrow.compute as pc

        values = self.table.column(column).combine_chunks()
        if pa.types.is_floating(values.type):  # as prepare reads it (_source.id_expression)
            values = pc.if_else(pc.is_nan(values), pa.scalar(None, values.type), values)
            whole = pc.and_(pc.equal(pc.floor(values), values), pc.less(pc.abs(values), 9.2e18))
            if pc.all(pc.or_kleene(whole, pc.is_null(values))).as_py():
                values = pc.cast(values, pa.int64())
        text = pc.cast(values, pa.string())
        trimmed = pc.utf8_trim_whitespace(text)
        if notes is not None:
            padded = pc.not_equal(trimmed, text)
            n_padded = pc.sum(pc.cast(padded, pa.int64())).as_py() or 0
            if n_padded:
                distinct = len(pc.unique(pc.filter(text, padded)))
                notes.append(
                    f"column {column!r}: {n_padded:,} rows ({distinct:,} distinct IDs) have "
                    "leading or trailing spaces; IDs are kept exactly as written, so 'a ' and "
                    "'a' are different IDs"
                )
        missing = _empty(trimmed)
        if missing.any():
            row = int(np.flatnonzero(missing)[0])
            raise DataError(
                f"{self.where(row)}: empty {column!r} (an ID is missing) in row "
                f"{self._row(row)}; remove the row or fill the ID"
            )
        return text

    def numbers(self, column: str, what: str) -> np.ndarray:
        """A numeric column as float64; a non-number or an empty value is refused."""
        import pyarrow as pa
        import pyarrow.compute as pc

        values = self.table.column(column).combine_chunks()
        if not (pa.types.is_integer(values.type) or pa.types.is_floating(values.type)):
            text = pc.utf8_trim_whitespace(pc.cast(values, pa.string()))
            parsed = pd.to_numeric(pd.Series(text.to_numpy(zero_copy_only=False)), errors="coerce")
            bad = np.flatnonzero(parsed.isna().to_numpy() & ~_empty(text))
            if len(bad):
                row = int(bad[0])
                raise DataError(
                    f"{self.where(row)}: {what} column {column!r} has {text[row].as_py()!r}, "
                    "which is not a number; fix the value or map another column"
                )
            out = parsed.to_numpy(np.float64)
        else:
            out = values.to_numpy(zero_copy_only=False).astype(np.float64)
        empty = np.flatnonzero(~np.isfinite(out))
        if len(empty):
            row = int(empty[0])
            raise DataError(
                f"{self.where(row)}: {what} column {column!r} is empty or NaN "
                f"({len(empty)} such rows); remove or fill those rows"
            )
        return out

    def timestamps(self, column: str, unit: str | None) -> np.ndarray:
        """A time column as int64 Unix seconds (see the module doc for units)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        values = self.table.column(column).combine_chunks()
        if pa.types.is_timestamp(values.type) or pa.types.is_date(values.type):
            if unit not in (None, "iso"):
                raise ConfigError(
                    f"timestamp_unit={unit!r}, but column {column!r} holds dates; use iso"
                )
            seconds = pc.cast(pc.cast(values, pa.timestamp("s")), pa.int64())
            return self._no_missing_time(seconds.to_numpy(zero_copy_only=False), column)
        if unit != "iso":
            numeric = _as_numbers(values)
            if numeric is not None:
                self._no_missing_time(numeric, column)
                if unit == "ms" or (unit is None and np.abs(numeric).max() > _MS_THRESHOLD):
                    numeric = numeric / 1000.0
                return np.floor(numeric).astype(np.int64)
            if unit is not None:
                text = pc.cast(values, pa.string())
                numbers = pd.to_numeric(text.to_numpy(zero_copy_only=False), errors="coerce")
                row = int(np.flatnonzero(np.isnan(numbers))[0])
                raise DataError(
                    f"{self.where(row)}: timestamp {text[row].as_py()!r} in column {column!r} "
                    f"is not a number of {'seconds' if unit == 's' else 'milliseconds'}; "
                    "use --timestamp-unit iso for date/time text"
                )
        text = pd.Series(pc.cast(values, pa.string()).to_numpy(zero_copy_only=False))
        parsed = pd.to_datetime(text, utc=True, format="ISO8601", errors="coerce")
        failed = parsed.isna().to_numpy() & text.notna().to_numpy()
        if failed.any():  # other layouts ("12/31/2020 10:00"): pandas' slower guess
            retry = pd.to_datetime(text[failed], utc=True, format="mixed", errors="coerce")
            parsed = parsed.copy()
            parsed[failed] = retry
        bad = np.flatnonzero(parsed.isna().to_numpy())
        if len(bad):
            row = int(bad[0])
            raise DataError(
                f"{self.where(row)}: cannot read timestamp {text.iloc[row]!r} in column "
                f"{column!r} as a date/time ({len(bad)} such rows); use ISO 8601 "
                "(2024-05-01T12:30:00), epoch seconds or milliseconds"
            )
        seconds = parsed.to_numpy(dtype="datetime64[s]", na_value=np.datetime64("NaT"))
        return seconds.astype(np.int64)

    def _no_missing_time(self, values: np.ndarray, column: str) -> np.ndarray:
        bad = np.flatnonzero(~np.isfinite(values.astype(np.float64)))
        if len(bad):
            raise DataError(
                f"{self.where(int(bad[0]))}: empty timestamp in column {column!r} "
                f"({len(bad)} such rows); remove or fill those rows"
            )
        return values.astype(np.int64)

    def _row(self, row: int) -> dict:
        return {k: v[0] for k, v in self.table.slice(row, 1).to_pydict().items()}


def _normal(name: str) -> str:
    return str(name).lower().replace("_", "").replace("-", "").replace(" ", "")


def _empty(text) -> np.ndarray:
    import pyarrow.compute as pc

    missing = pc.or_kleene(pc.is_null(text), pc.equal(text, ""))
    return missing.to_numpy(zero_copy_only=False)


def _as_numbers(values) -> np.ndarray | None:
    """A column as float64 when every value is a number (or missing), else None."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_integer(values.type) or pa.types.is_floating(values.type):
        return values.to_numpy(zero_copy_only=False).astype(np.float64)
    if not pa.types.is_string(values.type):
        return None
    try:
        pc.cast(pc.utf8_trim_whitespace(values.slice(0, 1000)), pa.float64())  # fails fast
        return pc.cast(pc.utf8_trim_whitespace(values), pa.float64()).to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def _read_header(path: Path, sep: str | None) -> tuple[list[str], str]:
    """The column names of a text file, and its separator (detected when None)."""
    if path.stat().st_size == 0:
        raise DataError(f"{path}: the file is empty; expected a header line and rows")
    with open(path, encoding="utf-8-sig", errors="replace", newline="") as f:
        head = [line for _, line in zip(range(50), f, strict=False)]
    if sep is None:
        sep = _detect_separator(head, path)
    elif len(sep) != 1:
        raise ConfigError(f"sep must be one character; got {sep!r}")
    header = next(csv.reader(io.StringIO(head[0]), delimiter=sep))
    return [h.strip() for h in header], sep


def _read_text(path: Path, sep: str, header: list[str], columns, ids, skip_rows: int):
    import pyarrow as pa
    import pyarrow.csv as pacsv

    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(column_names=header, skip_rows=skip_rows),
            parse_options=pacsv.ParseOptions(delimiter=sep),
            convert_options=pacsv.ConvertOptions(
                include_columns=list(columns),
                column_types={c: pa.string() for c in ids},
                strings_can_be_null=True,
            ),
        )
    except pa.ArrowInvalid as e:
        message = str(e).strip().splitlines()[0]
        raise DataError(f"{path}: malformed file: {message}") from None
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not UTF-8 text ({e.reason} at byte {e.start})") from None
    if table.num_rows == 0:
        raise DataError(
            f"{path}: the file has a header but no rows"
            if skip_rows
            else f"{path}: the file has no rows"
        )
    return table


def _looks_like_data(header: list[str]) -> bool:
    """True when a header row holds a number: the file probably has no header."""
    numbers = pd.to_numeric(pd.Series(header), errors="coerce")
    return bool(numbers.notna().any())


def _detect_separator(head: list[str], path: Path) -> str:
    """The one of , TAB ; | whose field count is the same (>1) on the first lines."""
    lines = [line for line in head if line.strip()]
    for candidate in (",", "\t", ";", "|"):
        counts = {len(row) for row in csv.reader(io.StringIO("".join(lines)), delimiter=candidate)}
        if len(counts) == 1 and counts.pop() > 1:
            return candidate
    raise DataError(
        f"{path}: cannot tell the field separator from the first lines (tried comma, tab, "
        "semicolon, |); pass --sep"
    )


def _read_parquet(path: Path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as e:
        raise DataError(f"{path}: not a readable Parquet file: {e}") from None
    if table.num_rows == 0:
        raise DataError(f"{path}: the file has no rows")
    return table


def _vocabulary(text) -> tuple[Vocabulary | None, np.ndarray]:
    """Integer IDs (None) or a Vocabulary, and each value's frame ID (int32).

    ``text`` is one string array or a list of them sharing one vocabulary.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    text = pa.chunked_array(text if isinstance(text, list) else [text]).combine_chunks()
    try:
        pc.cast(text.slice(0, 1000), pa.int64())  # text IDs fail here, fast
        numbers = pc.cast(text, pa.int64())
        canonical = pc.all(pc.equal(pc.cast(numbers, pa.string()), text)).as_py()
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        canonical = False
    if canonical:
        numbers = numbers.to_numpy()
        if len(numbers) and numbers.min() >= 0 and numbers.max() <= _INT32_MAX:
            return None, numbers.astype(np.int32)
        return Vocabulary.from_values(numbers)
    encoded = pc.dictionary_encode(text)
    labels = encoded.dictionary.to_numpy(zero_copy_only=False).astype(str)
    order = np.argsort(labels, kind="stable")
    rank = np.empty(len(order), np.int32)
    rank[order] = np.arange(len(order), dtype=np.int32)
    return Vocabulary(labels[order]), rank[encoded.indices.to_numpy()]


def _rating_scale(ratings, rating_scale, source: str, implicit: bool) -> tuple[float, float]:
    if implicit:
        if rating_scale is not None:
            raise ConfigError("rating_scale needs a rating column; this data has none")
        return (1.0, 1.0)
    if rating_scale is None:
        return (float(ratings.min()), float(ratings.max()))
    low, high = (float(x) for x in rating_scale)
    if not low < high:
        raise ConfigError(f"rating scale must be LO,HI with LO < HI; got {low:g},{high:g}")
    bad = np.flatnonzero((ratings < low) | (ratings > high))
    if len(bad):
        raise DataError(
            f"{source}: rating {float(ratings[bad[0]]):g} (data row {int(bad[0]) + 1}) is "
            f"outside the rating scale [{low:g}, {high:g}] ({len(bad)} such rows); fix the "
            "data or the --rating-scale"
        )
    return (low, high)


_KEPT = {
    "last": "kept the last of each",
    "first": "kept the first of each",
    "mean": "kept one row each with the mean rating",
    "count": "kept one row each, weighted by its number of rows",
}


def _deduplicate(
    frame: pd.DataFrame, policy: str, table: _Table, user_vocab, item_vocab, notes: list[str]
):
    """Applies the duplicates policy (rows keep their file order); says what it did."""
    users = frame["user_id"].to_numpy()
    items = frame["item_id"].to_numpy()
    keys = users.astype(np.int64) * (int(items.max()) + 1) + items
    repeated = pd.Series(keys).duplicated().to_numpy()
    if not repeated.any():
        return frame
    if policy == "error":
        row = int(np.flatnonzero(repeated)[0])
        user = _raw(user_vocab, users[row])
        item = _raw(item_vocab, items[row])
        raise DataError(
            f"{table.where(row)}: user {user!r} and item {item!r} occur again "
            f"({int(repeated.sum())} repeated pairs); choose --duplicates last, first, mean "
            "or count"
        )
    times = frame["timestamp"].to_numpy()
    order = np.lexsort((np.arange(len(frame)), times, keys))
    sorted_keys = keys[order]
    starts = np.flatnonzero(np.r_[True, sorted_keys[1:] != sorted_keys[:-1]])
    ends = np.r_[starts[1:], len(order)]
    keep = order[starts] if policy == "first" else order[ends - 1]
    out = frame.iloc[keep].copy()
    if policy == "mean":
        sums = np.add.reduceat(frame["rating"].to_numpy(np.float64)[order], starts)
        out["rating"] = (sums / (ends - starts)).astype(np.float32)
    kept = _KEPT[policy]
    if policy == "count" and "weight" in frame:
        sums = np.add.reduceat(frame["weight"].to_numpy(np.float64)[order], starts)
        out["weight"] = sums.astype(np.float32)
        kept = "kept one row each, its weight the sum of theirs"
    elif policy == "count":
        out["weight"] = (ends - starts).astype(np.float32)
    notes.append(
        f"{int(repeated.sum()):,} repeated (user, item) rows: {kept} (--duplicates {policy})"
    )
    return out.sort_index(kind="stable")


def _raw(vocab, value):
    return vocab.ids[value].item() if vocab is not None else int(value)


def k_core(frame: pd.DataFrame, min_users: int, min_items: int) -> pd.DataFrame:
    """Drops users and items with too few interactions until none is left to drop."""
    min_users = _check_min("min_user_interactions", min_users)
    min_items = _check_min("min_item_interactions", min_items)
    if min_users <= 1 and min_items <= 1:
        return frame
    keep = np.ones(len(frame), bool)
    users, items = frame["user_id"].to_numpy(), frame["item_id"].to_numpy()
    while True:
        user_counts = np.bincount(users[keep], minlength=users.max() + 1)
        item_counts = np.bincount(items[keep], minlength=items.max() + 1)
        ok = keep & (user_counts[users] >= min_users) & (item_counts[items] >= min_items)
        if ok.sum() == keep.sum():
            break
        keep = ok
    if not keep.any():
        raise DataError(
            f"no interactions left after the k-core filter (min_user_interactions={min_users}, "
            f"min_item_interactions={min_items}); lower the thresholds"
        )
    return frame[keep]


def _counts(frame: pd.DataFrame) -> dict:
    return {
        "n_users": int(frame["user_id"].nunique()),
        "n_items": int(frame["item_id"].nunique()),
        "n_ratings": len(frame),
    }


def _items_frame(
    table: _Table, mapping: dict, codes: np.ndarray, list_sep: str, wanted: dict | None = None
) -> tuple[pd.DataFrame, tuple]:
    """The items frame (one row per item, the first of repeated ones) and what
    :func:`~tfrec.data.feature_columns.read_features` found of the item features."""
    import pyarrow.compute as pc

    def text(key):
        if key not in mapping:
            return None
        values = pc.cast(table.table.column(mapping[key]), "string")
        return pd.Series(values.to_numpy(zero_copy_only=False)).fillna("").astype(str)

    def lists(key):
        values = text(key)
        if values is None:
            return None
        return [[p.strip() for p in v.split(list_sep) if p.strip()] for v in values]

    titles = text("title")
    years = None
    if "year" in mapping:
        years = pd.to_numeric(text("year"), errors="coerce").to_numpy(float)
    elif titles is not None:
        years = pd.to_numeric(titles.str.extract(r"\((\d{4})\)\s*$")[0], errors="coerce")
    items = make_items(codes, titles, lists("genres"), lists("tags"), years)
    found = fc.read_features(table, (wanted or {}).get("item", {}), "item", list_sep)
    for column, values in found[0].items():
        items[column] = values.to_numpy()
    first = ~pd.Series(codes).duplicated().to_numpy()
    return items[first].reset_index(drop=True), found


def _with_missing_items(items: pd.DataFrame, ratings: pd.DataFrame, vocab) -> pd.DataFrame:
    """Adds rows, titled by their raw ID, for rated items the table lacks."""
    missing = np.setdiff1d(ratings["item_id"].unique(), items["item_id"].to_numpy())
    if len(missing) == 0:
        return items.reset_index(drop=True)
    titles = [str(t) for t in (vocab.ids[missing] if vocab is not None else missing)]
    return pd.concat([items, make_items(missing, titles)], ignore_index=True)
