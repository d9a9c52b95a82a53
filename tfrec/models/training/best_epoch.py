"""Early stopping that keeps the best epoch's weights and survives a resume."""

from __future__ import annotations

import tensorflow as tf
import tf_keras as keras


class _BestState(keras.layers.Layer):
    """The best monitored value, its epoch (0: none yet) and a copy of the weights.

    A Layer, not a plain ``tf.Module``, so that deleting it from the model
    after training also drops its variables from the model's.
    """

    def __init__(self, weights):
        super().__init__(name="best_epoch_state", trainable=False)
        self.value = tf.Variable(0.0, trainable=False)
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False)
        self.copies = [tf.Variable(w, trainable=False) for w in weights]


class BestEpoch(keras.callbacks.Callback):
    """``EarlyStopping(restore_best_weights=True)`` whose state is checkpointed.

    The best value, its epoch and a copy of the weights live in variables
    attached to the model, so ``keras.callbacks.BackupAndRestore`` saves them
    with the model after every epoch, and a fit resumed after a crash knows
    the best epoch before the crash (other state, such as
    ``ReduceLROnPlateau``'s counters, is not saved).
    Place it before ``BackupAndRestore`` in the callback list. At the end the
    best weights are restored and ``model.best_epoch`` is set.

    Args:
        monitor: The epoch-log key, e.g. ``val_rmse``.
        mode: ``min`` or ``max``.
        patience: Epochs without improvement before stopping (0: never stop;
            the best epoch's weights are still kept).
        min_delta: Smallest change that counts as an improvement.
    """

    def __init__(self, monitor: str, mode: str, patience: int, min_delta: float = 0.0):
        super().__init__()
        self.monitor, self.patience, self.min_delta = monitor, int(patience), min_delta
        self.sign = 1.0 if mode == "min" else -1.0

    def on_train_begin(self, logs=None):
        # Variables only: preprocessing layers' vocabularies are not weights to copy.
        self.targets = [w for w in self.model.weights if isinstance(w, tf.Variable)]
        self.model.best_epoch_state = _BestState(self.targets)

    def on_epoch_end(self, epoch, logs=None):
        value = (logs or {}).get(self.monitor)
        if value is None:
            return
        state = self.model.best_epoch_state
        best = float(state.value.numpy())
        if int(state.epoch.numpy()) == 0 or self.sign * (value - best) < -self.min_delta:
            state.value.assign(value)
            state.epoch.assign(epoch + 1)
            for saved, weight in zip(state.copies, self.targets, strict=True):
                saved.assign(weight)
        if self.patience and epoch + 1 - int(state.epoch.numpy()) >= self.patience:
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        """Restores the best weights and sets ``model.best_epoch`` (0: none monitored)."""
        state = self.model.best_epoch_state
        self.model.best_epoch = int(state.epoch.numpy())
        if self.model.best_epoch:
            for weight, saved in zip(self.targets, state.copies, strict=True):
                weight.assign(saved)
        del self.model.best_epoch_state  # not part of the model's saved weights
