"""The base of the Keras rating models (``dnn``, ``hybrid``): fit, predict, save, serve.

A subclass builds a functional model whose inputs are the internal ``user``
and ``item`` indices plus any per-example ``extra_inputs`` (e.g. the rating
timestamp); item content lives inside the model as constant tables. This base
trains it on tf.data batches with early stopping and learning-rate decay on
validation RMSE, predicts in batches, saves weights (HDF5; a TensorFlow
checkpoint when the model reads features, whose preprocessing layers HDF5
cannot hold), and serves it.
"""

from __future__ import annotations

import abc

import numpy as np
import tensorflow as tf
import tf_keras as keras

from tfrec.models.base import Recommender
from tfrec.models.training.keras_fit import (
    Throughput,
    keras_verbosity,
    record_history,
    training_callbacks,
    training_input,
)
from tfrec.pipelines import steps_per_epoch, training_dataset
from tfrec.tf_logging import FIT_WARNINGS, without_warnings

_PREDICT_BATCH = 65_536
_CHECKPOINT = "weights"  # a TensorFlow checkpoint's prefix: the weights of a model with features


class KerasRatingModel(Recommender, abc.ABC):
    """A Recommender around a Keras functional model predicting ratings."""

    trains_by_epochs = True
    strategies = ("mirrored", "multi-worker")
    # Extra inputs that are a training row's own column, as a prepared
    # directory's shards hold it: with only these, epochs stream from the shards.
    row_columns: tuple[str, ...] = ()

    @abc.abstractmethod
    def _build(self) -> keras.Model:
        """The functional model (inputs ``user``, ``item`` and ``extra_inputs``)."""

    def _prepare(self, data, split) -> None:
        """Fits feature tables on training data (before ``_build``)."""

    def _extra_columns(self, frame_or_data) -> dict[str, np.ndarray]:
        """Per-example extra inputs for a ratings frame (or the training data)."""
        return {}

    # ---- training --------------------------------------------------------------------------

    def _fit(self, data, split, options) -> None:
        c = self.config
        keras.utils.set_random_seed(c.seed)
        self._prepare(data, split)
        self.model_ = self._build()
        self.model_.compile(
            optimizer=keras.optimizers.Adam(c.learning_rate),
            loss="mse",
            metrics=[keras.metrics.RootMeanSquaredError(name="rmse")],
        )
        make_train, steps, per_worker = self._training_batches(data, split, options)
        train = training_input(
            options, lambda: make_train().map(_split_label), steps, per_worker=per_worker
        )
        validation = self._validation_arrays(split.validation)
        callbacks = [Throughput(len(data.users), steps)]
        if validation is not None and c.patience:
            callbacks.append(
                keras.callbacks.ReduceLROnPlateau(
                    "val_rmse", factor=0.5, patience=max(1, c.patience // 2)
                )
            )
        monitor = "val_rmse" if validation is not None else None
        callbacks += training_callbacks(options, c.patience, monitor)
        with without_warnings(*FIT_WARNINGS):
            history = self.model_.fit(
                train,
                epochs=c.epochs,
                steps_per_epoch=steps,
                validation_data=validation,
                validation_batch_size=_PREDICT_BATCH,
                callbacks=callbacks,
                verbose=keras_verbosity(options),
            )
        record_history(self, history, self.model_, options.verbose)

    def _training_batches(self, data, split, options):
        """``(make_dataset, steps_per_epoch, per_worker)``: the epochs' batches
        streamed from a prepared directory's train shards when the model reads
        only their columns (under multi-worker, each worker its own shards:
        ``per_worker``), else from in-memory columns."""
        from tfrec.data.prepare.stream import streamed

        c = self.config
        extra = self._extra_columns(data)
        stream = (
            streamed(self.name, split, data, options)
            if set(extra) <= set(self.row_columns)
            else None
        )
        if stream is not None:
            names = ["user", "item", *extra, "rating"]
            return (
                lambda: stream.batches(names, c.batch_size, c.seed, c.epochs),
                stream.steps(stream.batch_size(c.batch_size)),
                stream.per_worker,
            )
        columns = {
            "user": data.users.astype(np.int32),
            "item": data.items.astype(np.int32),
            **extra,
            "rating": data.ratings,
        }
        return (
            lambda: training_dataset(columns, c.batch_size, c.seed, c.epochs),
            steps_per_epoch(len(data.users), c.batch_size),
            False,
        )

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

    def _run(self, inputs: dict, model: keras.Model | None = None) -> np.ndarray:
        model = self.model_ if model is None else model
        inputs = {**inputs, "user": inputs["user"].astype(np.int32)}
        inputs["item"] = inputs["item"].astype(np.int32)  # the model's index inputs
        n = len(inputs["user"])
        out = np.empty(n, np.float32)
        for start in range(0, n, _PREDICT_BATCH):
            batch = {k: tf.constant(v[start : start + _PREDICT_BATCH]) for k, v in inputs.items()}
            out[start : start + _PREDICT_BATCH] = model(batch, training=False).numpy().ravel()
        return out

    def _predict(self, users, items):
        return self._run(
            {
                "user": users,
                "item": items,
                **self._serving_defaults(users),
            }
        )

    def _score(self, users, per_user: dict | None = None):
        """Every item's prediction for each user row; ``per_user`` extra inputs
        (one value per row, e.g. its request's context) replace the defaults."""
        n_items = len(self.item_ids_)
        pair_users = np.repeat(users, n_items)
        inputs = {
            "user": pair_users,
            "item": np.tile(np.arange(n_items), len(users)),
            **self._serving_defaults(pair_users),
            **{key: np.repeat(value, n_items) for key, value in (per_user or {}).items()},
        }
        return self._run(inputs).reshape(len(users), n_items)

    def _serving_defaults(self, users) -> dict[str, np.ndarray]:
        """Extra inputs for prediction when the caller gives none (per user row)."""
        return {}

    def _serving_constants(self) -> dict[str, np.ndarray]:
        """Extra inputs whose default is one value for every request (1-row arrays)."""
        return {}

    # ---- persistence and serving -----------------------------------------------------------

    def _save_extra(self, directory):
        if self.feature_schema_:  # preprocessing layers (vocabularies, TF-IDF): no HDF5
            self.model_.save_weights(str(directory / _CHECKPOINT), save_format="tf")
        else:
            self.model_.save_weights(str(directory / "weights.h5"))

    def _load_extra(self, directory):
        self.model_ = self._build()
        if (directory / "weights.h5").exists():
            self.model_.load_weights(str(directory / "weights.h5"))
        else:
            status = self.model_.load_weights(str(directory / _CHECKPOINT))
            # Every weight of the model is restored; the early-stopping copies the
            # checkpoint may also hold (best_epoch_state) are not the model's.
            status.assert_existing_objects_matched().expect_partial()

    def serving_scorer(self, seen):
        return KerasScorer(
            self.model_,
            len(self.item_ids_),
            self._serving_default_tables(),
            self._serving_constants(),
            self._context_specs(),
        )

    def _context_specs(self) -> dict:
        """The request-context inputs of the export's ``*_context`` signatures (none)."""
        return {}

    def _serving_default_tables(self) -> dict[str, np.ndarray]:
        """Per-user-row defaults of the extra inputs, for the ``recommend`` signature."""
        return {}


def _split_label(batch):
    label = batch.pop("rating")
    return batch, label


class KerasScorer(tf.Module):
    """Serves a Keras rating model: score = the model on every (user, item) pair.

    Args:
        model: The functional model.
        n_items: The catalogue's size.
        default_tables: Per-user-row defaults of extra inputs (``position``).
        constants: One default value (a 1-row array) of other extra inputs
            (a request without context).
        context_specs: The raw context inputs a request may bring instead
            (``score(users, context)``), or none.
    """

    def __init__(self, model, n_items, default_tables, constants=None, context_specs=None):
        super().__init__(name="keras_scorer")
        self.model = model
        self.n_items = n_items
        self.defaults = {k: tf.Variable(v, trainable=False) for k, v in default_tables.items()}
        self.constants = {k: tf.constant(_tensor(v)) for k, v in (constants or {}).items()}
        self.context_specs = dict(context_specs or {})

    def _inputs(self, users, items, extra):
        inputs = {"user": tf.cast(users, tf.int32), "item": tf.cast(items, tf.int32)}
        for name, table in self.defaults.items():
            inputs[name] = extra[name] if extra and name in extra else tf.gather(table, users)
        for name, value in self.constants.items():
            default = tf.repeat(value, tf.shape(users)[0])
            inputs[name] = extra[name] if extra and name in extra else default
        return inputs

    def score(self, users, context=None):
        """[batch, n_items]; ``context``: one raw value per user row of each input."""
        n = tf.shape(users)[0]
        pair_users = tf.repeat(users, self.n_items)
        pair_items = tf.tile(tf.range(self.n_items, dtype=users.dtype), [n])
        extra = {k: tf.repeat(v, self.n_items) for k, v in (context or {}).items()}
        out = self.model(self._inputs(pair_users, pair_items, extra), training=False)
        return tf.reshape(out, [n, self.n_items])

    def predict(self, users, items, extra=None):
        return tf.reshape(self.model(self._inputs(users, items, extra), training=False), [-1])


def _tensor(values: np.ndarray) -> np.ndarray:
    """Strings as a numpy unicode array (TensorFlow's), numbers as they are."""
    values = np.asarray(values)
    return values.astype(str) if values.dtype == object else values
