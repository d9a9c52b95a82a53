"""A saved run as ``recommend`` and ``similar`` read it: the model and its items table."""

from __future__ import annotations

from pathlib import Path

from tfrec.errors import TfrecError


def load_run(run_dir: str):
    """The run's model and its ``items.csv`` indexed by raw item ID (or None)."""
    import pandas as pd

    from tfrec.api import load_model

    model = load_model(run_dir)
    items_file = Path(run_dir) / "items.csv"
    dtype = {"item_id": str} if model.items_.is_string else None
    items = (
        pd.read_csv(items_file, keep_default_na=False, dtype=dtype).set_index("item_id")
        if items_file.exists()
        else None
    )
    return model, items


def raw_id(vocabulary, text: str, what: str, run_dir: str):
    """The raw ID that ``--user-id``/``--item-id`` names, checked against the run."""
    row = -1
    if vocabulary.is_string or text.strip().lstrip("-").isdigit():
        row = int(vocabulary.encode([text.strip()])[0])
    if row < 0:
        shown = ", ".join(map(str, vocabulary.ids[:3]))
        named = repr(text) if vocabulary.is_string else text
        raise TfrecError(
            f"unknown {what} id {named}: not in the training data of {run_dir} "
            f"({len(vocabulary):,} {what}s, e.g. {shown})"
        )
    return vocabulary.ids[row].item()


def title(items, item_id) -> str:
    """The item's title from the run's items table, else ``item <id>``."""
    if items is not None and item_id in items.index:
        return str(items.loc[item_id, "title"])
    return f"item {item_id}"
