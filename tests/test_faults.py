"""Nothing is lost when a process is killed: real subprocesses, real SIGKILL.

* ``tfrec train`` killed mid-training leaves no run directory, only its
  per-epoch checkpoints; ``--resume`` continues from them and ends with the
  metrics of an uninterrupted run.
* ``tfrec export`` killed mid-export leaves the earlier versions as they were
  and no partial version that a server would load.
"""

import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest
import tensorflow as tf

import tfrec
from tests.conftest import REPO
from tfrec.errors import ConfigError
from tfrec.resume import checkpoint_dir
from tfrec.serving.layout import model_versions

pytestmark = pytest.mark.slow


def _cli(*args):
    return [sys.executable, "-m", "tfrec.cli", *args]


def _env():
    return {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"}


def _kill_when(process, appeared, timeout=300):
    """SIGKILLs ``process`` as soon as ``appeared()`` is true; fails if it ended first."""
    deadline = time.monotonic() + timeout
    while not appeared():
        assert process.poll() is None, "the process ended before it could be killed"
        assert time.monotonic() < deadline, "timed out waiting to kill"
        time.sleep(0.02)
    assert process.poll() is None, "the process ended before it could be killed"
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL


# (model, dataset, options, metric, tolerance). mf's own loop resumes exactly;
# the Keras models restart their random streams (dropout, negatives) on resume.
CASES = [
    ("mf", "synthetic-1m", {"epochs": 4}, "rmse", 1e-4),
    ("dnn", "synthetic", {"epochs": 3}, "rmse", 0.01),
    ("two_tower", "synthetic", {"epochs": 2}, "ndcg@10", 0.01),
]


@pytest.mark.parametrize(("model", "dataset", "options", "metric", "tolerance"), CASES)
def test_resume_after_sigkill_matches_an_uninterrupted_run(
    tmp_path, model, dataset, options, metric, tolerance
):
    run_dir = tmp_path / "run"
    checkpoints = checkpoint_dir(run_dir)
    args = ["train", "--model", model, "--dataset", dataset, "--out", str(run_dir)]
    args += ["--no-export"]
    for key, value in options.items():
        args += ["--set", f"{key}={value}"]
    process = subprocess.Popen(_cli(*args), cwd=REPO, env=_env(), stderr=subprocess.DEVNULL)
    # The first epoch's checkpoint index (mf: CheckpointManager; Keras: BackupAndRestore).
    _kill_when(process, lambda: any(checkpoints.rglob("checkpoint")))
    assert not run_dir.exists(), "a killed run must not leave a run directory"

    refused = subprocess.run(_cli(*args), cwd=REPO, env=_env(), capture_output=True, text=True)
    assert refused.returncode != 0 and "--resume" in refused.stderr

    output = subprocess.run(
        _cli(*args, "--resume"), cwd=REPO, env=_env(), check=True, capture_output=True, text=True
    )
    assert re.search(r"resuming after epoch [1-9]", output.stderr), output.stderr[-2000:]
    resumed = json.loads((run_dir / "metrics.json").read_text())
    assert not checkpoints.exists(), "checkpoints are removed when the run completes"

    uninterrupted = tfrec.train(model, dataset, config=options).metrics
    assert abs(resumed[metric] - uninterrupted[metric]) <= tolerance, (resumed, uninterrupted)


def test_resume_refuses_checkpoints_of_another_config(tmp_path):
    run_dir = tmp_path / "run"
    checkpoints = checkpoint_dir(run_dir)
    (checkpoints / "train").mkdir(parents=True)
    (checkpoints / "train" / "checkpoint").write_text("stale")
    (checkpoints / "run.json").write_text(json.dumps({"model": "mf", "config": {"n_factors": 8}}))
    with pytest.raises(ConfigError, match="checkpoints of an interrupted run"):
        tfrec.train("mf", "synthetic-tiny", out=run_dir)
    with pytest.raises(ConfigError, match="checkpoints of another run"):
        tfrec.train("mf", "synthetic-tiny", out=run_dir, resume=True)
    assert (checkpoints / "train" / "checkpoint").exists(), "refusing must not delete them"
    tfrec.train("mf", "synthetic-tiny", out=run_dir, overwrite=True, config={"epochs": 2})
    assert (run_dir / "metrics.json").exists() and not checkpoints.exists()


def test_sigkill_during_export_leaves_earlier_versions_whole(tmp_path):
    run_dir, root = tmp_path / "run", tmp_path / "exports"
    tfrec.train("two_tower", "synthetic", out=run_dir, export_root=root, config={"epochs": 1})
    assert model_versions(root) == {"two_tower": [1]}
    before = sorted(p.relative_to(root) for p in (root / "two_tower" / "1").rglob("*"))

    export = _cli("export", "--model-dir", str(run_dir), "--export-root", str(root))
    process = subprocess.Popen(export, cwd=REPO, env=_env(), stderr=subprocess.DEVNULL)
    # Killed while the new version is being written under its staging name.
    _kill_when(process, lambda: any((root / "two_tower").glob(".tmp-*/model")))

    assert model_versions(root) == {"two_tower": [1]}, "no partial version may be visible"
    after = sorted(p.relative_to(root) for p in (root / "two_tower" / "1").rglob("*"))
    assert after == before
    loaded = tf.saved_model.load(str(root / "two_tower" / "1"))
    top = loaded.signatures["recommend"](
        user_id=tf.constant([1], tf.int64), k=tf.constant([3], tf.int32)
    )
    assert top["item_ids"].shape == (1, 3)

    # The next export completes and takes the next version number.
    subprocess.run(export, cwd=REPO, env=_env(), check=True, capture_output=True)
    assert model_versions(root) == {"two_tower": [1, 2]}
