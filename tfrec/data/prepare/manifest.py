"""The manifest of a prepared dataset: what is in ``PREPARED_DIR`` and how it was made.

A prepared directory holds::

    manifest.json            this file's contents (counts, schema, options, shards)
    users.parquet            the user vocabulary: raw_id, code, interactions
    items.parquet            the item vocabulary: raw_id, code, interactions
    items_table.<suffix>     the items table given to prepare, copied (optional)
    train/part-00000.parquet ... one file per shard and part: user_id, item_id,
    validation/part-...      rating, timestamp (and weight), sorted by
    test/part-...            (user_id, timestamp); a user's rows sit in one shard

``tfrec data info --dataset PREPARED_DIR`` prints the manifest without
reading a shard.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from tfrec.errors import DataError

MANIFEST = "manifest.json"
FORMAT = "tfrec-prepared"
FORMAT_VERSION = 1
PARTS = ("train", "validation", "test")


def is_prepared(source) -> bool:
    """True when ``source`` is a directory that ``tfrec data prepare`` wrote."""
    if not isinstance(source, str | os.PathLike):
        return False
    path = Path(source).expanduser()
    return path.is_dir() and (path / MANIFEST).is_file()


def read_manifest(directory) -> dict:
    """The manifest of a prepared directory.

    Raises:
        DataError: No manifest, or one this version of tfrec cannot read.
    """
    path = Path(directory).expanduser() / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError:
        raise DataError(
            f"{path.parent}: no {MANIFEST}; a prepared dataset is written by "
            "`tfrec data prepare --dataset LOG --out DIR`"
        ) from None
    except json.JSONDecodeError as e:
        raise DataError(f"{path}: not valid JSON ({e}); prepare the data again") from None
    if manifest.get("format") != FORMAT or manifest.get("format_version", 0) > FORMAT_VERSION:
        raise DataError(
            f"{path}: format {manifest.get('format')!r} version "
            f"{manifest.get('format_version')!r} is not one this tfrec reads "
            f"({FORMAT} version {FORMAT_VERSION}); prepare the data again"
        )
    return manifest


def shard_files(directory, manifest: dict, part: str) -> list[Path]:
    """The shard files of one part (``train``, ``validation`` or ``test``), in order."""
    return [Path(directory).expanduser() / s["file"] for s in manifest["shards"][part]]
