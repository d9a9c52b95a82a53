"""What every Keras ``model.fit`` in tfrec shares: callbacks, input under a strategy, history.

Keras is ``tf_keras`` (Keras 2), which tensorflow-recommenders needs;
``tfrec/__init__.py`` sets ``TF_USE_LEGACY_KERAS=1`` before TensorFlow is imported.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import tensorflow as tf
import tf_keras as keras

from tfrec.distribute import distribute_batches, is_parameter_server


def training_callbacks(
    options, patience: int, monitor: str | None = None, mode: str = "min"
) -> list:
    """Early stopping, TensorBoard logs and per-epoch checkpoints, as the fit asks.

    Args:
        options: The fit's :class:`~tfrec.models.options.TrainingOptions`.
        patience: Epochs without improvement before stopping (0: never stop).
        monitor: The epoch-log key to keep the best epoch of, and stop on
            after ``patience`` epochs without improvement (None: keep the
            last epoch); put the callback that adds it first.
        mode: ``min`` or ``max``.

    Checkpoints are ``keras.callbacks.BackupAndRestore``: weights, optimizer
    state, epoch and early-stopping state, written after every epoch (by the
    chief only under a multi-worker strategy); a fit that finds one continues
    after its epoch.
    """
    from tfrec.models.training.best_epoch import BestEpoch

    callbacks = []
    if monitor:
        callbacks.append(BestEpoch(monitor, mode, patience))
    if options.log_dir:
        callbacks.append(_TensorBoard(str(options.log_dir)))
    if options.checkpoint_dir:
        callbacks.append(keras.callbacks.BackupAndRestore(str(options.checkpoint_dir)))
    return callbacks


class _TensorBoard(keras.callbacks.TensorBoard):
    """Keras' TensorBoard logs, without its warning for a model whose layers
    hold arrays and so have no JSON config (dcn's history): Keras then skips
    the model's summary, and says so in a long warning."""

    def set_model(self, model):
        from tfrec.tf_logging import without_warnings

        with without_warnings("Model failed to serialize as JSON"):
            super().set_model(model)


class Throughput(keras.callbacks.Callback):
    """Training examples per second, on the progress bar and in each epoch's logs.

    Each batch's logs get ``examples_per_s`` so far this epoch (Keras'
    progress bar, after this callback, shows it beside its ETA); each
    epoch's logs (and so ``history_``) get ``seconds`` of training (up to
    the last batch, validation excluded) and ``examples_per_s``. Put it first.

    Under ``parameter-server`` Keras refuses batch hooks, so there only the
    epoch's figures are given, from its wall time.

    Args:
        examples_per_epoch: Training examples (positives, ratings) per epoch.
        steps_per_epoch: Steps per epoch.
    """

    def __init__(self, examples_per_epoch: int, steps_per_epoch: int):
        super().__init__()
        self.steps_per_epoch = steps_per_epoch
        self.per_step = examples_per_epoch / max(steps_per_epoch, 1)

    def _implements_train_batch_hooks(self):
        return not tf.distribute.get_strategy()._should_use_with_coordinator

    def on_train_begin(self, logs=None):
        self.counted = self._implements_train_batch_hooks()

    def on_epoch_begin(self, epoch, logs=None):
        self.start = self.last = time.perf_counter()
        self.steps = 0

    def on_train_batch_end(self, batch, logs=None):
        self.steps += 1
        self.last = time.perf_counter()
        if logs is not None:
            logs["examples_per_s"] = self._rate()

    def on_epoch_end(self, epoch, logs=None):
        if not self.counted:  # no batch hooks: the epoch's wall time
            self.steps, self.last = self.steps_per_epoch, time.perf_counter()
        if logs is not None:
            logs["seconds"] = self.last - self.start
            logs["examples_per_s"] = self._rate()

    def _rate(self) -> float:
        return self.steps * self.per_step / max(self.last - self.start, 1e-9)


def keras_verbosity(options) -> int:
    """``model.fit``'s ``verbose``: Keras' progress bar on a terminal, a line per
    epoch in a log file or under ``parameter-server`` (which has no progress
    bar), nothing unless ``options.verbose``."""
    if not options.verbose:
        return 0
    return 1 if sys.stdout.isatty() and not is_parameter_server(options.strategy) else 2


def training_input(options, make_train, steps_per_epoch: int, per_worker: bool = False):
    """``model.fit``'s input: ``make_train()`` under the fit's strategy (``options``).

    With ``per_worker`` (multi-worker, each worker streaming its own shards:
    :class:`~tfrec.data.prepare.stream.ShardStream`), each worker's
    ``make_train()`` is its part of every global batch, handed to the
    strategy as it is (``distribute_datasets_from_function``); under
    ``parameter-server`` each worker takes every n-th batch of its own
    ``make_train()`` (a ``DatasetCreator``); otherwise the batches are sharded
    across workers (:func:`~tfrec.distribute.distribute_batches`).

    A fit resumed from a checkpoint skips the batches of the epochs already
    done, so each later epoch gets the same shuffled order as in an
    uninterrupted fit (the datasets shuffle epoch ``e`` with seed ``(seed, e)``).
    """
    done = completed_epochs(options.checkpoint_dir)
    make = make_train
    if done:
        if options.verbose:
            print(f"resuming after epoch {done}", file=sys.stderr)

        def make():
            return make_train().skip(done * steps_per_epoch)

    if is_parameter_server(options.strategy):
        # Each worker builds the batches and takes every n-th (repeated: the
        # coordinator may draw unevenly from the workers), as mf's epochs do.
        def per_worker_batches(context):
            return make().shard(context.num_input_pipelines, context.input_pipeline_id).repeat()

        return keras.utils.experimental.DatasetCreator(per_worker_batches)
    if per_worker and options.strategy is not None:
        return options.strategy.distribute_datasets_from_function(lambda context: make())
    return distribute_batches(make, options.strategy)


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


def record_history(recommender, history, model, verbose: bool) -> None:
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
    if verbose:
        print(f"best epoch {recommender.best_epoch_} of {ran}", file=sys.stderr)
