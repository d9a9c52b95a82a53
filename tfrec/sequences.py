"""Users' training interactions as time-ordered sequences, and history windows.

Sequence models read "the last ``length`` items before position p".
:class:`UserSequences` keeps one flat array of items ordered by user, then
time, with each user's start and end; a window is then a gather from that
array at ``p - length .. p - 1`` (masked before the user's start), so no copy
of a window is ever stored per example.

Next-item training reads each window once and learns from several of its
positions (as GRU4Rec and SASRec do): :meth:`UserSequences.windows` places a
user's windows ``stride`` positions apart, and :func:`target_windows` gives
each window's inputs, the item after each input, and weights that pick the
window's last ``stride`` targets. Every training item after a user's first
(or every one, with ``first_targets``) is then the target of exactly one
window, read after the ``length - stride + 1`` to ``length`` items just
before it (or all the user's earlier items when there are fewer):
``stride=1`` is one window per target, each with the full ``length``;
``stride=length`` reads each item once as input.
"""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass
class UserSequences:
    """Training interactions ordered by user, then time (stable).

    Attributes:
        users: (n,) user row of each position.
        items: (n,) item column of each position.
        starts: (n_users,) first position of each user.
        ends: (n_users,) one past each user's last position.
        order: (n,) the training row of each position (for per-interaction
            columns such as the context), or None when position p is training
            row p (the training rows were grouped by user in time order).
        first: The position of ``users[0]``: 0, or a prepared train shard's
            first row in the whole train part (:meth:`of_shard`).
    """

    users: np.ndarray
    items: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    order: np.ndarray | None = None
    first: int = 0

    @classmethod
    def from_interactions(cls, data) -> UserSequences:
        """From a :class:`~tfrec.models.base.Interactions`.

        Rows already grouped by user in time order (a prepared directory's
        train shards) are used as they are, users' blocks in row order: no
        sorted copy of the log is made.
        """
        grouped = _user_blocks(data.users, data.timestamps, len(data.user_ids))
        if grouped is not None:
            return cls(data.users, data.items, *grouped, None)
        order = np.lexsort((data.timestamps, data.users))
        users = data.users[order]
        counts = np.bincount(users, minlength=len(data.user_ids))
        ends = np.cumsum(counts)
        return cls(users, data.items[order], ends - counts, ends, order)

    @classmethod
    def of_shard(cls, users, items, first: int, n_users: int) -> UserSequences:
        """The sequences of one prepared train shard, whose rows hold whole
        users, grouped and in time order, and start at position ``first`` of
        the train part (:mod:`tfrec.data.prepare.stream`): the whole part's
        sequences restricted to the shard's users, with the same positions.

        Args:
            users: (n,) user row of each of the shard's rows.
            items: (n,) item column of each row.
            first: Position of the shard's first row in the train part.
            n_users: Rows of the user table.
        """
        starts, ends = np.zeros(n_users, np.int64), np.zeros(n_users, np.int64)
        if len(users):
            blocks = _user_blocks(users, np.zeros(len(users), np.int8), n_users)
            if blocks is None:
                raise ValueError("a train shard's rows must hold whole users, grouped")
            starts, ends = blocks
            held = ends > starts
            starts[held] += first
            ends[held] += first
        return cls(users, items, starts, ends, None, first)

    def by_position(self, column) -> np.ndarray:
        """A per-training-row column (e.g. the timestamps) in position order."""
        column = np.asarray(column)
        return column if self.order is None else column[self.order]

    def positions(self) -> np.ndarray:
        """(n,) int64 position of each training row."""
        if self.order is None:
            return np.arange(len(self.users), dtype=np.int64)
        positions = np.empty(len(self.order), np.int64)
        positions[self.order] = np.arange(len(self.order))
        return positions

    def columns(self) -> dict[str, np.ndarray]:
        """Per-interaction training columns: user, item, position, the user's start."""
        return {
            "user": self.users,
            "item": self.items,
            "position": np.arange(self.first, self.first + len(self.users), dtype=np.int64),
            "start": self.starts[self.users],
        }

    def window_counts(self, stride: int, first_targets: bool = False) -> np.ndarray:
        """(n_users,) windows :meth:`windows` makes of each user."""
        n_targets = np.maximum(self.ends - self.starts - (0 if first_targets else 1), 0)
        return -(-n_targets // stride)

    def windows(self, stride: int, first_targets: bool = False) -> dict[str, np.ndarray]:
        """Training windows, ``stride`` targets apart, oldest first per user.

        A window's ``last`` position is its newest target; a user's windows
        end at ``end - 1``, ``end - 1 - stride``, ... down to ``start + 1``
        (``start`` with ``first_targets``). With ``stride=1``: one window per
        target position, in order.

        Args:
            stride: Targets per window (>= 1).
            first_targets: Whether a user's first item, which has no
                history, is a target too.

        Returns:
            Columns ``user``, ``last`` and ``start`` (the user's start), one
            row per window.
        """
        per_user = self.window_counts(stride, first_targets)
        users = np.repeat(np.arange(len(self.starts)), per_user)
        first_window = np.cumsum(per_user) - per_user
        newer_windows = per_user[users] - 1 - (np.arange(len(users)) - first_window[users])
        return {
            "user": users,
            "last": (self.ends[users] - 1 - newer_windows * stride).astype(np.int64),
            "start": self.starts[users].astype(np.int64),
        }


def _user_blocks(users, timestamps, n_users: int):
    """(starts, ends) of each user's block when every user's rows are contiguous
    and in time order (a user without rows: 0, 0), else None."""
    if len(users) == 0:
        return None
    change = users[1:] != users[:-1]
    in_order = np.all(change | (timestamps[1:] >= timestamps[:-1]))
    firsts = np.concatenate([[0], np.flatnonzero(change) + 1])
    del change
    if not in_order or len(firsts) != np.count_nonzero(np.bincount(users, minlength=n_users)):
        return None
    starts, ends = np.zeros(n_users, np.int64), np.zeros(n_users, np.int64)
    starts[users[firsts]] = firsts
    ends[users[firsts]] = np.append(firsts[1:], len(users))
    return starts, ends


def target_windows(
    sequence_items, lasts, starts, length: int, stride: int, first_targets: bool = False
):
    """Inputs, next-item targets and loss weights of training windows.

    Args:
        sequence_items: 1-D tensor, :attr:`UserSequences.items`.
        lasts: (batch,) int64 newest target position of each window.
        starts: (batch,) int64 starts of the users.
        length: Window length.
        stride: Targets per window: the last ``stride`` outputs are weighted.
        first_targets: Whether a user's first item (read after an empty
            history) is weighted too, as in :meth:`UserSequences.windows`.

    Returns:
        (inputs, mask, targets, weights), each (batch, length): the inputs
        and their mask as :func:`history_window` gives them for ``lasts``,
        the item column after each input, and 1.0 where the output's target
        belongs to the window and is preceded by a real item (or is the
        user's first, with ``first_targets``), else 0.0.
    """
    import tensorflow as tf

    inputs, mask = history_window(sequence_items, lasts, starts, length)
    targets, target_mask = history_window(sequence_items, lasts + 1, starts, length)
    own = tf.cast(tf.range(length) >= length - stride, tf.float32)
    weights = (target_mask if first_targets else mask) * own[None, :]
    return inputs, mask, targets, weights


def history_window(sequence_items, positions, starts, length: int):
    """The items at ``positions - length .. positions - 1``, oldest first.

    Args:
        sequence_items: 1-D tensor, :attr:`UserSequences.items`.
        positions: (batch,) int64 positions (a user's ``end`` for "after all
            of the user's training items").
        starts: (batch,) int64 starts of the users.
        length: Window length.

    Returns:
        (items, mask): (batch, length) int64 item columns (0 where masked)
        and a float32 mask, 1 for real history items; padding is on the left.
    """
    import tensorflow as tf

    offsets = tf.range(-length, 0, dtype=tf.int64)
    indices = positions[:, None] + offsets[None, :]
    valid = indices >= starts[:, None]
    items = tf.where(valid, tf.gather(sequence_items, tf.maximum(indices, 0)), 0)
    return tf.cast(items, tf.int64), tf.cast(valid, tf.float32)
