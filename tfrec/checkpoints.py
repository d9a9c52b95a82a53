"""Per-epoch checkpoints of a custom training loop (``tf.train.CheckpointManager``).

The Keras models checkpoint with ``keras.callbacks.BackupAndRestore``; a
model with its own loop (``mf``) saves its variables as ``ckpt-<epoch>`` and
a JSON progress record (epoch, history, best epoch) as
``progress-<epoch>.json`` with this after every epoch, and a fit that finds a
checkpoint continues after its epoch. The progress is written before the
checkpoint index names the new checkpoint, so the two always match. Under a
multi-worker strategy every worker restores and only the chief writes.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import tensorflow as tf

from tfrec.distribute import cluster_task
from tfrec.io import write_json


class LoopCheckpoint:
    """Saves and restores ``variables`` plus a progress dict in ``directory``.

    Args:
        directory: Where the checkpoint files go (created when first saved).
        **variables: The ``tf.Variable``s (or trackables) to save.
    """

    def __init__(self, directory, **variables):
        self.directory = Path(directory)
        self._checkpoint = tf.train.Checkpoint(**variables)
        self._manager = tf.train.CheckpointManager(
            self._checkpoint, str(self.directory), max_to_keep=1
        )
        self._writer = cluster_task().is_chief
        # Created now on every worker: variables created on the chief alone (when it
        # first saves) would leave the workers' collective variable creation out of step.
        self._checkpoint.save_counter  # noqa: B018

    def restore(self) -> dict | None:
        """Loads the newest checkpoint into the variables; its progress, or None."""
        latest = self._manager.latest_checkpoint
        if latest is None:
            return None
        self._checkpoint.restore(latest).assert_consumed()
        return json.loads(self._progress_file(_number(latest)).read_text())

    def save(self, progress: dict) -> None:
        """Writes ``progress`` and the variables as the checkpoint of ``progress["epoch"]``."""
        if not self._writer:
            return
        number = int(progress["epoch"])
        self.directory.mkdir(parents=True, exist_ok=True)
        write_json(self._progress_file(number), progress)
        self._manager.save(checkpoint_number=number)
        for old in self.directory.glob("progress-*.json"):
            if old.name != self._progress_file(number).name:
                old.unlink()

    def remove(self) -> None:
        """Deletes the checkpoints (when the fit has completed)."""
        if self._writer:
            shutil.rmtree(self.directory, ignore_errors=True)

    def _progress_file(self, number: int) -> Path:
        return self.directory / f"progress-{number}.json"


def _number(checkpoint_path: str) -> int:
    return int(checkpoint_path.rsplit("-", 1)[1])
