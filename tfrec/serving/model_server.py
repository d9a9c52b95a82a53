"""Launching ``tensorflow_model_server`` on an export root (``tfrec serve --engine tfserving``)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from tfrec.errors import ServingError
from tfrec.serving.config import Batching, write_configs

BINARY = "tensorflow_model_server"
INSTALL_HINT = (
    f"{BINARY} is not on PATH; install it (https://www.tensorflow.org/tfx/serving/setup, "
    "apt package tensorflow-model-server), run the tensorflow/serving docker image "
    "(docs/serving.md), or use --engine local"
)


def model_server_command(
    binary: str,
    config_file,
    batching_file=None,
    *,
    port: int = 8500,
    rest_port: int = 8501,
) -> list[str]:
    """The ``tensorflow_model_server`` command line for a model config.

    Args:
        binary: Path of ``tensorflow_model_server``.
        config_file: The ``models.config`` to serve.
        batching_file: A batching parameters file; None serves without batching.
        port: gRPC port.
        rest_port: REST port.
    """
    argv = [
        binary,
        f"--port={port}",
        f"--rest_api_port={rest_port}",
        f"--model_config_file={config_file}",
    ]
    if batching_file is not None:
        argv += ["--enable_batching", f"--batching_parameters_file={batching_file}"]
    return argv


def exec_model_server(
    export_root,
    *,
    port: int = 8500,
    rest_port: int = 8501,
    versions: str = "latest",
    batching: Batching | None = None,
) -> None:
    """Replaces this process with ``tensorflow_model_server`` serving an export root.

    The model config (and batching file, when ``batching`` is given) is
    written to a fresh temporary directory, with base paths as seen here.

    Raises:
        ServingError: if ``tensorflow_model_server`` is not on PATH.
    """
    binary = shutil.which(BINARY)
    if binary is None:
        raise ServingError(INSTALL_HINT)
    directory = Path(tempfile.mkdtemp(prefix="tfrec-serving-"))
    config_file, batching_file = write_configs(
        export_root,
        directory / "models.config",
        directory / "batching.config",
        versions=versions,
        batching=batching,
    )
    argv = model_server_command(
        binary,
        config_file,
        batching_file if batching is not None else None,
        port=port,
        rest_port=rest_port,
    )
    print(" ".join(argv), flush=True)
    os.execv(binary, argv)
