"""``tfrec recommend``: a user's top-k items from a saved run, with reasons on request.

A user absent from the run's training data gets the most popular items, as
the SavedModel's ``recommend`` signature answers, with a note on stderr and
in each JSON row.
"""

from __future__ import annotations

import sys

from tfrec.cli._common import finish, print_rows
from tfrec.cli._saved_run import load_run, resolve_id, title, unknown_note
from tfrec.errors import NotSupportedError


def add_parser(commands) -> None:
    """Adds ``recommend`` to the ``tfrec`` sub-commands."""
    p = commands.add_parser("recommend", help="top-k items for a user from a saved run")
    p.add_argument("--model-dir", required=True, metavar="RUN_DIR")
    p.add_argument(
        "--user-id",
        required=True,
        help="a raw user ID (integer or string); an unknown user gets the most popular items",
    )
    p.add_argument("-k", type=int, default=10)
    p.add_argument("--include-seen", action="store_true", help="do not drop items already rated")
    p.add_argument("--explain", action="store_true", help="say why each item is recommended")
    p.add_argument("--json", action="store_true", help="print JSON")
    finish(p, run, tensorflow=True)


def run(args) -> int:
    """Prints the user's top-k items."""
    model, items = load_run(args.model_dir)
    user_id, known = resolve_id(model.users_, args.user_id, "user")
    note = None
    if not known:
        note = unknown_note("user", user_id, args.model_dir, "the most popular items")
        print(f"note: {note}", file=sys.stderr)
    item_ids, scores = model.recommend([user_id], k=args.k, exclude_seen=not args.include_seen)
    keep = item_ids[0] != model.items_.pad
    item_ids, scores = item_ids[0][keep], scores[0][keep]
    reasons = explain(model, items, user_id, item_ids) if args.explain else None
    rows = []
    for rank, (item_id, score) in enumerate(zip(item_ids, scores, strict=True)):
        row = {
            "item_id": item_id.item(),
            "title": title(items, item_id),
            "score": round(float(score), 4),
        }
        if reasons is not None:
            row["reason"] = reasons[rank]
        if note is not None:
            row["note"] = note
        rows.append(row)
    print_rows(rows, args.json, f"Top {len(rows)} for user {args.user_id} ({model.name})")
    return 0


def explain(model, items, user_id, item_ids) -> list[str]:
    """Seed-style reasons: a similar item the user liked, else the item's training stats.

    On ratings, the user liked an item rated at least 4 and in their top
    quarter; on implicit feedback (one rating value), every item they chose.
    """
    import numpy as np

    implicit = model.rating_scale_[0] == model.rating_scale_[1]
    rated, ratings = model.rated_items(user_id)
    liked = rated
    if len(rated) and not implicit:
        liked = rated[ratings >= max(4.0, float(np.quantile(ratings, 0.75)))]
    neighbours = None
    if len(liked):
        try:
            neighbours, _ = model.similar_items(item_ids, k=min(100, len(model.item_ids) - 1))
        except NotSupportedError:
            neighbours = None
    reasons = []
    for row, item_id in enumerate(item_ids):
        because = None
        if neighbours is not None:
            match = neighbours[row][np.isin(neighbours[row], liked)]
            if len(match):
                because = match[0]
        if because is None:
            reasons.append(_stats_reason(items, item_id, implicit))
        elif implicit:
            reasons.append(f"because you chose {title(items, because)}")
        else:
            given = float(ratings[rated == because][0])
            reasons.append(f"because you rated {title(items, because)} highly ({given:g})")
    return reasons


def _stats_reason(items, item_id, implicit: bool) -> str:
    """What the run's items table says of the item's training interactions."""
    if items is None or item_id not in items.index:
        return "popular in training"
    info = items.loc[item_id]
    n = int(info.n_ratings)
    if n == 0:
        return "new: no interactions in training"
    if implicit or info.mean_rating != info.mean_rating:  # NaN: no rating to average
        return f"{n} interactions in training"
    return f"rated {n} times, average {info.mean_rating:.2f}"
