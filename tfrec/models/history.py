"""Histories given at request time: the items of users a model never trained on.

A new user (one who signed up after training, or a cold user of the
``cold-users`` split) is known by the items they interacted with so far.
:class:`Histories` holds such users' items as catalogue columns, oldest
first, and gives each model the form it reads:

* :meth:`Histories.matrix`: the (n_users, n_items) CSR rows that fold-in
  models multiply (EASE's ``x B``, item KNN's ``x S^T``), 1 per item;
* :meth:`Histories.windows`: the last ``length`` items, left-padded with 0
  and shifted by one (column + 1), as the sequence models' inputs are.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import scipy.sparse as sp

from tfrec.data.vocabulary import as_int64, encode_sorted


@dataclasses.dataclass
class Histories:
    """Several users' item histories, as catalogue columns (oldest first).

    Attributes:
        items: Flat item columns, user after user.
        offsets: Row splits: user ``r``'s items are ``items[offsets[r]:offsets[r + 1]]``.
        n_items: Catalogue size.
        features: What the users bring besides items, for the models that
            read features: raw values per user, ``{feature key: (n,) array}``
            (``user_age``, ``context_device``, ``timestamp``; see
            :mod:`tfrec.features.layer`), or None.
    """

    items: np.ndarray
    offsets: np.ndarray
    n_items: int
    features: dict | None = None

    @classmethod
    def from_lists(cls, columns: list, n_items: int) -> Histories:
        """From one sequence of item columns per user (-1, unknown items, dropped)."""
        arrays = [np.asarray(c, dtype=np.int64).reshape(-1) for c in columns]
        arrays = [a[a >= 0] for a in arrays]
        lengths = np.array([len(a) for a in arrays], dtype=np.int64)
        items = np.concatenate(arrays) if arrays else np.empty(0, np.int64)
        return cls(items, np.r_[0, np.cumsum(lengths)], n_items)

    @classmethod
    def from_frame(
        cls, frame: pd.DataFrame, user_ids: np.ndarray, item_ids: np.ndarray
    ) -> Histories:
        """The rows of ``frame`` (in frame order) of each of ``user_ids``.

        Args:
            frame: Interactions (``user_id``, ``item_id``), oldest first per user.
            user_ids: Sorted frame user IDs, one history each (empty when absent).
            item_ids: The catalogue's sorted frame item IDs (others are dropped).
        """
        columns = encode_sorted(item_ids, as_int64(frame["item_id"].to_numpy()))
        users = frame["user_id"].to_numpy()
        keep = (columns >= 0) & np.isin(users, user_ids)
        users, columns = users[keep], columns[keep]
        row = np.searchsorted(user_ids, users) if len(users) else users.astype(np.int64)
        order = np.argsort(row, kind="stable")
        counts = np.bincount(row, minlength=len(user_ids))
        return cls(columns[order].astype(np.int64), np.r_[0, np.cumsum(counts)], len(item_ids))

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def lengths(self) -> np.ndarray:
        """Number of items per user."""
        return np.diff(self.offsets)

    def __getitem__(self, rows) -> Histories:
        """The histories of ``rows`` (an index array or a slice), in that order."""
        rows = np.arange(len(self))[rows]
        starts, ends = self.offsets[rows], self.offsets[rows + 1]
        lengths = ends - starts
        flat = np.repeat(starts - np.r_[0, np.cumsum(lengths)[:-1]], lengths)
        flat = flat + np.arange(lengths.sum())
        features = None
        if self.features is not None:
            features = {key: np.asarray(values)[rows] for key, values in self.features.items()}
        return Histories(self.items[flat], np.r_[0, np.cumsum(lengths)], self.n_items, features)

    def matrix(self) -> sp.csr_matrix:
        """(n_users, n_items) float32 CSR, 1 per item in a user's history."""
        rows = np.repeat(np.arange(len(self)), self.lengths)
        matrix = sp.csr_matrix(
            (np.ones(len(self.items), np.float32), (rows, self.items)),
            shape=(len(self), self.n_items),
        )
        matrix.sum_duplicates()
        matrix.data[:] = 1.0
        return matrix

    def windows(self, length: int) -> np.ndarray:
        """(n_users, length) int64: each user's last ``length`` items as column + 1,
        left-padded with 0."""
        out = np.zeros((len(self), length), dtype=np.int64)
        lengths = np.minimum(self.lengths, length)
        rows = np.repeat(np.arange(len(self)), lengths)
        within = np.arange(lengths.sum()) - np.repeat(np.r_[0, np.cumsum(lengths)[:-1]], lengths)
        source = np.repeat(self.offsets[1:] - lengths, lengths) + within
        out[rows, length - np.repeat(lengths, lengths) + within] = self.items[source] + 1
        return out
