"""``mf``'s epochs under a tf.distribute strategy: the same tables, steps and update rule.

:class:`~tfrec.models.factorization.mf_trainer.MFTrainer` holds the packed
tables and the update rule (``_deltas``, row-wise Adagrad); in one process it
runs an epoch as one XLA loop. Under a strategy this runs the same steps
(the same batches of the same shuffle, :func:`tfrec.pipelines.epoch_batches`):

* ``mirrored`` / ``multi-worker``: each replica computes the deltas of its
  share of the batch and scatter-adds them; the tables aggregate by SUM, so
  every copy receives every replica's deltas and a step applies the whole
  batch's, as in one process.
* from a prepared directory (mirrored / multi-worker), each worker streams
  its own train shards (:meth:`DistributedEpochs.train_shards`): the
  batches differ from one process's, the update rule does not.
* ``parameter-server``: the tables are sharded across the parameter
  servers; each worker's step gathers its rows and scatter-adds its deltas
  there (asynchronously, as parameter-server training does).
"""

from __future__ import annotations

import tensorflow as tf

from tfrec.distribute import distribute_batches, is_parameter_server, print_shards
from tfrec.pipelines import epoch_batches


class DistributedEpochs:
    """Trains ``trainer`` (built under ``strategy.scope()``) one epoch at a time.

    Args:
        trainer: The :class:`MFTrainer` whose tables were created in the scope.
        strategy: The ``tf.distribute.Strategy``.
        verbose: Print how the tables are sharded (parameter server).
    """

    def __init__(self, trainer, strategy, verbose: bool = False):
        self.trainer, self.strategy = trainer, strategy
        self.coordinator = None
        if is_parameter_server(strategy):
            self.coordinator = tf.distribute.experimental.coordinator.ClusterCoordinator(strategy)
            if verbose:
                print_shards("mf", {"users": trainer.users, "items": trainer.items})

    def _apply(self, batch):
        """One step on this replica's (or worker's) share of a batch; its squared error."""
        t = self.trainer
        users, items = batch["user"], batch["item"]
        user_delta, item_delta, squared = t._deltas(
            tf.nn.embedding_lookup(t.users, users),
            tf.nn.embedding_lookup(t.items, items),
            batch["rating"],
        )
        t.users.scatter_add(tf.IndexedSlices(user_delta, users))
        t.items.scatter_add(tf.IndexedSlices(item_delta, items))
        return squared

    def train_epoch(self, columns, batch_size: int, seed: int, epoch: int) -> float:
        """Trains one epoch (as :meth:`MFTrainer.train_epoch`); returns the training RMSE."""
        users, items, ratings = columns
        tensors = {"user": users, "item": items, "rating": ratings}
        n = int(users.shape[0])
        if self.coordinator is not None:
            return self._parameter_server_epoch(tensors, n, batch_size, seed, epoch)
        batches = distribute_batches(
            lambda: epoch_batches(tensors, batch_size, seed, epoch), self.strategy
        )
        total = 0.0
        for batch in self.strategy.experimental_distribute_dataset(batches):
            total += float(self._replicated_step(batch))
        return (total / n) ** 0.5

    def train_shards(self, stream, batch_size: int, seed: int, epoch: int) -> float:
        """Trains one epoch from a prepared directory's train shards; each worker
        reads only its own (:meth:`~tfrec.data.prepare.stream.TrainShards.owned`).

        The workers step in lockstep, ceil(rows / batch_size) steps an epoch;
        a worker whose shards hold fewer rows than its share starts its
        stream again for the last steps. Returns the training RMSE.
        """

        def per_worker(context):
            size = context.get_per_replica_batch_size(batch_size)
            epoch_ = stream.epoch(["user", "item", "rating"], seed, epoch)
            return epoch_.flat_map(lambda *shard: _batches(shard, size)).repeat()

        dataset = self.strategy.distribute_datasets_from_function(per_worker)
        iterator = iter(dataset)
        n = stream.shards.total_rows
        steps = -(-n // batch_size)
        total = sum(float(self._replicated_step(next(iterator))) for _ in range(steps))
        return (total / n) ** 0.5

    @tf.function
    def _replicated_step(self, batch):
        squared = self.strategy.run(self._apply, args=(batch,))
        return self.strategy.reduce(tf.distribute.ReduceOp.SUM, squared, axis=None)

    def _parameter_server_epoch(self, tensors, n, batch_size, seed, epoch) -> float:
        def per_worker(context):
            # Repeated: the coordinator may draw unevenly from the workers.
            batches = epoch_batches(tensors, batch_size, seed, epoch)
            return batches.shard(context.num_input_pipelines, context.input_pipeline_id).repeat()

        dataset = self.coordinator.create_per_worker_dataset(
            lambda: self.strategy.distribute_datasets_from_function(per_worker)
        )
        iterator = iter(dataset)
        step = tf.function(lambda iterator: self._apply(next(iterator)))
        steps = -(-n // batch_size)
        results = [self.coordinator.schedule(step, args=(iterator,)) for _ in range(steps)]
        self.coordinator.join()
        return (sum(float(r.fetch()) for r in results) / n) ** 0.5


def _batches(shard, size: int):
    """A streamed shard ``(order, users, items, ratings)`` as batches of ``size`` rows."""
    order, users, items, ratings = shard
    n = tf.shape(order, out_type=tf.int64)[0]

    def batch(start):
        rows = order[start : tf.minimum(start + size, n)]
        return {
            "user": tf.gather(users, rows),
            "item": tf.gather(items, rows),
            "rating": tf.gather(ratings, rows),
        }

    return tf.data.Dataset.range(0, n, size).map(batch)
