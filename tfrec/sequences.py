"""Users' training interactions as time-ordered sequences, and history windows.

Sequence models read "the last ``length`` items before position p" for every
training interaction. :class:`UserSequences` keeps one flat array of items
ordered by user, then time, with each user's start and end; a window is then
a gather from that array at ``p - length .. p - 1`` (masked before the user's
start), so no copy of a window is ever stored per example.
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
    """

    users: np.ndarray
    items: np.ndarray
    starts: np.ndarray
    ends: np.ndarray

    @classmethod
    def from_interactions(cls, data) -> UserSequences:
        """From a :class:`~tfrec.models.base.Interactions`."""
        order = np.lexsort((data.timestamps, data.users))
        users = data.users[order]
        counts = np.bincount(users, minlength=len(data.user_ids))
        ends = np.cumsum(counts)
        return cls(users, data.items[order], ends - counts, ends)

    def columns(self) -> dict[str, np.ndarray]:
        """Per-interaction training columns: user, item, position, the user's start."""
        return {
            "user": self.users,
            "item": self.items,
            "position": np.arange(len(self.users), dtype=np.int64),
            "start": self.starts[self.users],
        }


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
