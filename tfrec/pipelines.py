"""tf.data pipelines built from encoded training data.

Columns become tensors once. Shuffling is vectorised and in-graph: each epoch
draws one seeded permutation of the example indices and cuts it into batches,
so the pipeline yields whole batches (no per-example work in tf.data) in a
fresh order every epoch.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf


def epoch_batches(tensors: dict, batch_size: int, seed: int, epoch) -> tf.data.Dataset:
    """One epoch of shuffled batches of equal-length column tensors.

    Args:
        tensors: Dict of 1-D (or N-D) tensors with the same first dimension.
        batch_size: Examples per batch; the last batch may be smaller.
        seed: Base seed; epoch ``e`` is shuffled with the stateless seed ``(seed, e)``.
        epoch: Epoch number (int or scalar tensor).

    Returns:
        A dataset of dicts of batched tensors.
    """
    n = tf.shape(next(iter(tensors.values())), out_type=tf.int64)[0]
    epoch = tf.cast(epoch, tf.int64)
    order = tf.random.experimental.stateless_shuffle(
        tf.range(n), seed=tf.stack([tf.constant(seed, tf.int64), epoch])
    )
    n_full = n // batch_size * batch_size
    shuffled = {name: tf.gather(column, order) for name, column in tensors.items()}

    def batched(column):
        return tf.reshape(column[:n_full], tf.concat([[-1, batch_size], tf.shape(column)[1:]], 0))

    batches = tf.data.Dataset.from_tensor_slices({k: batched(v) for k, v in shuffled.items()})
    rest = tf.data.Dataset.from_tensors({k: v[n_full:] for k, v in shuffled.items()})
    rest = rest.filter(lambda columns: n_full < n)
    return batches.concatenate(rest)


def training_dataset(
    columns: dict[str, np.ndarray], batch_size: int, seed: int, epochs: int
) -> tf.data.Dataset:
    """``epochs`` epochs of shuffled batches, prefetched; for ``keras.Model.fit``.

    Each element is a dict of batched columns; map it to (features, label)
    with :meth:`tf.data.Dataset.map` as the model needs.
    """
    tensors = {name: tf.constant(values) for name, values in columns.items()}
    return (
        tf.data.Dataset.range(epochs)
        .flat_map(lambda e: epoch_batches(tensors, batch_size, seed, e))
        .prefetch(tf.data.AUTOTUNE)
    )


def steps_per_epoch(n_examples: int, batch_size: int) -> int:
    """Batches in one epoch of ``n_examples``."""
    return -(-n_examples // batch_size)
