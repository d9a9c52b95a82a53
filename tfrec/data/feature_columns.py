"""Reading typed feature columns (user, item, context) into the value conventions.

The conventions are those of :mod:`tfrec.data.feature_schema`: ``category``
and ``text`` are strings (numbers as written, missing ``""``), ``multi`` a
string of values joined by ``|`` whatever the file's list separator,
``numeric`` float32 with NaN for missing.

A feature named without a type is detected (:func:`detect_type`):

1. every non-missing value is a number (and none is a code with a leading
   zero such as ``"02139"``) -> ``numeric``;
2. else at least :data:`MULTI_SHARE` of the values hold the list separator,
   and the parts are short (median under :data:`TEXT_WORDS` words) -> ``multi``;
3. else the values are long multi-word strings (median of at least
   :data:`TEXT_WORDS` words) -> ``text``;
4. else ``category``.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from tfrec.data.feature_schema import FLAGS, MULTI_SEP, Feature, FeatureSchema
from tfrec.errors import DataError

MULTI_SHARE = 0.1  # share of values holding the list separator that makes a multi
TEXT_WORDS = 4  # median words per value from which a string column is text
_DETECT_SAMPLE = 10_000  # distinct values the word counts look at
_CODE = re.compile(r"^[+-]?0\d")  # "02139", "007": a code, not a number


def detect_type(values: pd.Series, list_sep: str = "|") -> str:
    """The type of a feature column whose type was not given (see the module doc).

    Args:
        values: The column as strings, ``""`` where missing.
        list_sep: The list separator of multi-valued columns.

    Returns:
        ``numeric``, ``multi``, ``text`` or ``category``.
    """
    present = pd.Series(pd.unique(values[values != ""]), dtype=object)
    if not len(present):
        return "category"
    numbers = pd.to_numeric(present, errors="coerce")
    if numbers.notna().all() and not present.str.match(_CODE).any():
        return "numeric"
    sample = present.iloc[:_DETECT_SAMPLE]
    if sample.str.contains(list_sep, regex=False).mean() >= MULTI_SHARE:
        parts = sample.str.split(list_sep, regex=False).explode()
        if parts.str.split().str.len().median() < TEXT_WORDS:
            return "multi"
    if sample.str.split().str.len().median() >= TEXT_WORDS:
        return "text"
    return "category"


def as_text(values) -> pd.Series:
    """A pyarrow array as stripped strings, ``""`` where missing (NaN too); whole
    floats (an integer column with gaps) as integers (``3.0`` -> ``"3"``)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if pa.types.is_dictionary(values.type):
        values = values.dictionary_decode()
    if pa.types.is_floating(values.type):
        values = pc.if_else(pc.is_nan(values), pa.scalar(None, values.type), values)
        whole = pc.equal(pc.floor(values), values)
        if pc.all(pc.or_kleene(whole, pc.is_null(values))).as_py():
            values = pc.cast(values, pa.int64())
    if not pa.types.is_string(values.type):
        values = pc.cast(values, pa.string())
    text = pc.fill_null(pc.utf8_trim_whitespace(values), "")
    return pd.Series(text.to_numpy(zero_copy_only=False), dtype=object)


def convert(text: pd.Series, kind: str, list_sep: str = "|", where=None, column: str = "",
            flag: str = "") -> pd.Series:  # fmt: skip
    """A column of strings (``""`` missing) in the convention of ``kind``.

    Args:
        text: The column's values as strings.
        kind: ``category``, ``multi``, ``numeric`` or ``text``.
        list_sep: The separator of a multi column in the file.
        where: ``row -> "file, line N"`` for error messages.
        column: The column's name, for error messages.
        flag: The flag that declares the feature, for error messages.

    Raises:
        DataError: A non-number in a numeric feature, naming the row and value.
    """
    text = text.reset_index(drop=True)
    if kind == "numeric":
        numbers = pd.to_numeric(text, errors="coerce")
        bad = np.flatnonzero(numbers.isna().to_numpy() & (text != "").to_numpy())
        if len(bad):
            row = int(bad[0])
            place = where(row) if where else f"row {row + 1}"
            raise DataError(
                f"{place}: numeric feature {column!r} has {text.iloc[row]!r}, which is not a "
                f"number ({len(bad)} such rows); fix the value or make it a category "
                f"({flag} {column}=category)"
            )
        return numbers.astype(np.float32)
    if kind == "multi":
        sep = re.escape(list_sep)
        joined = text.str.replace(rf"\s*{sep}\s*", MULTI_SEP, regex=True)
        joined = joined.str.replace(r"\|{2,}", MULTI_SEP, regex=True).str.strip(MULTI_SEP)
        return joined.astype(str)
    return text.astype(str)


def read_features(
    table, wanted: dict, source: str, list_sep: str
) -> tuple[dict[str, pd.Series], list[Feature], list[str]]:
    """The feature columns of a loaded table, converted, and their types.

    Args:
        table: A loaded :class:`~tfrec.data.interaction_log._Table`.
        wanted: Column -> type, or None to detect it.
        source: ``user``, ``item`` or ``context``.
        list_sep: The list separator of multi columns.

    Returns:
        (column -> converted values, the features, the detected columns).
    """
    values, features, detected = {}, [], []
    for column, kind in wanted.items():
        text = as_text(table.table.column(column))
        if kind is None:
            kind = detect_type(text, list_sep)
            detected.append(column)
        feature = Feature(column, source, kind)
        values[column] = convert(text, kind, list_sep, table.where, column, FLAGS[source])
        features.append(feature)
    return values, features, detected


def check_columns(table, columns, flag: str, taken: dict | None = None) -> None:
    """Refuses feature columns the file lacks (listing what it has), or columns
    tfrec already reads as something else (``taken``: column -> what)."""
    for column in columns:
        if column not in table.names:
            raise DataError(
                f"{table.source}: column {column!r} ({flag}) is not in the file; it has: "
                f"{', '.join(map(str, table.names))}"
            )
        if taken and column in taken:
            raise DataError(
                f"{table.source}: column {column!r} is the {taken[column]} column; {flag} "
                "takes other columns"
            )


def features_note(source: str, features: list[Feature], detected: list[str]) -> str:
    """``user features: age=numeric (detected), ...; set a type with --user-features``."""
    described = ", ".join(
        f"{f.name}={f.type}" + (" (detected)" if f.name in detected else "") for f in features
    )
    return f"{source} features: {described}; set a type with {FLAGS[source]} NAME=TYPE"


def take(values: pd.Series, rows: np.ndarray, kind: str) -> np.ndarray:
    """``values[rows]``, the type's missing value where ``rows`` is -1."""
    present = rows >= 0
    if kind == "numeric":
        out = np.full(len(rows), np.nan, np.float32)
        out[present] = values.to_numpy(np.float32)[rows[present]]
        return out
    out = np.full(len(rows), "", dtype=object)
    out[present] = values.to_numpy(object)[rows[present]]
    return out


def fill_missing(frame: pd.DataFrame, features) -> pd.DataFrame:
    """The frame with each feature column's gaps (rows added later) filled with
    the type's missing value, and numeric columns as float32."""
    for f in features:
        column = frame[f.name]
        if f.type == "numeric":
            frame[f.name] = column.astype(np.float32)
        else:
            frame[f.name] = column.astype(object).where(column.notna(), "").astype(str)
    return frame


def summary(schema: FeatureSchema, frames: dict[str, pd.DataFrame | None]) -> list[dict]:
    """Per feature: its source, type, cardinality, missing share and one example.

    Cardinality is the number of distinct values (of a multi feature, distinct
    single values; of a text feature, distinct words).
    """
    rows = []
    for f in schema.features:
        frame = frames.get(f.source)
        if frame is None or f.name not in frame:
            continue
        values = frame[f.name]
        missing = values.isna() if f.type == "numeric" else values == ""
        present = values[~missing.to_numpy()]
        if f.type == "multi":
            distinct = present.str.split(MULTI_SEP, regex=False).explode().nunique()
        elif f.type == "text":
            distinct = present.str.lower().str.split().explode().nunique()
        else:
            distinct = present.nunique()
        example = present.iloc[0] if len(present) else None
        if f.type == "numeric" and example is not None:
            example = float(f"{example:.6g}")
        elif isinstance(example, str) and len(example) > 40:
            example = example[:37] + "..."
        rows.append(
            {
                "source": f.source,
                "name": f.name,
                "type": f.type,
                "cardinality": int(distinct),
                "missing": float(missing.mean()) if len(values) else 0.0,
                "example": example,
            }
        )
    return rows
