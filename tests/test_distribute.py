"""tf.distribute on loopback: real worker and parameter-server processes.

Each test starts ``tfrec train --strategy ...`` processes with their own
``TF_CONFIG`` on free 127.0.0.1 ports and compares the chief's run with a
single-process run of the same model and seed.
"""

import json
import os
import re
import socket
import subprocess
import sys

import pytest
import tensorflow as tf

import tfrec
from tests.conftest import REPO
from tfrec.distribute import cluster_task
from tfrec.errors import ConfigError

pytestmark = pytest.mark.slow

# What differs between a distributed and a single-process fit: float summation
# order (multi-worker: mf trains the same steps with the same update rule), and
# asynchronous updates (parameter server).
MULTI_WORKER_RMSE_TOLERANCE = 0.003
RMSE_TOLERANCE = 0.02
NDCG_TOLERANCE = 0.01


def _free_ports(n):
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return [f"127.0.0.1:{port}" for port in ports]


def _start(cluster, task_type, index, args):
    env = {
        **os.environ,
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "TF_CONFIG": json.dumps({"cluster": cluster, "task": {"type": task_type, "index": index}}),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "tfrec.cli", "train", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _finish(process, timeout=600):
    output, _ = process.communicate(timeout=timeout)
    assert process.returncode == 0, output[-3000:]
    return output


def _metrics(run_dir):
    return json.loads((run_dir / "metrics.json").read_text())


@pytest.mark.parametrize(
    ("model", "options", "metric", "tolerance"),
    [
        ("mf", ["epochs=10"], "rmse", MULTI_WORKER_RMSE_TOLERANCE),
        ("two_tower", ["epochs=3"], "ndcg@10", NDCG_TOLERANCE),
    ],
)
def test_multi_worker_mirrored_matches_one_process(tmp_path, model, options, metric, tolerance):
    cluster = {"worker": _free_ports(2)}
    run_dir, exports = tmp_path / "run", tmp_path / "exports"
    args = ["--model", model, "--strategy", "multi-worker", "--out", str(run_dir)]
    args += ["--export-root", str(exports)]
    for option in options:
        args += ["--set", option]
    workers = [_start(cluster, "worker", i, args) for i in range(2)]
    outputs = [_finish(worker) for worker in workers]
    for output in outputs:
        assert "2 replica(s) in sync" in output
    assert not any(p.name.startswith("workertemp") for p in tmp_path.rglob("*"))
    distributed = _metrics(run_dir)
    config = {key: int(value) for key, value in (o.split("=") for o in options)}
    single = tfrec.train(model, "synthetic", config=config).metrics
    assert abs(distributed[metric] - single[metric]) <= tolerance, (distributed, single)

    # The chief's export loads and answers.
    loaded = tf.saved_model.load(distributed["export_path"])
    top = loaded.signatures["recommend"](
        user_id=tf.constant([1], tf.int64), k=tf.constant([5], tf.int32)
    )
    assert top["item_ids"].shape == (1, 5)


@pytest.mark.parametrize(
    ("model", "epochs", "table", "metric", "tolerance"),
    [
        # 2,000 items x (64 factors + 4) x 4 bytes = 544 kB, split across both servers.
        ("mf", 8, "items", "rmse", RMSE_TOLERANCE),
        # Keras' fit under the coordinator; 2,000 items x 128 x 4 bytes = 1 MB.
        ("two_tower", 3, "items", "ndcg@10", NDCG_TOLERANCE),
    ],
)
def test_parameter_server_shards_embedding_tables(
    tmp_path, model, epochs, table, metric, tolerance
):
    ports = _free_ports(4)
    cluster = {"chief": ports[:1], "worker": ports[1:2], "ps": ports[2:]}
    run_dir = tmp_path / "run"
    args = ["--model", model, "--strategy", "parameter-server", "--out", str(run_dir)]
    args += ["--no-export", "--set", f"epochs={epochs}"]
    servers = [_start(cluster, "ps", i, args) for i in range(2)]
    servers.append(_start(cluster, "worker", 0, args))
    try:
        output = _finish(_start(cluster, "chief", 0, args))
    finally:
        for server in servers:
            server.kill()
            server.communicate()
    shards = re.search(rf"^{model}/{table}: 2 shards on (.*)$", output, re.MULTILINE)
    assert shards, output[-3000:]
    assert sorted(shards.group(1).split(", ")) == [
        f"/job:ps/replica:0/task:{i}/device:CPU:0" for i in range(2)
    ]
    assert "Could not get Model metric results" not in output
    distributed = _metrics(run_dir)[metric]
    single = tfrec.train(model, "synthetic", config={"epochs": epochs}).metrics[metric]
    assert abs(distributed - single) <= tolerance, (distributed, single)


@pytest.mark.parametrize(
    ("model", "metric", "tolerance", "options"),
    [
        ("mf", "rmse", RMSE_TOLERANCE, {}),
        ("dnn", "rmse", RMSE_TOLERANCE, {}),
        ("gmf", "ndcg@10", 0.02, {}),
        ("dcn", "rmse", RMSE_TOLERANCE, {}),  # with its history positions, computed
        ("two_tower", "ndcg@10", 0.02, {}),  # the windows of its shards' users
        ("lstm", "ndcg@10", 0.02, {"embedding_dim": 16}),
    ],
)
def test_multi_worker_streams_each_workers_own_shards(tmp_path, model, metric, tolerance, options):
    """mf through its own loop, dnn, gmf, dcn, two_tower and lstm through Keras: each
    worker reads its own shards, and the fit matches one process's within the
    tolerance."""
    from tfrec.data.prepare import PrepareOptions, prepare
    from tfrec.data.synthetic_log import write_service_log

    write_service_log(tmp_path / "log", 30_000, 600, 300, rows_per_part=10_000)
    prepared = tmp_path / "prepared"
    prepare(tmp_path / "log", prepared, PrepareOptions(split="random", shards=4), verbose=False)
    cluster = {"worker": _free_ports(2)}
    run_dir = tmp_path / "run"
    args = ["--model", model, "--dataset", str(prepared), "--strategy", "multi-worker"]
    args += ["--out", str(run_dir), "--no-export", "--set", "epochs=6", "--set", "seed=0"]
    for key, value in options.items():
        args += ["--set", f"{key}={value}"]
    workers = [_start(cluster, "worker", i, args) for i in range(2)]
    outputs = [_finish(worker) for worker in workers]
    assert f"{model}: worker 0 of 2 streams train shards [0, 2]" in outputs[0]
    assert f"{model}: worker 1 of 2 streams train shards [1, 3]" in outputs[1]
    distributed = _metrics(run_dir)[metric]
    config = {"epochs": 6, "seed": 0, **options}
    single = tfrec.train(model, prepared, config=config).metrics[metric]
    assert abs(distributed - single) <= tolerance, (distributed, single)


def test_cluster_task_reads_tf_config(monkeypatch):
    monkeypatch.setenv(
        "TF_CONFIG",
        json.dumps({"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker", "index": 1}}),
    )
    task = cluster_task()
    assert (task.task_type, task.task_id, task.is_chief) == ("worker", 1, False)
    monkeypatch.setenv("TF_CONFIG", '{"cluster": {"worker": ["a:1"]}, "task": {"type": "worker"}}')
    assert cluster_task().is_chief
    monkeypatch.setenv("TF_CONFIG", "{not json")
    with pytest.raises(ConfigError, match="TF_CONFIG is not valid"):
        cluster_task()


def test_strategies_are_checked_before_anything_runs(monkeypatch):
    with pytest.raises(
        ConfigError, match="svd cannot train under strategy 'mirrored'; it takes: none"
    ):
        tfrec.train("svd", "synthetic-tiny", strategy="mirrored")
    with pytest.raises(ConfigError, match="strategy must be one of"):
        tfrec.train("mf", "synthetic-tiny", strategy="horovod")
    takes = "gmf cannot train under strategy 'parameter-server'; it takes: mirrored, multi-worker"
    with pytest.raises(ConfigError, match=takes):
        tfrec.train("gmf", "synthetic-tiny", strategy="parameter-server")
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"worker": ["a:1"], "ps": ["b:2"]}}))
    with pytest.raises(ConfigError, match="needs TF_CONFIG with 'chief'"):
        tfrec.train("mf", "synthetic-tiny", strategy="parameter-server")
