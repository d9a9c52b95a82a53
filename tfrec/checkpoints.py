"""Per-epoch checkpoints of a custom training loop (``tf.train.CheckpointManager``).

The Keras models checkpoint with ``keras.callbacks.BackupAndRestore``; a
model with its own loop (``mf``) saves its variables and a JSON progress
record (epoch, history, best epoch) with this after every epoch, and a fit
that finds a checkpoint continues after its epoch.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import tensorflow as tf


class LoopCheckpoint:
    """Saves and restores ``variables`` plus a progress dict in ``directory``.

    Args:
        directory: Where the checkpoint files go (created when first saved).
        **variables: The ``tf.Variable``s (or trackables) to save.
    """

    def __init__(self, directory, **variables):
        self.directory = Path(directory)
        self._progress = tf.Variable("", trainable=False)
        self._checkpoint = tf.train.Checkpoint(progress=self._progress, **variables)
        self._manager = tf.train.CheckpointManager(
            self._checkpoint, str(self.directory), max_to_keep=1
        )

    def restore(self) -> dict | None:
        """Loads the newest checkpoint into the variables; its progress, or None."""
        if self._manager.latest_checkpoint is None:
            return None
        self._checkpoint.restore(self._manager.latest_checkpoint).assert_consumed()
        return json.loads(self._progress.numpy().decode())

    def save(self, progress: dict) -> None:
        """Writes the variables and ``progress`` (the checkpoint index is replaced last)."""
        self._progress.assign(json.dumps(progress))
        self._manager.save()

    def remove(self) -> None:
        """Deletes the checkpoints (when the fit has completed)."""
        shutil.rmtree(self.directory, ignore_errors=True)
