"""The user's recent behaviour as one vector, read inside a ranking network."""

from __future__ import annotations

import tensorflow as tf
import tf_keras as keras

from tfrec.sequences import history_window


class HistoryMean(keras.layers.Layer):
    """h_u: the mean embedding of the user's last ``length`` items before a position.

    Called on (user rows, positions): a training pair's own position reads
    the items the user had before it; a user's end reads all of them.

    Args:
        items: The item column of every training position, ordered by user and
            time (:class:`~tfrec.sequences.UserSequences`).
        starts: Each user's first position.
        length: Items read.
        n_items: Rows of the embedding table.
        dim: Embedding size.
        l2: L2 weight on the embeddings.
    """

    def __init__(self, items, starts, length: int, n_items: int, dim: int, l2: float):
        super().__init__(name="history_mean")
        self.items = tf.constant(items, tf.int64)
        self.starts = tf.constant(starts, tf.int64)
        self.length = length
        self.embedding = keras.layers.Embedding(
            n_items,
            dim,
            embeddings_initializer="he_normal",
            embeddings_regularizer=keras.regularizers.l2(l2),
            name="history_embedding",
        )

    def call(self, user, position):
        # Rows of one (user, position) share h_u: a user's scores over the catalogue,
        # a positive and its negatives. Each distinct pair is read once.
        span = tf.cast(tf.size(self.items), tf.int64) + 1
        key = tf.cast(user, tf.int64) * span + tf.cast(position, tf.int64)
        unique, index = tf.unique(key)
        users, positions = unique // span, unique % span
        starts = tf.gather(self.starts, users)
        window, mask = history_window(self.items, positions, starts, self.length)
        vectors = self.embedding(window) * mask[:, :, None]
        count = tf.maximum(tf.reduce_sum(mask, 1, keepdims=True), 1.0)
        return tf.gather(tf.reduce_sum(vectors, 1) / count, index)
