"""The candidate item's popularity trend at the time of the example, read inside a ranker."""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import tf_keras as keras

DAY = 86_400.0


class ItemTrend(keras.layers.Layer):
    """The item's training interactions in windows before the example's time t.

    For a (user, item, position) row, t is the time of the training pair at
    that position (its own interaction: only strictly earlier ones count,
    never the pair itself), or one second after the user's last training
    interaction when the position is the user's end (serving, evaluation).
    With n_i(a, b) the training interactions with item i at times in [a, b)
    and a_i(t) the time of i's first interaction before t, the features are

        [log1p n_i(t - W_k, t) for each window W_k | log1p n_i(-inf, t) |
         log1p((t - a_i(t)) / 1 day)]                  (0 when n_i(-inf, t) = 0)

    scaled by 1/5: how popular the item was lately, in all, and how long it
    has been around, as the user's clock sees it.

    Args:
        items: The item column of every training position, ordered by user and
            time (:class:`~tfrec.sequences.UserSequences`).
        times: The Unix time of every training position, in the same order.
        ends: Each user's end (one past the last position).
        windows: Window lengths W_k in days.
    """

    def __init__(self, items, times, ends, windows):
        super().__init__(name="item_trend")
        times = np.asarray(times, np.int64)
        self.origin = int(times.min(initial=0))
        relative = times - self.origin
        self.span = int(relative.max(initial=0)) + 2
        keys = np.sort(np.asarray(items, np.int64) * self.span + relative)
        self.keys = tf.constant(keys, tf.int64)
        self.times = tf.constant(relative, tf.int64)
        self.ends = tf.constant(np.asarray(ends, np.int64), tf.int64)
        self.windows = [int(w * DAY) for w in windows]

    def call(self, user, item, position):
        user, item, position = (tf.cast(x, tf.int64) for x in (user, item, position))
        end = tf.gather(self.ends, user)
        last = tf.gather(self.times, tf.maximum(end - 1, 0)) + 1
        own = tf.gather(self.times, tf.minimum(position, tf.size(self.times, tf.int64) - 1))
        t = tf.where(position >= end, last, own)
        base = item * self.span

        def before(time):  # interactions with the item before ``time`` (relative)
            found = tf.searchsorted(self.keys, base + tf.maximum(time, 0), side="left")
            return tf.cast(found, tf.int64)

        first = before(tf.zeros_like(t))
        now = before(t)
        columns = [now - before(t - w) for w in self.windows] + [now - first]
        earliest = tf.gather(self.keys, tf.minimum(first, tf.size(self.keys, tf.int64) - 1)) - base
        age = tf.where(now > first, tf.cast(t - earliest, tf.float32) / DAY, 0.0)
        features = [tf.math.log1p(tf.cast(c, tf.float32)) for c in columns]
        features.append(tf.math.log1p(tf.maximum(age, 0.0)))
        return tf.stack(features, axis=1) / 5.0
