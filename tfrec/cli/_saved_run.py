"""A saved run as ``recommend`` and ``similar`` read it: the model and its items table."""

from __future__ import annotations

from pathlib import Path

from tfrec.errors import TfrecError


def load_run(run_dir: str):
    """The run's model and its ``items.csv`` indexed by raw item ID (or None).

    ``mean_rating`` is a number, NaN for the items without training rows.
    """
    import pandas as pd

    from tfrec.api import load_model

    model = load_model(run_dir)
    items_file = Path(run_dir) / "items.csv"
    if not items_file.exists():
        return model, None
    dtype = {"item_id": str} if model.items_.is_string else None
    items = pd.read_csv(items_file, keep_default_na=False, dtype=dtype).set_index("item_id")
    items["mean_rating"] = pd.to_numeric(items["mean_rating"], errors="coerce")
    return model, items


def resolve_id(vocabulary, text: str, what: str):
    """The raw ID that ``--user-id``/``--item-id`` names, and whether the run knows it.

    Raises:
        TfrecError: The run's IDs are integers and ``text`` is not one.
    """
    if vocabulary.is_string:
        raw = text
    elif text.strip().lstrip("-").isdigit():
        raw = int(text)
    else:
        shown = ", ".join(map(str, vocabulary.ids[:3]))
        raise TfrecError(
            f"{what} id {text!r} is not an integer, and this run's {what} IDs are "
            f"(e.g. {shown}); pass one of them"
        )
    return raw, bool(vocabulary.encode([raw])[0] >= 0)


def unknown_note(what: str, raw_id, run_dir: str, answer: str) -> str:
    """The note that says an ID is not in the run's training data, and what answers."""
    shown = repr(raw_id) if isinstance(raw_id, str) else raw_id
    return f"{what} {shown} is not in the training data of {run_dir}: {answer}"


def title(items, item_id) -> str:
    """The item's title from the run's items table, else ``item <id>``."""
    if items is not None and item_id in items.index:
        return str(items.loc[item_id, "title"])
    return f"item {item_id}"
