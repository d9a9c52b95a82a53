"""Atomic writes: a file or directory appears whole or not at all."""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import tempfile
from pathlib import Path


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Writes ``text`` to ``path`` through a temporary file and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path


def write_npz(path: str | os.PathLike, **arrays) -> Path:
    """Saves numpy arrays to ``path`` (``.npz``) through a temporary file and a rename."""
    import numpy as np

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path


def cache_root() -> Path | None:
    """Where derived artefacts (e.g. Word2Vec item vectors) are cached:
    ``$TFREC_CACHE_DIR``, else ``$XDG_CACHE_HOME/tfrec`` or ``~/.cache/tfrec``.
    ``TFREC_CACHE_DIR=""`` turns caching off (None)."""
    if "TFREC_CACHE_DIR" in os.environ:
        value = os.environ["TFREC_CACHE_DIR"]
        return Path(value).expanduser() if value else None
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tfrec"


def write_json(path: str | os.PathLike, obj) -> Path:
    """Writes ``obj`` as indented JSON, atomically; NaN and infinity become null."""
    text = json.dumps(_finite(obj), indent=2, default=_json_default, allow_nan=False)
    return write_text(path, text + "\n")


def _finite(obj):
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {key: _finite(value) for key, value in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(value) for value in obj]
    return obj


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike):
    """Yields a temporary directory that replaces ``path`` when the block succeeds.

    On an exception the temporary directory is removed and whatever was at
    ``path`` before is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
    try:
        yield staging
        replace_dir(staging, path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def replace_dir(source: Path, target: Path) -> None:
    """Moves directory ``source`` to ``target``, replacing any old ``target``."""
    if target.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
        os.replace(target, old / "x")
        os.replace(source, target)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(source, target)


def _json_default(value):
    import numpy as np

    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
