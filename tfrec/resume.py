"""The checkpoint directory of a run, ``<out>.checkpoints/``, and resuming it.

While ``tfrec train --out RUN_DIR`` fits a model that trains by epochs, the
fit checkpoints after every epoch into ``RUN_DIR.checkpoints/<stage>/``
(``train``, and ``refit`` under the refit protocol) and stages its
TensorBoard logs in ``RUN_DIR.checkpoints/logs/``. ``run.json`` says what
the checkpoints are of (model, config, dataset, split, sizes), and
``refit.json`` the settings chosen by a finished first stage. The directory
is removed when the run is written; after a crash ``--resume`` continues
from it, ``--overwrite`` discards it, and anything else is refused, so it is
never lost by accident.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

from tfrec.errors import ConfigError
from tfrec.io import write_json


def checkpoint_dir(run_dir) -> Path:
    """Where a run into ``run_dir`` keeps its checkpoints until it completes."""
    run_dir = Path(run_dir)
    return run_dir.with_name(run_dir.name + ".checkpoints")


def prepare(run_dir, identity: dict, resume: bool, overwrite: bool, writer: bool) -> Path:
    """The checkpoint directory of this run, checked against what it was for.

    Args:
        run_dir: The run's ``--out``.
        identity: What the checkpoints must be of (JSON-serialisable).
        resume: Continue the checkpoints there, if any.
        overwrite: Discard checkpoints there.
        writer: This process may write (False for multi-worker peers, which
            only check).

    Returns:
        The directory (``run.json`` written in it when ``writer``).
    """
    directory = checkpoint_dir(run_dir)
    identity = json.loads(json.dumps(identity))
    interrupted = directory.exists() and any(
        path.is_file() and path.name != "run.json" for path in directory.rglob("*")
    )
    if interrupted and not resume and not overwrite:
        raise ConfigError(
            f"{directory} holds the checkpoints of an interrupted run; pass resume=True "
            "(--resume) to continue it, or overwrite=True (--overwrite) to start again"
        )
    if interrupted and resume:
        saved = directory / "run.json"
        if not saved.exists() or json.loads(saved.read_text()) != identity:
            raise ConfigError(
                f"{directory} holds checkpoints of another run than {identity['model']} with "
                f"{identity['config']} on {identity['dataset']} (see its run.json); resume "
                "with the same model, options, dataset and split, or pass --overwrite"
            )
        if writer:
            print(f"resuming from {directory}", file=sys.stderr)
        return directory
    if writer:
        if resume:
            print(f"nothing to resume in {directory}; starting at epoch 1", file=sys.stderr)
        shutil.rmtree(directory, ignore_errors=True)
        write_json(directory / "run.json", identity)
    return directory


def saved_refit_options(directory: Path | None) -> dict | None:
    """The settings a finished first stage chose (refit protocol), or None."""
    path = directory / "refit.json" if directory else None
    return json.loads(path.read_text()) if path and path.exists() else None


def save_refit_options(directory: Path | None, options: dict) -> None:
    """Records the first stage's choice, so a resumed refit does not redo that stage."""
    if directory:
        write_json(directory / "refit.json", options)
