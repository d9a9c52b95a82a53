"""``tfrec similar``: the items most similar to an item, from a saved run.

An item absent from the run's training data gets the most popular items
with no score, as :meth:`Recommender.similar_items` answers, with a note on
stderr and in each JSON row.
"""

from __future__ import annotations

import math
import sys

from tfrec.cli._common import finish, print_rows
from tfrec.cli._saved_run import load_run, resolve_id, title, unknown_note
from tfrec.errors import NotSupportedError, TfrecError


def add_parser(commands) -> None:
    """Adds ``similar`` to the ``tfrec`` sub-commands."""
    p = commands.add_parser("similar", help="items most similar to an item")
    p.add_argument("--model-dir", required=True, metavar="RUN_DIR")
    p.add_argument(
        "--item-id",
        required=True,
        help="a raw item ID (integer or string); an unknown item gets the most popular items",
    )
    p.add_argument("-k", type=int, default=10)
    p.add_argument("--json", action="store_true", help="print JSON")
    finish(p, run, tensorflow=True)


def run(args) -> int:
    """Prints the k items most similar to ``--item-id``."""
    model, items = load_run(args.model_dir)
    item_id, known = resolve_id(model.items_, args.item_id, "item")
    try:
        item_ids, scores = model.similar_items([item_id], k=args.k)
    except NotSupportedError as e:
        raise TfrecError(f"{e} (this run is {model.name})") from None
    note = None
    if not known:
        answer = "the most popular items, without scores"
        note = unknown_note("item", item_id, args.model_dir, answer)
        print(f"note: {note}", file=sys.stderr)
    rows = []
    for i, s in zip(item_ids[0], scores[0], strict=True):
        row = {
            "item_id": i.item(),
            "title": title(items, i),
            "score": None if math.isnan(s) else round(float(s), 4),
        }
        if note is not None:
            row["note"] = note
        rows.append(row)
    print_rows(rows, args.json, f"Most similar to {item_id} {title(items, item_id)}")
    return 0
