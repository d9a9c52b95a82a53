"""The TensorFlow training loop of :mod:`tfrec.models.mf` (row-wise sparse Adagrad)."""

from __future__ import annotations

import numpy as np
import tensorflow as tf


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
        self.users = tf.Variable(self._table(rng, n_users, d, config, bias_col=d))
        self.items = tf.Variable(self._table(rng, n_items, d, config, bias_col=d + 1))
        ones = [1.0] * d
        # Which of the d+2 dot columns learn, and their L2 weights.
        self.user_mask = tf.constant(ones + [1.0, 0.0])
        self.item_mask = tf.constant(ones + [0.0, 1.0])
        self.user_l2 = tf.constant([config.l2] * d + [config.l2_bias, 0.0])
        self.item_l2 = tf.constant([config.l2] * d + [0.0, config.l2_bias])
        self.learning_rate = float(config.learning_rate)
        self.global_mean = float(global_mean)
        self._step_math = tf.function(self._deltas, jit_compile=True)

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

    @tf.function
    def _epoch(self, dataset):
        total, count = tf.constant(0.0), tf.constant(0.0)
        for batch in dataset:
            users, items = batch["user"], batch["item"]
            user_delta, item_delta, squared = self._step_math(
                tf.gather(self.users, users), tf.gather(self.items, items), batch["rating"]
            )
            self.users.scatter_add(tf.IndexedSlices(user_delta, users))
            self.items.scatter_add(tf.IndexedSlices(item_delta, items))
            total += squared
            count += tf.cast(tf.shape(users)[0], tf.float32)
        return tf.sqrt(total / count)

    def train_epoch(self, dataset) -> float:
        """Runs one epoch over a dataset of batches; returns the training RMSE."""
        return float(self._epoch(dataset))

    def unpack(self, users: np.ndarray, items: np.ndarray):
        """(user_factors, user_bias, item_factors, item_bias) of packed user and item tables."""
        d = self.d
        return (
            users[:, :d].copy(),
            users[:, d].copy(),
            items[:, :d].copy(),
            items[:, d + 1].copy(),
        )

    def rmse(self, users, items, ratings, scale) -> float:
        """Validation RMSE of the current weights, predictions clipped to the scale."""
        d = self.d
        u, i = self.users.numpy()[users], self.items.numpy()[items]
        prediction = self.global_mean + np.einsum("ij,ij->i", u[:, : d + 2], i[:, : d + 2])
        error = np.clip(prediction, *scale) - ratings
        return float(np.sqrt(np.mean(error**2)))
