"""TF Serving configuration files for an export root.

``models.config`` is a text-format ``ModelServerConfig`` with one entry per
exported model (``--model_config_file``); ``batching.config`` holds the
batching parameters (``--enable_batching --batching_parameters_file``).

    tfrec serving config --export-root saved_models --base-path-root /models
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from tfrec.errors import ConfigError, check_positive_int
from tfrec.io import write_text
from tfrec.serving.layout import model_versions, parse_policy


@dataclass(frozen=True)
class Batching:
    """TF Serving's batching parameters, with CPU defaults from its batching guide.

    Attributes:
        max_batch_size: Most rows in one batch (also ``tfrec serve``'s ``--max-batch``).
        batch_timeout_micros: Longest wait for a batch to fill; the guide's
            CPU starting point is 0 (batch only what queues up while the
            threads are busy), then try 1000-10000.
        num_batch_threads: Batches run in parallel; the guide's choice is the
            number of CPU cores of the serving machine (0: this machine's).
        max_enqueued_batches: Queue bound before requests are turned away;
            the guide suggests ``num_batch_threads`` for online serving (0: that).
    """

    max_batch_size: int = 1024
    batch_timeout_micros: int = 0
    num_batch_threads: int = 0
    max_enqueued_batches: int = 0

    def __post_init__(self):
        check_positive_int("max_batch_size", self.max_batch_size)
        for name in ("batch_timeout_micros", "num_batch_threads", "max_enqueued_batches"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ConfigError(f"{name} must be an integer >= 0; got {value!r}")

    def text(self) -> str:
        """The ``--batching_parameters_file`` contents (text-format BatchingParameters)."""
        threads = self.num_batch_threads or os.cpu_count() or 1
        values = {
            "max_batch_size": self.max_batch_size,
            "batch_timeout_micros": self.batch_timeout_micros,
            "num_batch_threads": threads,
            "max_enqueued_batches": self.max_enqueued_batches or threads,
        }
        return "".join(f"{name} {{ value: {value} }}\n" for name, value in values.items())


def model_config(export_root, versions: str = "latest", base_path_root=None):
    """A ``ModelServerConfig`` proto serving every model under an export root.

    Args:
        export_root: Directory holding ``<name>/<version>/saved_model.pb``.
        versions: Version policy: ``"latest"`` (TF Serving's default: the
            newest version), ``"all"``, or comma-separated versions (``"1,3"``).
        base_path_root: Where the export root is seen by the server, e.g.
            ``/models`` when it is mounted there in a container; defaults to
            its absolute path here.

    Returns:
        A ``tensorflow_serving.config.model_server_config_pb2.ModelServerConfig``.
    """
    from tensorflow_serving.config import model_server_config_pb2

    models = model_versions(export_root)
    if not models:
        raise ConfigError(
            f"no exported models under {export_root}: expected "
            "<name>/<version>/saved_model.pb; export one with tfrec export or tfrec train"
        )
    policy = parse_policy(versions)
    root = Path(base_path_root) if base_path_root else Path(export_root).resolve()
    config = model_server_config_pb2.ModelServerConfig()
    for name in models:
        entry = config.model_config_list.config.add()
        entry.name = name
        entry.base_path = str(root / name)
        entry.model_platform = "tensorflow"
        if policy == "latest":
            entry.model_version_policy.latest.num_versions = 1
        elif policy == "all":
            entry.model_version_policy.all.SetInParent()
        else:
            entry.model_version_policy.specific.versions.extend(policy)
    return config


def write_configs(
    export_root,
    out=None,
    batching_out=None,
    *,
    versions: str = "latest",
    base_path_root=None,
    batching: Batching | None = None,
) -> tuple[Path, Path]:
    """Writes ``models.config`` and ``batching.config`` for an export root.

    Args:
        export_root: Directory holding ``<name>/<version>/saved_model.pb``.
        out: Model config path; defaults to ``<export_root>/models.config``.
        batching_out: Batching parameters path; defaults to
            ``<export_root>/batching.config``.
        versions: Version policy, as in :func:`model_config`.
        base_path_root: Base path root seen by the server, as in :func:`model_config`.
        batching: Batching parameters; defaults to :class:`Batching`'s.

    Returns:
        The two paths written.
    """
    from google.protobuf import text_format

    config = model_config(export_root, versions, base_path_root)
    out = Path(out) if out else Path(export_root) / "models.config"
    batching_out = Path(batching_out) if batching_out else Path(export_root) / "batching.config"
    write_text(out, text_format.MessageToString(config))
    write_text(batching_out, (batching or Batching()).text())
    return out, batching_out
