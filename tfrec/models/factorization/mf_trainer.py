"""The TensorFlow training loop of :mod:`tfrec.models.factorization.mf` (row-wise sparse Adagrad).

An epoch is one XLA-compiled loop over batches of a seeded shuffle of the
example indices: each step gathers its examples' columns and table rows,
computes the updates and scatter-adds them into the tables in place (XLA
aliases the variables' buffers, so no step copies a table). Against the same
steps as TensorFlow ops fed by tf.data this trains the same tables 1.5-2
times faster (docs/results.md, "Training speed"): no per-step op dispatch, and no
shuffled copy of the columns.

From a prepared directory (``tfrec data prepare``) an epoch streams: the
train shards arrive from tf.data (:mod:`tfrec.data.prepare.stream`), a few
at a time are shuffled together and run through the same loop, so no
column of the whole part is held.
"""

from __future__ import annotations

import itertools

import numpy as np
import tensorflow as tf

from tfrec.pipelines import epoch_order

# Shards whose rows an epoch shuffles together. 8 took mf's peak RSS at 100M
# (21 shards of 3.2M rows) from 6.79 to 8.07 GiB: each shard, its order and
# the group's copy are held at once.
SHARD_GROUP = 4


class MFTrainer(tf.Module):
    """Holds the packed user and item tables and trains them one epoch at a time.

    Row layout (d = n_factors): users ``[p (d), b_u, 1, a_factors, a_bias]``,
    items ``[q (d), 1, b_i, a_factors, a_bias]``.
    """

    def __init__(self, n_users, n_items, config, global_mean):
        super().__init__(name="mf_trainer")
        d = config.n_factors
        self.d = d
        rng = np.random.default_rng(config.seed)
        # SUM: under a mirrored strategy every replica's deltas reach every copy.
        sum_ = tf.VariableAggregation.SUM
        self.users = tf.Variable(self._table(rng, n_users, d, config, d), aggregation=sum_)
        self.items = tf.Variable(self._table(rng, n_items, d, config, d + 1), aggregation=sum_)
        ones = [1.0] * d
        # Which of the d+2 dot columns learn, and their L2 weights.
        self.user_mask = tf.constant(ones + [1.0, 0.0])
        self.item_mask = tf.constant(ones + [0.0, 1.0])
        self.user_l2 = tf.constant([config.l2] * d + [config.l2_bias, 0.0])
        self.item_l2 = tf.constant([config.l2] * d + [0.0, config.l2_bias])
        self.learning_rate = float(config.learning_rate)
        self.global_mean = float(global_mean)
        self._train_steps = tf.function(self._steps, jit_compile=True)

    @staticmethod
    def _table(rng, n, d, config, bias_col):
        table = np.zeros((n, d + 4), np.float32)
        table[:, :d] = rng.normal(0.0, config.init_std, (n, d))
        table[:, 2 * d + 1 - bias_col] = 1.0  # the constant column facing the other bias
        table[:, d + 2 :] = config.initial_accumulator
        return table

    def _side(self, own, other, error, mask, l2, bias_col):
        d = self.d
        grad = (error[:, None] * other[:, : d + 2] + l2 * own[:, : d + 2]) * mask
        g_factors = tf.reduce_mean(tf.square(grad[:, :d]), axis=1, keepdims=True)
        g_bias = tf.square(grad[:, bias_col : bias_col + 1])
        scale_factors = tf.math.rsqrt(own[:, d + 2 : d + 3] + g_factors)
        scale_bias = tf.math.rsqrt(own[:, d + 3 : d + 4] + g_bias)
        scale = (
            tf.concat(
                [tf.broadcast_to(scale_factors, tf.shape(grad[:, :d])), scale_bias, scale_bias],
                axis=1,
            )
            * mask
        )
        return tf.concat([-self.learning_rate * grad * scale, g_factors, g_bias], axis=1)

    def _deltas(self, user_rows, item_rows, ratings):
        d = self.d
        prediction = self.global_mean + tf.reduce_sum(
            user_rows[:, : d + 2] * item_rows[:, : d + 2], axis=1
        )
        error = prediction - ratings
        user_delta = self._side(user_rows, item_rows, error, self.user_mask, self.user_l2, d)
        item_delta = self._side(item_rows, user_rows, error, self.item_mask, self.item_l2, d + 1)
        return user_delta, item_delta, tf.reduce_sum(tf.square(error))

    def _steps(self, batches, users, items, ratings):
        """One step per row of ``batches`` (example indices); the summed squared error."""
        total = tf.constant(0.0)
        for step in tf.range(tf.shape(batches)[0]):
            rows = batches[step]
            user, item = tf.gather(users, rows), tf.gather(items, rows)
            user_delta, item_delta, squared = self._deltas(
                tf.gather(self.users, user), tf.gather(self.items, item), tf.gather(ratings, rows)
            )
            self.users.scatter_add(tf.IndexedSlices(user_delta, user))
            self.items.scatter_add(tf.IndexedSlices(item_delta, item))
            total += squared
        return total

    def train_epoch(self, columns, batch_size: int, seed: int, epoch: int) -> float:
        """Trains one epoch; returns the training RMSE.

        Args:
            columns: ``(users, items, ratings)`` tensors of the training examples.
            batch_size: Examples per step; the last step takes the rest.
            seed: Base seed; the epoch's order is that of
                :func:`tfrec.pipelines.epoch_order`.
            epoch: Epoch number.
        """
        n = int(columns[0].shape[0])
        return (self._train_order(epoch_order(n, seed, epoch), columns, batch_size) / n) ** 0.5

    def train_shards(self, stream, batch_size: int, seed: int, epoch: int) -> float:
        """Trains one epoch streamed from the shards, ``SHARD_GROUP`` at a time;
        returns the training RMSE.

        The rows of each group of shards are shuffled together, seeded by the
        group's first shard index (one shard: the shuffle the in-memory epoch
        draws), so that no shard's users wait for the others' while the items
        move on.

        Args:
            stream: The prepared train shards
                (:class:`~tfrec.data.prepare.stream.ShardStream`).
            batch_size: Examples per step; each group's last step takes its rest.
            seed: Base seed of the shard order and shuffles.
            epoch: Epoch number.
        """
        total, n = 0.0, 0
        shards = iter(stream.epoch(["user", "item", "rating"], seed, epoch, indexed=True))
        while group := list(itertools.islice(shards, SHARD_GROUP)):
            index, *columns = group[0]
            if len(group) > 1:
                columns = [tf.concat([shard[1 + j] for shard in group], 0) for j in range(3)]
            order = epoch_order(columns[0].shape[0], seed, index)
            total += self._train_order(order, columns, batch_size)
            n += int(order.shape[0])
        return (total / max(n, 1)) ** 0.5

    def _train_order(self, order, columns, batch_size: int) -> float:
        """Steps over ``columns`` in ``order``, ``batch_size`` rows each; the summed
        squared error."""
        n = int(order.shape[0])
        full = n // batch_size * batch_size
        total = 0.0
        if full:
            total += float(self._train_steps(tf.reshape(order[:full], [-1, batch_size]), *columns))
        if full < n:
            total += float(self._train_steps(order[None, full:], *columns))
        return total

    def unpack(self, users: np.ndarray, items: np.ndarray):
        """(user_factors, user_bias, item_factors, item_bias) of packed user and item tables."""
        d = self.d
        return (
            users[:, :d].copy(),
            users[:, d].copy(),
            items[:, :d].copy(),
            items[:, d + 1].copy(),
        )

    def rmse(self, users, items, ratings, scale, block: int = 1 << 20) -> float:
        """Validation RMSE of the current weights, predictions clipped to the scale
        (a block of pairs at a time: memory stays a block wide)."""
        d = self.d
        user_table, item_table = self.users.numpy(), self.items.numpy()
        squared = 0.0
        for start in range(0, len(users), block):
            at = slice(start, start + block)
            u, i = user_table[users[at], : d + 2], item_table[items[at], : d + 2]
            prediction = self.global_mean + np.einsum("ij,ij->i", u, i)
            error = np.clip(prediction, *scale) - ratings[at]
            squared += float(np.dot(error, error.astype(np.float64)))
        return (squared / max(len(users), 1)) ** 0.5
