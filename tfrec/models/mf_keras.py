"""``mf`` trained by Keras ``model.fit`` under a tf.distribute strategy.

The single-process trainer (:mod:`tfrec.models.mf_trainer`) packs both
tables into rows that one scatter updates; that layout does not distribute.
Under a strategy ``mf`` trains this Keras model instead: the same prediction
and loss (per example ``(r_hat - r)^2 / 2 + l2 / 2 (|p_u|^2 + |q_i|^2) +
l2_bias / 2 (b_u^2 + b_i^2)``, summed over the batch) with Keras' Adagrad,
which keeps one accumulator per element rather than per row. Each replica
sums the loss over its share of the batch and the strategy sums the
gradients (all-reduce across workers, or updates on the parameter servers,
where the tables are sharded), so a step sees the whole batch as in one
process.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import tf_keras as keras

from tfrec.distribute import as_array
from tfrec.models.keras_support import record_history, training_callbacks, training_input
from tfrec.pipelines import steps_per_epoch, training_dataset


class KerasMF(keras.Model):
    """Biased MF with four embedding tables and a summed per-example loss."""

    def __init__(self, n_users, n_items, config, global_mean):
        super().__init__(name="mf")
        c = config

        def table(n, width, name, offset):
            initializer = (
                keras.initializers.RandomNormal(0.0, c.init_std, seed=c.seed + offset)
                if width > 1
                else "zeros"
            )
            return keras.layers.Embedding(n, width, embeddings_initializer=initializer, name=name)

        self.user_factors = table(n_users, c.n_factors, "user_factors", 1)
        self.item_factors = table(n_items, c.n_factors, "item_factors", 2)
        self.user_bias = table(n_users, 1, "user_bias", 0)
        self.item_bias = table(n_items, 1, "item_bias", 0)
        self.global_mean = float(global_mean)
        self.l2, self.l2_bias = float(c.l2), float(c.l2_bias)
        self.squared_error = keras.metrics.Mean("squared_error")

    def _parts(self, inputs):
        return (
            self.user_factors(inputs["user"]),
            self.item_factors(inputs["item"]),
            self.user_bias(inputs["user"])[:, 0],
            self.item_bias(inputs["item"])[:, 0],
        )

    def call(self, inputs):
        p, q, b_u, b_i = self._parts(inputs)
        return self.global_mean + b_u + b_i + tf.reduce_sum(p * q, axis=1)

    def train_step(self, batch):
        with tf.GradientTape() as tape:
            p, q, b_u, b_i = self._parts(batch)
            error = self.global_mean + b_u + b_i + tf.reduce_sum(p * q, axis=1) - batch["rating"]
            loss = 0.5 * (
                tf.reduce_sum(tf.square(error))
                + self.l2 * (tf.reduce_sum(tf.square(p)) + tf.reduce_sum(tf.square(q)))
                + self.l2_bias * (tf.reduce_sum(tf.square(b_u)) + tf.reduce_sum(tf.square(b_i)))
            )
        variables = self.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables, strict=True))
        self.squared_error.update_state(tf.square(error))
        return {"train_rmse": tf.sqrt(self.squared_error.result())}

    @property
    def metrics(self):
        return [self.squared_error]  # reset at each epoch

    def arrays(self):
        """(user_factors, user_bias, item_factors, item_bias) as numpy arrays."""
        return (
            as_array(self.user_factors.embeddings),
            as_array(self.user_bias.embeddings)[:, 0],
            as_array(self.item_factors.embeddings),
            as_array(self.item_bias.embeddings)[:, 0],
        )


def _take(recommender, model) -> None:
    """Copies the Keras tables into the ``MF``'s arrays."""
    (
        recommender.user_factors_,
        recommender.user_bias_,
        recommender.item_factors_,
        recommender.item_bias_,
    ) = model.arrays()


class _ValidationRMSE(keras.callbacks.Callback):
    """Adds ``val_rmse`` (``MF``'s predictions, clipped to the rating scale) to the epoch logs."""

    def __init__(self, recommender, model, validation):
        super().__init__()
        self.recommender, self.mf, self.validation = recommender, model, validation

    def on_epoch_end(self, epoch, logs=None):
        users, items, ratings = self.validation
        _take(self.recommender, self.mf)
        prediction = self.recommender._predict(users, items)
        error = np.clip(prediction, *self.recommender.rating_scale_) - ratings
        logs["val_rmse"] = float(np.sqrt(np.mean(error**2)))


def fit_distributed(recommender, data, split) -> None:
    """Fits ``recommender`` (an ``MF``) under its strategy; sets its arrays and history."""
    c = recommender.config
    keras.utils.set_random_seed(c.seed)
    model = KerasMF(len(data.user_ids), len(data.item_ids), c, recommender.global_mean_)
    model({"user": tf.zeros([1], tf.int64), "item": tf.zeros([1], tf.int64)})  # variables now
    model.compile(
        optimizer=keras.optimizers.Adagrad(
            c.learning_rate, initial_accumulator_value=c.initial_accumulator
        )
    )
    columns = {
        "user": data.users.astype(np.int64),
        "item": data.items.astype(np.int64),
        "rating": data.ratings.astype(np.float32),
    }
    validation = recommender._encoded(split.validation)
    callbacks = []
    if validation is not None:
        callbacks.append(_ValidationRMSE(recommender, model, validation))
    callbacks += training_callbacks(
        recommender, "val_rmse" if validation is not None else None, "min"
    )
    steps = steps_per_epoch(len(data.users), c.batch_size)
    history = model.fit(
        training_input(
            recommender, lambda: training_dataset(columns, c.batch_size, c.seed, c.epochs), steps
        ),
        epochs=c.epochs,
        steps_per_epoch=steps,
        callbacks=callbacks,
        verbose=2 if recommender.verbose else 0,
    )
    record_history(recommender, history, model)
    _take(recommender, model)
