"""Reading delimited files into frames, with one-line errors that name the file and line."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd

from tfrec.errors import DataError


def read_table(
    path: Path | io.BytesIO,
    *,
    sep,
    names=None,
    dtype=None,
    encoding="utf-8",
    header="infer",
    source=None,
) -> pd.DataFrame:
    """Reads a delimited file, turning pandas errors into one-line DataErrors.

    A malformed line or a non-numeric value in a numeric column is reported
    with the file and its line number.
    """
    source = source or str(path)
    options = {"sep": sep, "names": names, "encoding": encoding, "header": header}
    try:
        return _read_csv(path, source, dtype=dtype, engine="c", **options)
    except pd.errors.EmptyDataError:
        raise DataError(f"{source}: the file is empty; expected a header and rows") from None
    except (ValueError, TypeError, OverflowError) as e:
        if dtype is None:
            raise DataError(f"{source}: cannot read file: {_first_line(e)}") from None
    # A value did not convert to its column's dtype: find it and say where (this
    # untyped read may meet bytes the typed one stopped before).
    if hasattr(path, "seek"):
        path.seek(0)
    raw = _read_csv(path, source, dtype=str, keep_default_na=False, **options)
    first_data_line = 1 if names is not None and header is None else 2
    for column, kind in dtype.items():
        if column not in raw.columns or not np.issubdtype(np.dtype(kind), np.number):
            continue
        values = pd.to_numeric(raw[column], errors="coerce")
        bad = np.flatnonzero(values.isna().to_numpy())
        if len(bad):
            row = int(bad[0])
            raise DataError(
                f"{source}, line {row + first_data_line}: column {column!r} has "
                f"{raw[column].iloc[row]!r}, which is not a number"
            )
        if np.issubdtype(np.dtype(kind), np.integer):
            info = np.iinfo(kind)
            numbers = values.to_numpy(np.float64)
            bad = np.flatnonzero(
                (numbers != np.round(numbers)) | (numbers < info.min) | (numbers > info.max)
            )
            if len(bad):
                row = int(bad[0])
                raise DataError(
                    f"{source}, line {row + first_data_line}: column {column!r} has "
                    f"{raw[column].iloc[row]!r}, which is not an integer in "
                    f"[{info.min}, {info.max}]"
                )
    raise DataError(f"{source}: cannot read file with the expected column types {dtype}")


def _read_csv(path, source: str, **options) -> pd.DataFrame:
    """``pd.read_csv``, a malformed file or text not in ``encoding`` as a DataError."""
    try:
        return pd.read_csv(path, **options)
    except pd.errors.ParserError as e:
        raise DataError(f"{source}: malformed file: {_first_line(e)}") from None
    except UnicodeDecodeError as e:
        encoding = options["encoding"]
        raise DataError(f"{source}: not {encoding} text ({e.reason} at byte {e.start})") from None


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[-1] if str(error).strip() else type(error).__name__
