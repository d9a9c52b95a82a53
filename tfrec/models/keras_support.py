"""Shared machinery of the Keras rating models (``dnn``, ``hybrid``).

The one import point for Keras in tfrec: ``tf_keras`` (Keras 2), which
tensorflow-recommenders needs; ``tfrec/__init__.py`` sets
``TF_USE_LEGACY_KERAS=1`` before TensorFlow is imported.

A subclass builds a functional model whose inputs are the internal ``user``
and ``item`` indices plus any per-example ``extra_inputs`` (e.g. the rating
timestamp); item content lives inside the model as constant tables. This base
trains it on tf.data batches with early stopping and learning-rate decay on
validation RMSE, predicts in batches, saves weights, and serves it.
"""

from __future__ import annotations

import abc
import sys
from pathlib import Path

import numpy as np
import tensorflow as tf
import tf_keras as keras

from tfrec.distribute import distribute_batches
from tfrec.models.base import Recommender
from tfrec.pipelines import steps_per_epoch, training_dataset

_PREDICT_BATCH = 65_536


class KerasRatingModel(Recommender, abc.ABC):
    """A Recommender around a Keras functional model predicting ratings."""

    distributable = True

    @abc.abstractmethod
    def _build(self) -> keras.Model:
        """The functional model (inputs ``user``, ``item`` and ``extra_inputs``)."""

    def _prepare(self, data, split) -> None:
        """Fits feature tables on training data (before ``_build``)."""

    def _extra_columns(self, frame_or_data) -> dict[str, np.ndarray]:
        """Per-example extra inputs for a ratings frame (or the training data)."""
        return {}

    # ---- training --------------------------------------------------------------------------

    def _fit(self, data, split) -> None:
        c = self.config
        keras.utils.set_random_seed(c.seed)
        self._prepare(data, split)
        self.model_ = self._build()
        self.model_.compile(
            optimizer=keras.optimizers.Adam(c.learning_rate),
            loss="mse",
            metrics=[keras.metrics.RootMeanSquaredError(name="rmse")],
        )
        columns = {
            "user": data.users.astype(np.int32),
            "item": data.items.astype(np.int32),
            **self._extra_columns(data),
            "rating": data.ratings,
        }
        steps = steps_per_epoch(len(data.users), c.batch_size)
        train = training_input(
            self,
            lambda: training_dataset(columns, c.batch_size, c.seed, c.epochs).map(_split_label),
            steps,
        )
        validation = self._validation_arrays(split.validation)
        callbacks = []
        if validation is not None and c.patience:
            callbacks.append(
                keras.callbacks.ReduceLROnPlateau(
                    "val_rmse", factor=0.5, patience=max(1, c.patience // 2)
                )
            )
        callbacks += training_callbacks(self, "val_rmse" if validation is not None else None)
        history = self.model_.fit(
            train,
            epochs=c.epochs,
            steps_per_epoch=steps,
            validation_data=validation,
            validation_batch_size=_PREDICT_BATCH,
            callbacks=callbacks,
            verbose=2 if self.verbose else 0,
        )
        record_history(self, history, self.model_)

    def _validation_arrays(self, frame):
        if frame is None or len(frame) == 0:
            return None
        users, items, ok = self.known_pairs(frame)
        if not ok.any():
            return None
        inputs = {
            "user": users[ok].astype(np.int32),
            "item": items[ok].astype(np.int32),
            **{k: v[ok] for k, v in self._extra_columns(frame).items()},
        }
        return inputs, frame["rating"].to_numpy(np.float32)[ok]

    # ---- inference -------------------------------------------------------------------------

    def _run(self, inputs: dict) -> np.ndarray:
        n = len(inputs["user"])
        out = np.empty(n, np.float32)
        for start in range(0, n, _PREDICT_BATCH):
            batch = {k: tf.constant(v[start : start + _PREDICT_BATCH]) for k, v in inputs.items()}
            out[start : start + _PREDICT_BATCH] = self.model_(batch, training=False).numpy().ravel()
        return out

    def _predict(self, users, items):
        return self._run(
            {
                "user": users.astype(np.int32),
                "item": items.astype(np.int32),
                **self._serving_defaults(users),
            }
        )

    def _score(self, users):
        n_items = len(self.item_ids_)
        pair_users = np.repeat(users, n_items)
        pair_items = np.tile(np.arange(n_items), len(users))
        return self._predict(pair_users, pair_items).reshape(len(users), n_items)

    def _serving_defaults(self, users) -> dict[str, np.ndarray]:
        """Extra inputs for prediction when the caller gives none (per user row)."""
        return {}

    # ---- persistence and serving -----------------------------------------------------------

    def _save_extra(self, directory):
        self.model_.save_weights(str(directory / "weights.h5"))

    def _load_extra(self, directory):
        self.model_ = self._build()
        self.model_.load_weights(str(directory / "weights.h5"))

    def serving_scorer(self, seen):
        return KerasScorer(self.model_, len(self.item_ids_), self._serving_default_tables())

    def _serving_default_tables(self) -> dict[str, np.ndarray]:
        """Per-user-row defaults of the extra inputs, for the ``recommend`` signature."""
        return {}


def training_callbacks(recommender, monitor: str | None = None, mode: str = "min") -> list:
    """Early stopping, TensorBoard logs and per-epoch checkpoints, as the fit asks.

    Args:
        recommender: The model being fitted (its ``config.patience``,
            ``log_dir``, ``checkpoint_dir`` and ``strategy`` are read).
        monitor: The epoch-log key to keep the best epoch of, and stop on
            after ``patience`` epochs without improvement (None: keep the
            last epoch); put the callback that adds it first.
        mode: ``min`` or ``max``.

    Checkpoints are ``keras.callbacks.BackupAndRestore``: weights, optimizer
    state, epoch and early-stopping state, written after every epoch (by the
    chief only under a multi-worker strategy); a fit that finds one continues
    after its epoch. Keras does not support it under a parameter-server
    strategy, where the coordinator re-schedules the work of failed workers
    instead.
    """
    from tfrec.distribute import is_parameter_server
    from tfrec.models.best_epoch import BestEpoch

    callbacks = []
    if monitor:
        callbacks.append(BestEpoch(monitor, mode, recommender.config.patience))
    if recommender.log_dir:
        callbacks.append(keras.callbacks.TensorBoard(str(recommender.log_dir)))
    parameter_server = recommender.strategy is not None and is_parameter_server(
        recommender.strategy
    )
    if recommender.checkpoint_dir and not parameter_server:
        callbacks.append(keras.callbacks.BackupAndRestore(str(recommender.checkpoint_dir)))
    if parameter_server and recommender.verbose:
        callbacks.append(_ShardReport())
    return callbacks


class _ShardReport(keras.callbacks.Callback):
    """Prints which variables are sharded across the parameter servers."""

    def on_train_begin(self, logs=None):
        from tfrec.distribute import sharded_variables

        for name, devices in sharded_variables(self.model).items():
            print(f"{name}: {len(devices)} shards on {', '.join(devices)}", file=sys.stderr)


def training_input(recommender, make_train, steps_per_epoch: int):
    """``model.fit``'s input: ``make_train()`` under the recommender's strategy.

    A fit resumed from a checkpoint skips the batches of the epochs already
    done, so each later epoch gets the same shuffled order as in an
    uninterrupted fit (the datasets shuffle epoch ``e`` with seed ``(seed, e)``).
    """
    done = completed_epochs(recommender.checkpoint_dir)
    if done:
        if recommender.verbose:
            print(f"resuming after epoch {done}", file=sys.stderr)
        return distribute_batches(
            lambda: make_train().skip(done * steps_per_epoch), recommender.strategy
        )
    return distribute_batches(make_train, recommender.strategy)


def completed_epochs(checkpoint_dir) -> int:
    """Epochs done by the ``BackupAndRestore`` checkpoint in ``checkpoint_dir`` (0: none).

    Reads tf_keras 2.21's layout: the chief's checkpoint in ``chief/``, the
    last finished epoch (0-based) in ``ckpt_saved_epoch``.
    """
    if not checkpoint_dir:
        return 0
    path = tf.train.latest_checkpoint(str(Path(checkpoint_dir) / "chief"))
    if path is None:
        return 0
    reader = tf.train.load_checkpoint(path)
    return int(reader.get_tensor("ckpt_saved_epoch/.ATTRIBUTES/VARIABLE_VALUE")) + 1


def record_history(recommender, history, model) -> None:
    """Sets ``history_`` (one dict per epoch run) and ``best_epoch_`` after ``model.fit``.

    ``best_epoch_`` is the epoch whose weights :class:`BestEpoch` kept, or the
    last epoch when nothing was monitored. After a resumed fit ``history_``
    holds the epochs run since the resume (TensorBoard's logs, kept with the
    checkpoints, hold them all).
    """
    logs = history.history
    recommender.history_ = [
        dict(zip(logs, values, strict=True)) for values in zip(*logs.values(), strict=True)
    ]
    ran = history.epoch[-1] + 1 if history.epoch else 0
    recommender.best_epoch_ = getattr(model, "best_epoch", 0) or ran
    if recommender.verbose:
        print(f"best epoch {recommender.best_epoch_} of {ran}", file=sys.stderr)


def _split_label(batch):
    label = batch.pop("rating")
    return batch, label


class KerasScorer(tf.Module):
    """Serves a Keras rating model: score = the model on every (user, item) pair."""

    def __init__(self, model, n_items, default_tables):
        super().__init__(name="keras_scorer")
        self.model = model
        self.n_items = n_items
        self.defaults = {k: tf.Variable(v, trainable=False) for k, v in default_tables.items()}

    def _inputs(self, users, items, extra):
        inputs = {"user": tf.cast(users, tf.int32), "item": tf.cast(items, tf.int32)}
        for name, table in self.defaults.items():
            inputs[name] = extra[name] if extra and name in extra else tf.gather(table, users)
        return inputs

    def score(self, users):
        n = tf.shape(users)[0]
        pair_users = tf.repeat(users, self.n_items)
        pair_items = tf.tile(tf.range(self.n_items, dtype=users.dtype), [n])
        out = self.model(self._inputs(pair_users, pair_items, None), training=False)
        return tf.reshape(out, [n, self.n_items])

    def predict(self, users, items, extra=None):
        return tf.reshape(self.model(self._inputs(users, items, extra), training=False), [-1])
