"""Early stopping that keeps the best epoch's weights and survives a resume."""

from __future__ import annotations

import tensorflow as tf
import tf_keras as keras


class _BestState(tf.Module):
    """The best monitored value, its epoch (0: none yet) and a copy of the weights."""

    def __init__(self, weights):
        super().__init__(name="best_epoch_state")
        self.value = tf.Variable(0.0, trainable=False)
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False)
        self.weights = [tf.Variable(w, trainable=False) for w in weights]


class BestEpoch(keras.callbacks.Callback):
    """``EarlyStopping(restore_best_weights=True)`` whose state is checkpointed.

    The best value, its epoch and a copy of the weights live in variables
    attached to the model, so ``keras.callbacks.BackupAndRestore`` saves them
    with the model after every epoch; a fit resumed after a crash stops at the
    same epoch, and ends with the same weights, as the uninterrupted one.
    Place it before ``BackupAndRestore`` in the callback list. At the end the
    best weights are restored and ``model.best_epoch`` is set.

    Args:
        monitor: The epoch-log key, e.g. ``val_rmse``.
        mode: ``min`` or ``max``.
        patience: Epochs without improvement before stopping (0: never stop).
        min_delta: Smallest change that counts as an improvement.
    """

    def __init__(self, monitor: str, mode: str, patience: int, min_delta: float = 0.0):
        super().__init__()
        self.monitor, self.patience, self.min_delta = monitor, int(patience), min_delta
        self.sign = 1.0 if mode == "min" else -1.0

    def on_train_begin(self, logs=None):
        self.targets = list(self.model.weights)
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
            for saved, weight in zip(state.weights, self.targets, strict=True):
                saved.assign(weight)
        if self.patience and epoch + 1 - int(state.epoch.numpy()) >= self.patience:
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        """Restores the best weights and sets ``model.best_epoch`` (0: none monitored)."""
        state = self.model.best_epoch_state
        self.model.best_epoch = int(state.epoch.numpy())
        if self.model.best_epoch:
            for weight, saved in zip(self.targets, state.weights, strict=True):
                weight.assign(saved)
        del self.model.best_epoch_state  # not part of the model's saved weights
