"""tf.distribute strategies for ``tfrec train --strategy``.

The cluster comes from ``TF_CONFIG``, as TensorFlow documents it::

    TF_CONFIG='{"cluster": {"worker": ["host1:12345", "host2:12345"]},
                "task": {"type": "worker", "index": 0}}'

* ``default``: no strategy (one process, TensorFlow's own threading).
* ``mirrored``: ``tf.distribute.MirroredStrategy`` over this machine's GPUs
  (or its CPU when there is none).
* ``multi-worker``: ``tf.distribute.MultiWorkerMirroredStrategy``; every
  worker runs the same command; the training batches are sharded across
  workers, gradients are all-reduced, and only the chief (worker 0, or the
  task of type ``chief``) writes the run directory and the checkpoints.
* ``parameter-server``: ``tf.distribute.ParameterServerStrategy``; the chief
  runs the command and coordinates; tasks of type ``worker`` and ``ps`` run
  the same command and become ``tf.distribute.Server``s that wait for work.
  Variables of 256 KiB or more (the embedding tables) are sharded across the
  parameter servers by ``MinSizePartitioner`` (TF2's ``fixed_size_partitioner``),
  for catalogues too large for one machine.

Each model class lists the strategies it trains under in ``strategies``
(``tfrec models`` shows them): the Keras-trained models take ``mirrored`` and
``multi-worker``; ``parameter-server`` is for ``mf``, ``two_tower`` and
``lstm_retrieval``, the models tested with sharded tables (the others read
their Keras weights whole, which a sharded table is not). The numpy/scipy
models train only with ``default``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys

from tfrec.errors import ConfigError, check_choice

STRATEGIES = ("default", "mirrored", "multi-worker", "parameter-server")
SHARD_MIN_BYTES = 256 << 10


@dataclasses.dataclass(frozen=True)
class ClusterTask:
    """This process's place in the ``TF_CONFIG`` cluster.

    Attributes:
        task_type: ``chief``, ``worker``, ``ps`` or ``evaluator``; None
            without ``TF_CONFIG``.
        task_id: The task's index within its type.
        cluster: Task type -> list of ``host:port``.
    """

    task_type: str | None = None
    task_id: int = 0
    cluster: dict = dataclasses.field(default_factory=dict)

    @property
    def is_chief(self) -> bool:
        """The task that writes outputs: ``chief``, or worker 0 when there is no chief."""
        if self.task_type in (None, "chief"):
            return True
        return self.task_type == "worker" and self.task_id == 0 and "chief" not in self.cluster


def cluster_task() -> ClusterTask:
    """Reads ``TF_CONFIG`` (a clear error when it is not valid JSON of the documented form)."""
    text = os.environ.get("TF_CONFIG", "").strip()
    if not text:
        return ClusterTask()
    try:
        config = json.loads(text)
        cluster = {kind: list(tasks) for kind, tasks in config.get("cluster", {}).items()}
        task = config.get("task", {})
        return ClusterTask(task.get("type"), int(task.get("index", 0)), cluster)
    except (ValueError, TypeError, AttributeError) as error:
        raise ConfigError(
            f"TF_CONFIG is not valid ({error}); expected JSON like "
            '{"cluster": {"worker": ["host:port", ...]}, "task": {"type": "worker", "index": 0}}'
        ) from None


def check_strategy(name: str, model_class) -> None:
    """Raises ConfigError unless ``model_class`` can train under strategy ``name``."""
    check_choice("strategy", name, STRATEGIES)
    if name == "default":
        return
    if name not in model_class.strategies:
        takes = ", ".join(model_class.strategies) or "none (it trains in one process)"
        raise ConfigError(
            f"{model_class.name} cannot train under strategy {name!r}; it takes: {takes} "
            "(`tfrec models` shows the strategies of every model)"
        )


def serve_if_server_task(name: str) -> None:
    """Under ``parameter-server``, a ``worker`` or ``ps`` task serves here until stopped."""
    task = cluster_task()
    if name == "parameter-server" and task.task_type in ("worker", "ps"):
        make_strategy(name)


def make_strategy(name: str):
    """The ``tf.distribute.Strategy`` for a ``--strategy`` name (None for ``default``).

    Create it before any other TensorFlow work in the process:
    ``MultiWorkerMirroredStrategy`` must configure the runtime first.
    """
    check_choice("strategy", name, STRATEGIES)
    if name == "default":
        return None
    import tensorflow as tf

    task = cluster_task()
    if name == "mirrored":
        return _announce(tf.distribute.MirroredStrategy(), name, task)
    if name == "multi-worker":
        if task.task_type is None:
            print("multi-worker: no TF_CONFIG, training as a cluster of one", file=sys.stderr)
        return _announce(tf.distribute.MultiWorkerMirroredStrategy(), name, task)
    n_ps = len(task.cluster.get("ps", []))
    if not n_ps or "chief" not in task.cluster or "worker" not in task.cluster:
        raise ConfigError(
            "strategy parameter-server needs TF_CONFIG with 'chief', 'worker' and 'ps' "
            f"tasks; got cluster {task.cluster} (see docs/scaling.md, 'Scaling out')"
        )
    if task.task_type not in ("chief", "worker", "ps"):
        raise ConfigError(
            f"strategy parameter-server runs chief, worker and ps tasks; got {task.task_type!r}"
        )
    resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
    if task.task_type in ("worker", "ps"):
        serve_forever(resolver)
    partitioner = tf.distribute.experimental.partitioners.MinSizePartitioner(
        min_shard_bytes=SHARD_MIN_BYTES, max_shards=n_ps
    )
    return _announce(
        tf.distribute.ParameterServerStrategy(resolver, variable_partitioner=partitioner),
        name,
        task,
    )


def _announce(strategy, name, task):
    where = f" ({task.task_type} {task.task_id})" if task.task_type else ""
    print(f"{name}{where}: {strategy.num_replicas_in_sync} replica(s) in sync", file=sys.stderr)
    return strategy


def serve_forever(resolver) -> None:
    """Runs this ``worker`` or ``ps`` task's server until the process is stopped."""
    import tensorflow as tf

    print(
        f"{resolver.task_type} {resolver.task_id}: serving the parameter-server cluster",
        file=sys.stderr,
    )
    server = tf.distribute.Server(
        resolver.cluster_spec(),
        job_name=resolver.task_type,
        task_index=resolver.task_id,
        protocol=resolver.rpc_layer or "grpc",
        start=True,
    )
    server.join()  # returns only when the process is stopped


def worker_index(strategy) -> tuple[int, int]:
    """This process's input pipeline and the number of pipelines under ``strategy``
    (the chief first, then the workers, as tf.distribute numbers them); (0, 1)
    in one process."""
    if strategy is None or getattr(strategy, "cluster_resolver", None) is None:
        return 0, 1
    task = cluster_task()
    chiefs = len(task.cluster.get("chief", []))
    workers = chiefs + len(task.cluster.get("worker", []))
    if workers <= 1:
        return 0, 1
    return task.task_id + (chiefs if task.task_type == "worker" else 0), workers


def is_parameter_server(strategy) -> bool:
    import tensorflow as tf

    return isinstance(strategy, tf.distribute.ParameterServerStrategy)


def print_shards(model: str, tables: dict) -> None:
    """Prints where each table's shards live: ``"mf/items: 2 shards on /job:ps/..."``.

    Args:
        model: The model's name.
        tables: Table name -> variable (a ``ShardedVariable`` under
            ``parameter-server`` when it is at least ``SHARD_MIN_BYTES``).
    """
    for name, table in tables.items():
        parts = getattr(table, "variables", None) or [table]
        devices = ", ".join(p.device for p in parts)
        print(f"{model}/{name}: {len(parts)} shards on {devices}", file=sys.stderr)


def distribute_batches(make_dataset, strategy):
    """The training input for ``model.fit`` under ``strategy``.

    Args:
        make_dataset: Zero-argument function returning a dataset of batches.
        strategy: The strategy, or None.

    Multi-worker: the batches are sharded across workers (``AutoShardPolicy.DATA``).
    """
    if strategy is None:
        return make_dataset()
    import tensorflow as tf

    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    return make_dataset().with_options(options)
