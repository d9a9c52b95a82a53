"""A prepared directory read back as a :class:`~tfrec.splits.Split`.

The shards are read with pyarrow into the compact schema of
:mod:`tfrec.data.schema` (int32 codes, float32 ratings, int64 times): 24
bytes per interaction with a weight, where the in-memory reader of a raw
log holds the raw ID strings too. The split is the one the preparation
made; the vocabularies map the codes back to the raw IDs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from tfrec.data.feature_schema import Feature, FeatureSchema, parse_features
from tfrec.data.prepare.manifest import PARTS, read_manifest, shard_files
from tfrec.data.prepare.stream import TrainShards
from tfrec.data.schema import RATING_DTYPES, Dataset, make_items
from tfrec.data.vocabulary import Vocabulary
from tfrec.splits import Split


def load_prepared(directory) -> Split:
    """Reads a prepared directory (``tfrec data prepare``) into its split.

    Args:
        directory: The prepared directory.

    Returns:
        The split the preparation made, with its dataset (``ratings``: every
        part, train first; the parts are views of it) and its train shards,
        which the models that stream epochs read.

    Raises:
        DataError: Not a prepared directory, or one of another format version.
    """
    directory = Path(directory).expanduser()
    manifest = read_manifest(directory)
    user_vocab = _vocabulary(directory / "users.parquet", manifest["user_ids"])
    item_vocab = _vocabulary(directory / "items.parquet", manifest["item_ids"])
    ratings = _read_parts(directory, manifest)
    context = _context(manifest, ratings)
    ends = np.cumsum([sum(s["rows"] for s in manifest["shards"][p]) for p in PARTS])
    starts = np.r_[0, ends[:-1]]
    parts = {  # views of ratings (pandas copy-on-write), not copies
        p: ratings.iloc[a:b].reset_index(drop=True)
        for p, a, b in zip(PARTS, starts, ends, strict=True)
    }
    items, item_features = _items(directory, manifest, ratings, item_vocab)
    users, user_features = _users(directory, manifest, ratings, user_vocab)
    extra = {
        "columns": manifest["columns"],
        "duplicates": manifest["duplicates"],
        "notes": manifest["notes"],
        "prepared": str(directory),
    }
    if manifest.get("k_core"):
        extra["k_core"] = {k: manifest["k_core"][k] for k in ("before", "after")}
    dataset = Dataset(
        name=manifest["name"],
        ratings=ratings,
        items=items,
        rating_scale=tuple(manifest["rating_scale"]),
        source=str(directory),
        extra=extra,
        user_vocab=user_vocab,
        item_vocab=item_vocab,
        implicit=manifest["implicit"],
        has_timestamps=manifest["has_timestamps"],
        users=users,
        features=FeatureSchema(
            (*user_features, *item_features, *context),
            bool(manifest.get("context_time", False)),
        ),
    )
    split = manifest["split"]
    return Split(
        dataset,
        *parts.values(),
        method=split["method"],
        seed=split["seed"],
        train_shards=TrainShards.of(directory, manifest),
        part_shards={p: tuple(s["rows"] for s in manifest["shards"][p]) for p in PARTS},
    )


def _read_parts(directory: Path, manifest: dict) -> pd.DataFrame:
    """Every shard, train then validation then test, as one frame.

    Column by column, each dropped from the Arrow table once converted, so the
    peak is the table and one column, not the table and two frames."""
    import pyarrow.parquet as pq

    files = [f for p in PARTS for f in shard_files(directory, manifest, p)]
    dtypes = {**RATING_DTYPES, **({"weight": np.float32} if manifest["weighted"] else {})}
    context = [c["column"] for c in manifest.get("context_features", [])]
    table = pq.ParquetDataset([str(f) for f in files]).read(columns=[*dtypes, *context])
    columns = {}
    for name, dtype in dtypes.items():
        columns[name] = table.column(name).to_numpy().astype(dtype, copy=False)
        table = table.drop_columns([name])
    for name in context:  # as text; typed by _context
        columns[name] = table.column(name).to_numpy(zero_copy_only=False)
        table = table.drop_columns([name])
    return pd.DataFrame(columns, copy=False)


def _context(manifest: dict, ratings: pd.DataFrame) -> list[Feature]:
    """The context features, their shard columns (``context_j``, text) replaced
    in ``ratings`` by the typed values under the feature's name, as the
    in-memory reader holds them."""
    from tfrec.data.feature_columns import convert

    list_sep = manifest["options"].get("list_sep", "|")
    features = []
    for column in manifest.get("context_features", []):
        text = pd.Series(ratings.pop(column["column"]).to_numpy(), dtype=object)
        ratings[column["name"]] = convert(text, column["type"], list_sep).to_numpy()
        features.append(Feature(column["name"], "context", column["type"]))
    return features


def _vocabulary(path: Path, kind: str) -> Vocabulary | None:
    """None for integer IDs (the codes are the IDs), else the raw IDs by code."""
    if kind == "integer":
        return None
    import pyarrow.parquet as pq

    raw = pq.read_table(path, columns=["raw_id"]).column("raw_id").to_numpy(zero_copy_only=False)
    return Vocabulary(raw.astype(np.int64) if kind == "int64" else raw.astype(str))


def _items(directory: Path, manifest: dict, ratings: pd.DataFrame, vocab) -> tuple:
    """The items table given to prepare (its codes from the vocabulary) and its
    features, or the rated items titled by their raw IDs and no features."""
    from tfrec.data import feature_columns as fc
    from tfrec.data.interaction_log import _items_frame, _read_items_table, _with_missing_items

    table = manifest.get("items_table")
    if not table:
        return _with_missing_items(make_items([]), ratings, vocab), []
    wanted = {"item": parse_features(table.get("item_features"), "item")}
    source, mapping = _read_items_table(
        directory / table["file"],
        table["item_columns"],
        table.get("header", True),
        table.get("names"),
        features=wanted["item"],
    )
    raw = np.asarray(source.ids(mapping["item"])).astype(str)
    if vocab is None or not vocab.is_string:
        raw = raw.astype(np.int64)
    codes = raw if vocab is None else vocab.encode(raw)
    frame, found = _items_frame(source, mapping, codes.astype(np.int32), table["list_sep"], wanted)
    frame = _with_missing_items(frame, ratings, vocab)
    return fc.fill_missing(frame, found[1]), list(found[1])


def _users(directory: Path, manifest: dict, ratings: pd.DataFrame, vocab) -> tuple:
    """The user table given to prepare, one row per user of the log, and its
    features (None and none without one)."""
    from tfrec.data.interaction_log import _read_users

    table = manifest.get("users_table")
    if not table:
        return None, []
    frame, features, _, _ = _read_users(
        directory / table["file"],
        table["user_columns"],
        table.get("header", True),
        table.get("names"),
        parse_features(table.get("user_features"), "user"),
        table["list_sep"],
        vocab,
        ratings["user_id"].to_numpy(),
    )
    return frame, features
