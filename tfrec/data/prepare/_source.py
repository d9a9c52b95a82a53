"""The raw log as DuckDB reads it: which files, which columns, and each column's
expression in tfrec's schema (the same rules as the in-memory reader,
:mod:`tfrec.data.interaction_log`)."""

from __future__ import annotations

import glob
from pathlib import Path

from tfrec.data.interaction_log import (
    _MAX_RATING_LEVELS,
    _MS_THRESHOLD,
    FILE_SUFFIXES,
    RATING_KEYS,
    _detect_separator,
    _looks_like_data,
    _Table,
)
from tfrec.errors import ConfigError, DataError

PARQUET = (".parquet", ".pq")
NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "FLOAT", "DOUBLE", "DECIMAL",
           "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT")  # fmt: skip
TIMES = ("DATE", "TIMESTAMP", "TIMESTAMP WITH TIME ZONE", "TIMESTAMP_S", "TIMESTAMP_MS",
         "TIMESTAMP_NS")  # fmt: skip


def find_files(source) -> list[Path]:
    """The log's files: one file, a glob, or a directory of Parquet or CSV parts.

    Raises:
        DataError: Nothing found, or a mix of Parquet and text files.
    """
    text = str(Path(source).expanduser()) if not isinstance(source, str) else source
    path = Path(text).expanduser()
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() in FILE_SUFFIXES)
    elif any(c in text for c in "*?["):
        files = sorted(Path(p) for p in glob.glob(str(Path(text).expanduser())))
    else:
        files = [path] if path.is_file() else []
    if not files:
        raise DataError(
            f"{text}: no such file, directory of parts or glob match; --dataset takes a "
            f"{', '.join(FILE_SUFFIXES)} file, a directory of them or a glob "
            "such as 'log/*.parquet'"
        )
    kinds = {p.suffix.lower() in PARQUET for p in files}
    if len(kinds) > 1:
        raise DataError(f"{text}: mixes Parquet and text files; keep one format per log")
    return files


class Source:
    """The log's files and its DuckDB relation (``relation``: SQL text).

    Args:
        files: From :func:`find_files`.
        sep: Separator of text files (detected when None).
        header: False when text files have no header row.
        names: Column names of headerless text files.
        name: The log's name (the file's stem, or the parts' folder, by default).
    """

    def __init__(self, files: list[Path], sep=None, header=True, names=None, name=None):
        self.files = files
        self.parquet = files[0].suffix.lower() in PARQUET
        self.name = name or (files[0].parent.name if len(files) > 1 else files[0].stem)
        self.label = str(files[0]) if len(files) == 1 else f"{files[0].parent} ({len(files)} files)"
        if isinstance(names, str):
            names = [n.strip() for n in names.split(",")]
        self.header, self.names, self.sep = header, names, sep
        self.header_is_data = False
        if not self.parquet:
            with open(files[0], encoding="utf-8-sig", errors="replace", newline="") as f:
                head = [line for _, line in zip(range(50), f, strict=False)]
            if not head:
                raise DataError(f"{files[0]}: the file is empty; expected a header line and rows")
            self.sep = sep or _detect_separator(head, files[0])
            first = [h.strip() for h in head[0].rstrip("\r\n").split(self.sep)]
            self.header_is_data = header and not names and _looks_like_data(first)
            if not header and not names:
                self.names = [str(i + 1) for i in range(len(first))]

    def relation(self, id_columns, files=None) -> str:
        """``read_csv(...)`` or ``read_parquet(...)`` over ``files`` (every file by
        default), IDs as text."""
        files = "[" + ", ".join(_quote(str(f)) for f in (files or self.files)) + "]"
        if self.parquet:
            return f"read_parquet({files})"
        options = [f"delim={_quote(self.sep)}", f"header={'true' if self.header else 'false'}"]
        if self.names:
            options.append("names=[" + ", ".join(map(_quote, self.names)) + "]")
        types = ", ".join(f"{_quote(c)}: 'VARCHAR'" for c in id_columns)
        options.append("types={" + types + "}")
        return f"read_csv({files}, {', '.join(options)})"

    def columns(self, con) -> dict[str, str]:
        """Column name -> DuckDB type (read from the first file's header or schema)."""
        rows = con.execute(f"DESCRIBE SELECT * FROM {self.relation((), self.files[:1])}").fetchall()
        return {name: kind for name, kind, *_ in rows}

    def resolve(self, columns: list[str], given: dict) -> dict:
        """The column of each key of ``RATING_KEYS`` among the log's ``columns``: as
        :meth:`_Table.resolve` does."""
        table = _Table(self.label, self.name, list(columns), None, None)
        table.header_is_data = self.header_is_data
        return table.resolve(given, RATING_KEYS, required=("user", "item"), flag="--columns")


# What pyarrow's CSV reader (the in-memory path) reads as missing in a text column.
NULL_TOKENS = ("", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND",
               "1.#QNAN", "N/A", "NA", "NULL", "NaN", "n/a", "nan", "null")  # fmt: skip


def id_expression(column: str, kind: str) -> str:
    """An ID column as text exactly as written (whole floats as integers; a
    NaN is a missing ID, which the checks then refuse with its line)."""
    if kind in ("FLOAT", "DOUBLE"):
        return _float_text(sql_name(column))
    return f"CAST({sql_name(column)} AS STRING)"


def _float_text(c: str) -> str:
    """A float column's text: NULL for NaN, whole finite values as integers."""
    return (
        f"CASE WHEN isnan({c}) THEN NULL "
        f"WHEN abs({c}) < 9.2e18 AND {c} = floor({c}) THEN CAST(CAST({c} AS BIGINT) AS STRING) "
        f"ELSE CAST({c} AS STRING) END"
    )


def feature_text(column: str, kind: str, text_file: bool) -> str:
    """A feature column as the in-memory reader's text (``feature_columns.as_text``):
    trimmed, ``''`` where missing (NULL, NaN, and in a text file the tokens
    pyarrow's CSV reader takes for missing: NA, null, ...), whole finite
    floats as integers."""
    c = sql_name(column)
    text = _float_text(c) if kind in ("FLOAT", "DOUBLE") else f"CAST({c} AS STRING)"
    if text_file:
        tokens = ", ".join(_quote(t) for t in NULL_TOKENS if t)
        text = f"CASE WHEN {text} IN ({tokens}) THEN NULL ELSE {text} END"
    return f"coalesce(trim({text}), '')"


# A time or text as Unix seconds (NULL where it does not parse): the one
# expression whose functions differ between the engines.
EPOCH_SECONDS = {
    "duckdb": "CAST(floor(epoch(TRY_CAST({c} AS TIMESTAMPTZ))) AS BIGINT)",
    "spark": "CAST(floor(unix_micros(TRY_CAST({c} AS TIMESTAMP)) / 1000000.0) AS BIGINT)",
}


def time_expression(
    con, relation: str, column: str, kind: str, unit: str | None, engine: str = "duckdb"
) -> str:
    """A time column as int64 Unix seconds: numbers (seconds, or milliseconds above
    1e11 or with ``unit="ms"``), dates and times, or ISO 8601 text (UTC unless
    it has an offset); NULL where a value does not parse."""
    c = sql_name(column)
    epoch = EPOCH_SECONDS[engine].format(c=c)
    if kind in TIMES or kind.startswith("TIMESTAMP"):
        if unit not in (None, "iso"):
            raise ConfigError(
                f"timestamp_unit={unit!r}, but column {column!r} holds dates; use iso"
            )
        return epoch
    numeric = kind.split("(")[0] in NUMERIC
    if kind == "VARCHAR" and unit is None:  # numbers written as text count as numbers
        (text,) = con.execute(
            f"SELECT count(*) FROM {relation} WHERE {c} IS NOT NULL AND TRY_CAST({c} AS DOUBLE) "
            "IS NULL"
        ).fetchone()
        numeric = text == 0
    if numeric and unit != "iso":
        if unit is None:
            (largest,) = con.execute(
                f"SELECT max(abs(TRY_CAST({c} AS DOUBLE))) FROM {relation}"
            ).fetchone()
            unit = "ms" if largest is not None and largest > _MS_THRESHOLD else "s"
        divisor = " / 1000.0" if unit == "ms" else ""
        return f"CAST(floor(TRY_CAST({c} AS DOUBLE){divisor}) AS BIGINT)"
    if unit in ("s", "ms"):
        raise ConfigError(
            f"column {column!r} holds text, not a number of "
            f"{'seconds' if unit == 's' else 'milliseconds'}; use --timestamp-unit iso"
        )
    return epoch


def rating_is_a_scale(con, relation: str, column: str) -> tuple[bool, str]:
    """Whether a *detected* rating column looks like a rating scale (at most 21
    distinct values within [-10, 10]), and what it holds."""
    c = sql_name(column)
    levels, low, high = con.execute(
        f"SELECT count(DISTINCT TRY_CAST({c} AS DOUBLE)), min(TRY_CAST({c} AS DOUBLE)), "
        f"max(TRY_CAST({c} AS DOUBLE)) FROM {relation}"
    ).fetchone()
    if levels is None or levels == 0:
        return True, ""
    scale = levels <= _MAX_RATING_LEVELS and max(abs(low), abs(high)) <= 10
    return scale, f"{levels:,} distinct values from {low:g} to {high:g}"


def first_bad_row(con, table: str, condition: str) -> tuple[int, int] | None:
    """(row, count) of the first row of ``table`` where ``condition`` holds, or None."""
    (found,) = con.execute(  # every row fetched: the connection is free for the next call
        f"SELECT min(row), count(*) FROM {table} WHERE {condition}"
    ).fetchall()
    return None if not found[1] else (int(found[0]), int(found[1]))


def where(source: Source, row: int) -> str:
    """Where data row ``row`` (0-based, over all files) is, for error messages."""
    if len(source.files) > 1:
        return f"{source.label}, data row {row + 1}"
    if source.parquet:
        return f"{source.files[0]}, row {row + 1}"
    return f"{source.files[0]}, line {row + 1 + (1 if source.header else 0)}"


def sql_name(column: str) -> str:
    """A column name as a quoted SQL identifier."""
    return '"' + column.replace('"', '""') + '"'


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
