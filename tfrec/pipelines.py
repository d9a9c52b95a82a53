"""tf.data pipelines built from encoded training data.

Columns become tensors once. Shuffling is vectorised and in-graph: each epoch
draws one seeded permutation of the example indices and cuts it into batches,
so the pipeline yields whole batches (no per-example work in tf.data) in a
fresh order every epoch.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf


def epoch_order(n, seed: int, epoch) -> tf.Tensor:
    """The example indices ``0..n-1`` in epoch ``epoch``'s order: a permutation
    drawn with the stateless seed ``(seed, epoch)``.

    Args:
        n: Number of examples (int or int64 scalar tensor).
        seed: Base seed.
        epoch: Epoch number (int or scalar tensor).

    Returns:
        An int64 tensor of shape (n,).
    """
    seed = tf.stack([tf.constant(seed, tf.int64), tf.cast(epoch, tf.int64)])
    return tf.random.experimental.stateless_shuffle(tf.range(tf.cast(n, tf.int64)), seed=seed)


def epoch_batches(tensors: dict, batch_size: int, seed: int, epoch, widen=()) -> tf.data.Dataset:
    """One epoch of shuffled batches of equal-length column tensors.

    The epoch's order is cut into batches of indices and each batch gathers
    its rows (in parallel, in order), so an epoch holds the order, not a
    shuffled copy of every column.

    Args:
        tensors: Dict of 1-D (or N-D) tensors with the same first dimension.
        batch_size: Examples per batch; the last batch may be smaller.
        seed: Base seed; epoch ``e`` is shuffled with the stateless seed ``(seed, e)``.
        epoch: Epoch number (int or scalar tensor).
        widen: Names of int32 columns whose batches are cast to int64.

    Returns:
        A dataset of dicts of batched tensors.
    """
    n = tf.shape(next(iter(tensors.values())), out_type=tf.int64)[0]
    return ordered_batches(tensors, epoch_order(n, seed, epoch), batch_size, widen)


def ordered_batches(tensors: dict, order, batch_size: int, widen=()) -> tf.data.Dataset:
    """Batches of ``tensors``' rows in ``order`` (:func:`epoch_batches` after the
    shuffle): ``order`` cut into batches of ``batch_size`` (the last one takes
    the rest), each gathering its rows.

    Args:
        tensors: Dict of 1-D (or N-D) tensors with the same first dimension.
        order: 1-D int64 tensor of row indices.
        batch_size: Examples per batch.
        widen: Names of int32 columns whose batches are cast to int64.
    """
    n = tf.shape(order, out_type=tf.int64)[0]
    n_full = n // batch_size * batch_size
    batches = tf.data.Dataset.from_tensor_slices(tf.reshape(order[:n_full], [-1, batch_size]))
    rest = tf.data.Dataset.from_tensors(order[n_full:]).filter(lambda _: n_full < n)

    def gathered(rows):
        batch = {name: tf.gather(column, rows) for name, column in tensors.items()}
        return {k: tf.cast(v, tf.int64) if k in widen else v for k, v in batch.items()}

    return batches.concatenate(rest).map(
        gathered, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
    )


def training_dataset(
    columns: dict[str, np.ndarray], batch_size: int, seed: int, epochs: int
) -> tf.data.Dataset:
    """``epochs`` epochs of shuffled batches, prefetched; for ``keras.Model.fit``.

    Each element is a dict of batched columns; map it to (features, label)
    with :meth:`tf.data.Dataset.map` as the model needs. Integer columns are
    held as int32 when their values fit (half the memory of int64) and
    batches carry them as int64.
    """
    narrowed = {name: _narrowed(np.asarray(values)) for name, values in columns.items()}
    widen = {
        name for name, values in narrowed.items() if values.dtype != np.asarray(columns[name]).dtype
    }
    tensors = {name: tf.constant(values) for name, values in narrowed.items()}
    del narrowed
    return (
        tf.data.Dataset.range(epochs)
        .flat_map(lambda e: epoch_batches(tensors, batch_size, seed, e, widen))
        .prefetch(tf.data.AUTOTUNE)
    )


def _narrowed(values: np.ndarray) -> np.ndarray:
    """An int64 column as int32 when every value fits; other columns as they are."""
    if values.dtype != np.int64 or len(values) == 0:
        return values
    if values.min() >= np.iinfo(np.int32).min and values.max() <= np.iinfo(np.int32).max:
        return values.astype(np.int32)
    return values


def steps_per_epoch(n_examples: int, batch_size: int) -> int:
    """Batches in one epoch of ``n_examples``."""
    return -(-n_examples // batch_size)


def sample_unseen(users, seen_keys, n_items: int, n_per_row: int, seed, rounds: int = 4, cdf=None):
    """Item draws per user that avoid the user's training items, in-graph.

    Args:
        users: (n,) int64 user rows.
        seen_keys: Sorted int64 tensor of ``user * n_items + item`` for every
            training pair.
        n_items: Catalogue size.
        n_per_row: Draws per user.
        seed: Stateless seed, shape [2].
        rounds: Redraws of items that hit a seen one; after the last round a
            draw is kept as it is (rare: only for users who saw most items).
        cdf: None for uniform draws, or the (n_items,) float32 cumulative
            distribution to draw items from (by inverse transform sampling).

    Returns:
        (n, n_per_row) int64 item rows.
    """
    users = tf.cast(users, tf.int64)[:, None]
    shape = tf.stack([tf.shape(users)[0], n_per_row])

    def draw(seed_):
        if cdf is None:
            return tf.random.stateless_uniform(shape, seed_, 0, n_items, dtype=tf.int64)
        uniform = tf.random.stateless_uniform(shape, seed_, 0.0, cdf[-1])
        rows = tf.searchsorted(cdf, tf.reshape(uniform, [-1]), side="right", out_type=tf.int64)
        return tf.reshape(tf.minimum(rows, n_items - 1), shape)

    draws = draw(seed)
    for round_ in range(rounds):
        keys = users * n_items + draws
        position = tf.searchsorted(seen_keys, tf.reshape(keys, [-1]), out_type=tf.int64)
        position = tf.minimum(position, tf.size(seen_keys, out_type=tf.int64) - 1)
        hit = tf.reshape(tf.gather(seen_keys, position), tf.shape(keys)) == keys
        draws = tf.where(hit, draw(seed + round_ + 1), draws)
    return draws


def implicit_steps(
    n_positives: int, negatives: int, batch_size: int, grouped: bool = False, shards=None
) -> int:
    """Steps per epoch of :func:`implicit_dataset`: in memory, its examples over
    ``batch_size``; streamed from ``shards``
    (:class:`~tfrec.data.prepare.stream.ShardStream`), each shard's batches,
    its last one taking its rest (under multi-worker, in this worker's share
    of ``batch_size``, the most steps of any worker)."""
    if shards is None:
        return steps_per_epoch(n_positives * (1 + negatives), batch_size)
    size = shards.batch_size(batch_size)
    if grouped:
        return shards.steps(max(1, size // (1 + negatives)))
    return shards.steps(size, 1 + negatives)


def implicit_dataset(
    users: np.ndarray,
    items: np.ndarray,
    n_items: int,
    negatives: int,
    batch_size: int,
    seed: int,
    epochs: int,
    weights: np.ndarray | None = None,
    item_weights: np.ndarray | None = None,
    candidates: np.ndarray | None = None,
    hard_share: float = 0.0,
    extra: dict[str, np.ndarray] | None = None,
    grouped: bool = False,
    shards=None,
) -> tf.data.Dataset:
    """Positives with ``negatives`` fresh unseen items each per epoch, shuffled and batched.

    Elements are ``({"user", "item"}, label)`` with label 1 for a training
    pair and 0 for a sampled one; with ``weights`` (one per training pair),
    ``({"user", "item"}, label, weight)``, each sampled pair weighing 1.
    Negatives are drawn uniformly, or in proportion to ``item_weights``
    (one non-negative number per item, e.g. popularity ** 0.75); with
    ``candidates`` ((n_users, N) item rows, e.g. a retrieval model's top
    unseen items per user), each negative is with probability ``hard_share``
    a uniform draw from its user's row instead (a "hard" negative).
    ``extra`` columns (one value per training pair, e.g. its position in the
    user's history) join the features, a sampled pair taking its positive's.
    With ``grouped``, each batch holds ``batch_size // (1 + negatives)``
    positives, each followed by its own negatives (for a listwise loss over
    each group of 1 + negatives rows; ``weights`` not supported).

    With ``shards`` (:class:`~tfrec.data.prepare.stream.ShardStream`), the
    positives are streamed shard by shard: shard s of S in epoch e gets its
    negatives and its shuffle from the stateless seeds of "epoch" e·S + s,
    and ``users`` and ``items`` serve only as the seen pairs, ``extra`` only
    names the stream's columns (:data:`~tfrec.data.prepare.stream.COLUMNS`);
    under multi-worker, in this worker's share of ``batch_size``. One shard
    gives the in-memory batches exactly. Not with ``weights``.
    """
    seen_keys = tf.sort(tf.constant(np.asarray(users, np.int64) * n_items + items))
    positive_weights = None if weights is None else tf.constant(weights, tf.float32)
    extra = extra or {}
    extra_names = tuple(extra)
    extra_columns = {} if shards is not None else {k: tf.constant(v) for k, v in extra.items()}
    cdf = None if item_weights is None else tf.constant(np.cumsum(item_weights), tf.float32)
    if candidates is not None:
        width = candidates.shape[1]
        flat_candidates = tf.constant(np.asarray(candidates, np.int64).ravel())

    def with_hard(users, sampled, epoch):
        seed_ = tf.stack([tf.constant(seed, tf.int64) + 104_729, epoch])
        shape = tf.shape(sampled)
        column = tf.random.stateless_uniform(shape, seed_, 0, width, dtype=tf.int64)
        hard = tf.gather(flat_candidates, users[:, None] * width + column)
        take = tf.random.stateless_uniform(shape, seed_ + 1) < hard_share
        return tf.where(take, hard, sampled)

    def one_epoch(users, items, epoch, extras):
        epoch = tf.cast(epoch, tf.int64)
        n = tf.shape(users)[0]
        sampled = sample_unseen(
            users,
            seen_keys,
            n_items,
            negatives,
            tf.stack([tf.constant(seed, tf.int64) + 7919, epoch]),
            cdf=cdf,
        )
        if candidates is not None:
            sampled = with_hard(users, sampled, epoch)
        if grouped:
            columns = {"user": users, "item": items, "negatives": sampled, **extras}
            return epoch_batches(columns, max(1, batch_size // (1 + negatives)), seed, epoch)
        columns = {
            "user": tf.concat([users, tf.repeat(users, negatives)], 0),
            "item": tf.concat([items, tf.reshape(sampled, [-1])], 0),
            "label": tf.concat([tf.ones([n]), tf.zeros([n * negatives])], 0),
        }
        if weights is not None:
            columns["weight"] = tf.concat([positive_weights, tf.ones([n * negatives])], 0)
        for name, column in extras.items():
            columns[name] = tf.concat([column, tf.repeat(column, negatives)], 0)
        return epoch_batches(columns, batch_size, seed, epoch)

    if shards is None:
        users, items = tf.constant(users, tf.int64), tf.constant(items, tf.int64)
        batches = tf.data.Dataset.range(epochs).flat_map(
            lambda e: one_epoch(users, items, e, extra_columns)
        )
    else:
        if weights is not None:
            raise ValueError("streamed shards take no weights")
        steps = implicit_steps(len(users), negatives, batch_size, grouped, shards)
        batch_size = shards.batch_size(batch_size)

        def shard_epoch(index, users, items, *values):
            extras = dict(zip(extra_names, values, strict=True))
            return one_epoch(tf.cast(users, tf.int64), tf.cast(items, tf.int64), index, extras)

        def stream_epoch(epoch):
            columns = ["user", "item", *extra_names]
            return shards.epoch(columns, seed, epoch, indexed=True).flat_map(shard_epoch)

        batches = shards.epochs(stream_epoch, epochs, steps)

    def example(b):
        features = {"user": b["user"], "item": b["item"], **{k: b[k] for k in extra_names}}
        return (features, b["label"]) if weights is None else (features, b["label"], b["weight"])

    def group(b):
        """One positive, then its negatives: (1 + negatives) rows per positive."""
        repeat = {k: tf.repeat(b[k], 1 + negatives) for k in ("user", *extra_names)}
        items_ = tf.reshape(tf.concat([b["item"][:, None], b["negatives"]], 1), [-1])
        label = tf.tile(tf.one_hot(0, 1 + negatives), tf.shape(b["item"])[:1])
        return {**repeat, "item": items_}, label

    return batches.map(group if grouped else example).prefetch(tf.data.AUTOTUNE)
