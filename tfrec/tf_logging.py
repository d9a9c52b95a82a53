"""TensorFlow's start-up lines (oneDNN, CUDA-not-found, cuInit, XLA), hidden unless asked for.

TensorFlow's C++ code logs through absl, which honours ``TF_CPP_MIN_LOG_LEVEL``
(3 shows only fatal errors), except for the first lines written while its
shared libraries load, before absl reads that variable ("Could not find cuda
drivers on your machine"). :func:`import_tensorflow` imports TensorFlow with
file descriptor 2 pointed at ``/dev/null`` to hide those too. The CLI calls
:func:`hide_startup_lines`, or :func:`show_startup_lines` under ``--verbose``;
a ``TF_CPP_MIN_LOG_LEVEL`` the user set is kept either way.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys

LEVEL_VARIABLE = "TF_CPP_MIN_LOG_LEVEL"
HIDING = "TFREC_HIDE_TF_STARTUP"  # set by hide_startup_lines, inherited by child processes

# One C++ log line in absl's format, or the lines TensorFlow writes beside them.
STARTUP_LINE = re.compile(
    r"^(WARNING: All log messages before absl|[IWEF]\d{4} [\d:.]+ +\d+ [\w.]+:\d+\] |"
    r"To enable the following instructions)"
)


def hide_startup_lines() -> None:
    """Hides TensorFlow's C++ log lines in this process and its children.

    Does nothing when the user set ``TF_CPP_MIN_LOG_LEVEL``: their level wins.
    """
    if LEVEL_VARIABLE in os.environ and HIDING not in os.environ:
        return
    os.environ[LEVEL_VARIABLE] = "3"
    os.environ[HIDING] = "1"


def show_startup_lines() -> None:
    """Shows TensorFlow's C++ log lines (``--verbose``): the user's level, else all."""
    if os.environ.pop(HIDING, None):  # the level is ours, from an earlier hide
        os.environ.pop(LEVEL_VARIABLE, None)
    os.environ.setdefault(LEVEL_VARIABLE, "0")


def hidden() -> bool:
    """Whether :func:`hide_startup_lines` is in effect (here or in a parent process)."""
    return HIDING in os.environ


def shown() -> bool:
    """Whether the user asked for the lines: their own level, or ``--verbose``."""
    return LEVEL_VARIABLE in os.environ and not hidden()


def import_tensorflow() -> None:
    """Imports TensorFlow now, without its start-up lines when they are hidden."""
    if "tensorflow" in sys.modules:
        return
    if not hidden():
        import tensorflow  # noqa: F401

        return
    with _stderr_to_devnull():
        import tensorflow  # noqa: F401


@contextlib.contextmanager
def _stderr_to_devnull():
    """Points file descriptor 2 (C and C++ code's stderr) at /dev/null for the block."""
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


# tf_keras' warnings that tell a tfrec user nothing to act on:
# * a SavedModel keeps a Keras layer's variables and traced functions, which is
#   all tfrec's signatures call;
# * saving variables sharded over parameter servers retraces one save
#   function per device;
# * under parameter-server, a TFRS model's step logs its own losses, not
#   ``Model.metrics``, so Keras keeps the last step's logs, as in one process;
# * Keras times the callbacks of a fit's first batches, which trace and wait
#   on a busy host, and calls them slow beside their batch.
SERIALIZATION_WARNINGS = (
    "Skipping full serialization of TF-Keras layer",
    "MultiDeviceSaver.save.<locals>.tf_function_save at",
)
PARAMETER_SERVER_METRICS_WARNING = "Could not get Model metric results"
SLOW_CALLBACK_WARNING = "is slow compared to the batch time"
FIT_WARNINGS = (PARAMETER_SERVER_METRICS_WARNING, SLOW_CALLBACK_WARNING)


class _DropWarnings(logging.Filter):
    """Drops the log records whose message holds one of ``texts``."""

    def __init__(self, texts: tuple[str, ...]):
        super().__init__()
        self.texts = texts

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(text in message for text in self.texts)


@contextlib.contextmanager
def without_warnings(*texts: str):
    """The block without TensorFlow's Python log records holding one of ``texts``."""
    logger = logging.getLogger("tensorflow")
    quiet = _DropWarnings(texts)
    logger.addFilter(quiet)
    try:
        yield
    finally:
        logger.removeFilter(quiet)
