"""A prepared directory's training part, streamed shard by shard with tf.data.

An epoch visits the train shards in a seeded order, taking batches in turn
from ``SHARD_CYCLE`` shards at a time (``interleave``); the pipeline reads
the next shards with pyarrow while the current ones train (``map`` with two
parallel calls, then ``prefetch``), so memory holds a few shards, never a
copy of the whole part. Each shard arrives as columns coded to the model's
rows, with its own shuffle: :func:`tfrec.pipelines.epoch_order` with the
stateless seed ``(seed, epoch · S + s)`` for shard s of S. With one shard an
epoch is exactly the in-memory one (:func:`~tfrec.pipelines.epoch_order`
with ``(seed, epoch)``): the same batches in the same order.

A worker of a multi-worker job reads only its own shards (``worker`` of
``workers``: shards s with s mod workers = worker), whole users each, as
the preparation partitioned them by user.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np

from tfrec.errors import ConfigError

# Column name -> (parquet column, dtype of the streamed tensor). ``position``
# is computed, not read: the row's place in the whole train part as loaded
# (the shards in order), which is its position in its user's time-ordered
# sequence (:class:`~tfrec.sequences.UserSequences` uses such rows as they are).
COLUMNS = {
    "user": ("user_id", np.int32),
    "item": ("item_id", np.int32),
    "rating": ("rating", np.float32),
    "weight": ("weight", np.float32),
    "timestamp": ("timestamp", np.int64),
    "position": (None, np.int64),
}
# Shards whose rows an epoch of batches takes in turn; memory holds them at
# once. The sequence models take every shard's examples in turn (at 100M, 21
# shards: two_tower's HR@10 0.4193 with 8 at a time, 0.4220 with all, 0.4252
# in memory).
SHARD_CYCLE = 8


@dataclasses.dataclass(frozen=True)
class TrainShards:
    """The train shard files of a prepared directory.

    Attributes:
        files: The shard files, in shard order.
        rows: Each shard's row count.
    """

    files: tuple[Path, ...]
    rows: tuple[int, ...]

    @classmethod
    def of(cls, directory, manifest: dict) -> TrainShards:
        """The train shards a manifest lists."""
        shards = manifest["shards"]["train"]
        return cls(
            tuple(Path(directory).expanduser() / s["file"] for s in shards),
            tuple(int(s["rows"]) for s in shards),
        )

    @property
    def total_rows(self) -> int:
        """Training rows in every shard."""
        return sum(self.rows)

    def owned(self, worker: int, workers: int) -> list[int]:
        """The shards worker ``worker`` of ``workers`` reads: s mod workers = worker."""
        if not 0 <= worker < workers:
            raise ConfigError(f"worker must be in [0, {workers}); got {worker}")
        return list(range(worker, len(self.files), workers))

    def epoch(
        self,
        columns: list[str],
        codes: dict[str, np.ndarray],
        seed: int,
        epoch: int,
        worker: int = 0,
        workers: int = 1,
        indexed: bool = False,
    ):
        """One epoch's shards, each an element ``(order, *columns)`` (``indexed``:
        ``(index, *columns)``).

        Args:
            columns: Names from :data:`COLUMNS`, in the order they are yielded.
            codes: For a column of codes (``user``, ``item``): an array mapping
                a prepared code to the model's row (the code's place in the
                training vocabulary); -1 for codes without one is an error.
            seed: Base seed of the shard order and of each shard's shuffle.
            epoch: Epoch number.
            worker: This worker's index (multi-worker reading).
            workers: Number of workers; each reads only its own shards.
            indexed: Whether each element is ``(index, *columns)`` instead:
                the int64 ``epoch · S + s`` (S shards, this one s) in place of
                the shuffle, for the caller's own seeded draws of the shard
                (``epoch_order(rows, seed, index)`` is the shuffle it replaces).

        Returns:
            A ``tf.data.Dataset`` of tuples: the shard's shuffled row order (int64, each
            row once; or its index) and its columns, read in file order.
        """
        import tensorflow as tf

        from tfrec.pipelines import epoch_order

        unknown = [name for name in columns if name not in COLUMNS]
        if unknown:
            raise ConfigError(f"columns must be among {sorted(COLUMNS)}; got {unknown}")
        order = self.order(seed, epoch, worker, workers)
        n_shards = len(self.files)
        dtypes = [tf.as_dtype(COLUMNS[name][1]) for name in columns]

        def read(shard):
            return self._read(int(shard), columns, codes)

        def load(shard):
            values = tf.numpy_function(read, [shard], dtypes, stateful=False)
            index = epoch * n_shards + shard
            for value in values:
                value.set_shape([None])
            if indexed:
                return (index, *values)
            rows = tf.shape(values[0], out_type=tf.int64)[0]
            return (epoch_order(rows, seed, index), *values)

        return (
            tf.data.Dataset.from_tensor_slices(order)
            .map(load, num_parallel_calls=2, deterministic=True)
            .prefetch(1)
        )

    def order(self, seed: int, epoch: int, worker: int = 0, workers: int = 1) -> np.ndarray:
        """Worker ``worker``'s shards in epoch ``epoch``'s seeded order."""
        owned = np.asarray(self.owned(worker, workers), np.int64)
        return np.random.default_rng([seed, epoch]).permutation(owned) if len(owned) > 1 else owned

    def steps(self, batch_size: int, per_row: int = 1, worker: int = 0, workers: int = 1) -> int:
        """Batches of ``batch_size`` in one epoch of worker ``worker``'s shards (each
        shard's last one takes its rest), ``per_row`` examples per row
        (:meth:`ShardStream.batches`, :meth:`ShardStream.epochs`)."""
        return sum(-(-self.rows[s] * per_row // batch_size) for s in self.owned(worker, workers))

    def _read(self, shard: int, columns: list[str], codes: dict) -> list[np.ndarray]:
        import pyarrow.parquet as pq

        path = self.files[shard]
        read = [COLUMNS[name][0] for name in columns if COLUMNS[name][0] is not None]
        table = pq.read_table(path, columns=read)
        first = sum(self.rows[:shard])
        out = []
        for name in columns:
            if COLUMNS[name][0] is None:  # position
                out.append(np.arange(first, first + self.rows[shard], dtype=np.int64))
                continue
            values = table.column(COLUMNS[name][0]).to_numpy()
            if name in codes:
                values = codes[name][values]
                if len(values) and values.min() < 0:
                    raise ConfigError(
                        f"{path}: {name} codes absent from the training vocabulary; "
                        "the shards do not match the split being fitted"
                    )
            out.append(values.astype(COLUMNS[name][1], copy=False))
        return out


def streamed_shards(split, data, strategy) -> TrainShards | None:
    """The prepared train shards a fit streams its epochs from, or None.

    None for in-memory data, a split whose train is not the shards' rows
    (``--refit``), and the parameter-server strategy (it feeds in-memory
    columns).
    """
    from tfrec.distribute import is_parameter_server

    shards = getattr(split, "train_shards", None)
    if shards is None or is_parameter_server(strategy):
        return None
    return shards if shards.total_rows == len(data.users) else None


@dataclasses.dataclass(frozen=True)
class ShardStream:
    """What one fit streams: this worker's train shards, coded to the model's rows.

    In one process (or under the mirrored strategy) that is every shard.
    Under multi-worker each worker reads only its own shards
    (:meth:`TrainShards.owned`) in batches of its share of the global batch,
    and every worker runs the same number of steps an epoch (the most any
    worker's shards give): a worker whose shards give fewer starts its
    epoch's stream again for the last steps.

    Attributes:
        shards: The split's train shards.
        codes: ``{"user": ..., "item": ...}``: arrays mapping a prepared code
            to the model's row (:func:`code_rows`).
        worker: This worker's index.
        workers: Number of workers.
    """

    shards: TrainShards
    codes: dict
    worker: int = 0
    workers: int = 1

    @property
    def per_worker(self) -> bool:
        """Whether each worker reads its own shards (multi-worker), so the
        input must not be sharded again by tf.distribute."""
        return self.workers > 1

    def batch_size(self, batch_size: int) -> int:
        """This worker's share of the global ``batch_size`` (rounded up)."""
        return -(-batch_size // self.workers)

    def steps(self, size: int, per_row: int = 1) -> int:
        """Steps of one epoch of :meth:`epochs` in batches of ``size`` examples
        on each worker (``per_row`` per row): this worker's batches
        (:meth:`TrainShards.steps`), the most of any worker's under multi-worker."""
        return max(self.shards.steps(size, per_row, w, self.workers) for w in range(self.workers))

    def epoch(self, columns: list[str], seed: int, epoch: int, indexed: bool = False):
        """One epoch of this worker's shards (:meth:`TrainShards.epoch`)."""
        return self.shards.epoch(
            columns, self.codes, seed, epoch, self.worker, self.workers, indexed
        )

    def batches(self, columns: list[str], batch_size: int, seed: int, epochs: int):
        """``epochs`` epochs of shuffled batches, shard by shard, prefetched; for
        ``keras.Model.fit`` (:meth:`steps` per epoch).

        Each element is a dict of batched columns. A shard's rows are cut into
        batches in its shuffled order (:meth:`epoch`); with one shard the
        batches are exactly :func:`tfrec.pipelines.training_dataset`'s.

        Args:
            columns: Names from :data:`COLUMNS`.
            batch_size: Examples per global batch.
            seed: Base seed of the shard orders and shuffles.
            epochs: Number of epochs.
        """
        import tensorflow as tf

        from tfrec.pipelines import ordered_batches

        size = self.batch_size(batch_size)

        def cut(order, *values):
            return ordered_batches(dict(zip(columns, values, strict=True)), order, size)

        def one_epoch(epoch):
            return _interleaved(self.epoch(columns, seed, epoch), cut)

        return self.epochs(one_epoch, epochs, self.steps(size)).prefetch(tf.data.AUTOTUNE)

    def sequence_batches(
        self, examples, per_user, sequences, batch_size: int, seed: int, epochs: int
    ):
        """Batches of examples made from each shard's user sequences, for the
        sequence models (``two_tower``'s and ``lstm``'s windows).

        Each shard's users (and items, when the examples carry them) are read
        and made into :meth:`UserSequences.of_shard
        <tfrec.sequences.UserSequences.of_shard>` inside one call, so only
        the example columns (int32 while the train part has under 2^31 rows)
        flow through tf.data. ``examples`` turns the sequences into example
        columns, shuffled with the shard's seed and cut into batches, as
        :meth:`batches` does with rows. With one shard the batches are exactly
        ``training_dataset(examples(sequences), ...)``'s.

        Args:
            examples: ``examples(sequences)`` -> dict of int64 columns, the
                same function one process applies to the whole part.
            per_user: (n_users,) examples ``examples`` makes of each user.
            sequences: The whole train part's sequences, grouped as the shards
                are (``order`` None): where each user's rows start.
            batch_size: Examples per global batch.
            seed: Base seed of the shard orders and shuffles.
            epochs: Number of epochs.

        Returns:
            ``(dataset, steps_per_epoch)``, or None under multi-worker when a
            worker's shards would make no example (it would stop while the
            others wait for it).
        """
        import tensorflow as tf

        from tfrec.pipelines import epoch_order, ordered_batches
        from tfrec.sequences import UserSequences

        size = self.batch_size(batch_size)
        n_users = len(sequences.starts)
        names = list(examples(UserSequences.of_shard(np.zeros(0, np.int64), [], 0, n_users)))
        first_rows = np.cumsum((0, *self.shards.rows))
        shard_of_user = np.searchsorted(first_rows, sequences.starts, side="right") - 1
        counts = np.bincount(shard_of_user, weights=per_user, minlength=len(self.shards.files))
        owned = [self.shards.owned(w, self.workers) for w in range(self.workers)]
        if self.workers > 1 and min(counts[shards].sum() for shards in owned) == 0:
            return None
        steps = max(sum(-(-int(counts[s]) // size) for s in shards) for shards in owned)

        read = ["user", "item"] if "item" in names else ["user"]
        dtype = np.int32 if first_rows[-1] < 2**31 else np.int64

        def make(shard):
            values = self.shards._read(int(shard), read, self.codes)
            items = values[1] if len(values) > 1 else None
            made = examples(UserSequences.of_shard(values[0], items, first_rows[shard], n_users))
            return [np.asarray(made[name], dtype) for name in names]

        def shard_batches(shard, epoch):
            values = tf.numpy_function(
                make, [shard], [tf.as_dtype(dtype)] * len(names), stateful=False
            )
            for value in values:
                value.set_shape([None])
            index = epoch * len(self.shards.files) + shard
            order = epoch_order(tf.shape(values[0], out_type=tf.int64)[0], seed, index)
            columns = dict(zip(names, values, strict=True))
            return ordered_batches(columns, order, size, widen=names if dtype == np.int32 else ())

        def one_epoch(epoch):
            order = self.shards.order(seed, epoch, self.worker, self.workers)
            shards = tf.data.Dataset.from_tensor_slices(order)
            # Every shard in turn: a shard's windows are a few bytes per row.
            return _interleaved(shards, lambda shard: shard_batches(shard, epoch), len(order))

        return self.epochs(one_epoch, epochs, steps).prefetch(tf.data.AUTOTUNE), steps

    def epochs(self, one_epoch, epochs: int, steps: int):
        """``one_epoch(e)``'s batches for each epoch e, one after the other;
        under multi-worker each repeated to ``steps`` batches."""
        dataset = None
        for epoch in range(epochs):
            batches = one_epoch(epoch)
            if self.per_worker:
                batches = batches.repeat().take(steps)
            dataset = batches if dataset is None else dataset.concatenate(batches)
        return dataset


def streamed(name: str, split, data, options) -> ShardStream | None:
    """The :class:`ShardStream` a fit reads its epochs from when the split has
    train shards (:func:`streamed_shards`), else None; says so when
    ``options.verbose``."""
    from tfrec.distribute import worker_index

    shards = streamed_shards(split, data, options.strategy)
    if shards is None:
        return None
    worker, workers = worker_index(options.strategy)
    replicas = getattr(options.strategy, "num_replicas_in_sync", 1)
    if workers > 1 and (len(shards.files) < workers or replicas != workers):
        # A worker without shards would stop while the others wait for it; a
        # worker with several replicas would take several batches a step.
        if options.verbose:
            print(
                f"{name}: {len(shards.files)} train shards for {workers} workers "
                f"({replicas} replicas); every worker feeds the loaded rows, sharded by "
                f"batch (prepare with --shards >= {workers}, one replica per worker, to "
                "stream each worker's own)",
                file=sys.stderr,
            )
        return None
    stream = ShardStream(
        shards,
        {"user": code_rows(data.user_ids), "item": code_rows(data.item_ids)},
        worker,
        workers,
    )
    if options.verbose:
        owned = shards.owned(worker, workers)
        rows = sum(shards.rows[s] for s in owned)
        who = f"worker {worker} of {workers} streams train shards {owned}"
        print(
            f"{name}: {who if workers > 1 else f'streams {len(owned)} train shards'} "
            f"({rows:,} rows)",
            file=sys.stderr,
        )
    return stream


def sequence_input(
    name: str,
    split,
    data,
    options,
    sequences,
    examples,
    per_user,
    batch_size: int,
    seed: int,
    epochs: int,
):
    """The training input of a sequence model: ``(make_dataset, steps_per_epoch,
    per_worker)`` for :func:`~tfrec.models.training.ranking_stopping.fit_with_ranking`.

    From a prepared directory (:func:`streamed`) each shard's examples are made
    as it is read (:meth:`ShardStream.sequence_batches`), each worker's from
    its own shards; otherwise ``examples(sequences)``, made once in memory
    (:func:`tfrec.pipelines.training_dataset`).

    Args:
        name: The model's name (for progress lines).
        split: The split being fitted.
        data: Its training :class:`~tfrec.models.base.Interactions`.
        options: The fit's :class:`~tfrec.models.options.TrainingOptions`.
        sequences: The users' training sequences.
        examples: ``examples(sequences)`` -> dict of example columns.
        per_user: (n_users,) examples ``examples`` makes of each user.
        batch_size: Examples per global batch.
        seed: Base seed of the shuffles.
        epochs: Number of epochs.
    """
    from tfrec.pipelines import steps_per_epoch, training_dataset

    stream = None
    if sequences.order is None:  # positions are train rows, as in the shards
        stream = streamed(name, split, data, options)
    made = (
        None
        if stream is None
        else stream.sequence_batches(examples, per_user, sequences, batch_size, seed, epochs)
    )
    if made is not None:
        dataset, steps = made
        return lambda: dataset, steps, stream.per_worker
    if stream is not None and options.verbose:
        print(
            f"{name}: a worker's shards make no training example; every worker feeds "
            "the loaded rows, sharded by batch",
            file=sys.stderr,
        )
    columns = examples(sequences)
    steps = steps_per_epoch(len(next(iter(columns.values()))), batch_size)
    return lambda: training_dataset(columns, batch_size, seed, epochs), steps, False


def _interleaved(shards, batches, cycle: int = 0):
    """Each shard's ``batches(*shard)``, taken in turn from ``cycle`` shards at
    a time (default ``SHARD_CYCLE``; one shard: its batches in order). An
    epoch that trained one shard's users after another's would leave the
    first shards' user embeddings stale against items that kept moving: at
    25M, two_tower's HR@10 after one epoch was 0.303 shard after shard, 0.318
    in turn, 0.317 in memory (docs/scaling.md)."""
    import tensorflow as tf

    return shards.interleave(
        lambda *shard: batches(*shard),
        cycle_length=cycle or SHARD_CYCLE,
        block_length=1,
        num_parallel_calls=tf.data.AUTOTUNE,
        deterministic=True,
    )


def code_rows(known: np.ndarray) -> np.ndarray:
    """The array mapping each prepared code to its row among the sorted ``known``
    codes (-1 for codes absent from them)."""
    rows = np.full(int(known.max(initial=-1)) + 1, -1, np.int32)
    rows[known] = np.arange(len(known), dtype=np.int32)
    return rows
