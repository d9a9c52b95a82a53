"""Raw IDs (integers or strings) and the dense row numbers they map to.

A :class:`Vocabulary` holds unique raw IDs, sorted unless items were
appended to a fitted model's catalogue; row ``r`` is ``ids[r]``.
It is the one place raw IDs become row indices: a dataset with string IDs
keeps one per column (its frames hold the row numbers, in the IDs' sorted
order), every fitted model keeps one for its users and one for its items,
and the SavedModel's lookup tables are built from the same arrays.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from tfrec.errors import TfrecError

INT_PAD = -1
STRING_PAD = ""


class Vocabulary:
    """Unique raw IDs and their rows (sorted, unless items were appended).

    Args:
        ids: Unique raw IDs, normally sorted: integers (kept as int64) or
            strings (kept as a numpy unicode array).
    """

    def __init__(self, ids):
        ids = np.asarray(ids)
        if ids.dtype.kind in "iub":
            ids = ids.astype(np.int64)
        elif ids.dtype.kind in "OSU":
            ids = ids.astype(str)
        else:
            raise TfrecError(f"IDs must be integers or strings; got dtype {ids.dtype}")
        self.ids = ids
        self._index: pd.Index | None = None
        self._sorted = bool(np.all(ids[1:] > ids[:-1]))

    @classmethod
    def from_values(cls, values) -> tuple[Vocabulary, np.ndarray]:
        """The vocabulary of ``values`` and each value's row (int32)."""
        codes, uniques = pd.factorize(np.asarray(values), sort=True)
        return cls(uniques), codes.astype(np.int32)

    @property
    def is_string(self) -> bool:
        """True when the raw IDs are strings."""
        return self.ids.dtype.kind == "U"

    @property
    def pad(self):
        """The ID written where there is no item: -1, or "" for string IDs."""
        return STRING_PAD if self.is_string else INT_PAD

    def __len__(self) -> int:
        return len(self.ids)

    def encode(self, raw) -> np.ndarray:
        """Row of each raw ID; -1 where unknown.

        Integer vocabularies accept integers and strings holding integers
        ("42"); string vocabularies accept strings, and integers as their
        decimal text.
        """
        raw = np.asarray(raw).reshape(-1)
        if self.is_string:
            raw = raw.astype(str).astype(object)
        else:
            raw = as_int64(raw)
            if self._sorted:
                return encode_sorted(self.ids, raw)
        if self._index is None:
            self._index = pd.Index(self.ids.astype(object) if self.is_string else self.ids)
        return self._index.get_indexer(raw).astype(np.int64)

    def decode(self, rows) -> np.ndarray:
        """Raw ID of each row; :attr:`pad` where the row is -1."""
        rows = np.asarray(rows, dtype=np.int64)
        if len(self.ids) == 0:
            return np.full(rows.shape, self.pad, dtype=self.ids.dtype)
        return np.where(rows < 0, self.pad, self.ids[np.maximum(rows, 0)])

    def append(self, raw) -> Vocabulary:
        """This vocabulary with the unknown ones of ``raw`` added after its rows."""
        new = np.asarray(raw).reshape(-1)
        new = new.astype(str) if self.is_string else as_int64(new)
        new = pd.unique(new[self.encode(new) < 0])
        return Vocabulary(np.concatenate([self.ids, new]))

    def subset(self, rows) -> Vocabulary:
        """The vocabulary of the raw IDs at ``rows`` (sorted rows keep the order)."""
        return Vocabulary(self.ids[np.asarray(rows, dtype=np.int64)])


def as_int64(raw: np.ndarray) -> np.ndarray:
    """Integer IDs as int64; strings must hold integers."""
    try:
        return raw.astype(np.int64)
    except (TypeError, ValueError):
        raise TfrecError(
            f"IDs must be integers here; got {raw[:3].tolist()} (this data's IDs are integers)"
        ) from None


def encode_sorted(known: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Position of each ID in the sorted int64 array ``known``; -1 if absent."""
    if len(known) == 0:
        return np.full(len(ids), -1, dtype=np.int64)
    position = np.minimum(np.searchsorted(known, ids), len(known) - 1)
    return np.where(known[position] == ids, position, -1).astype(np.int64)
