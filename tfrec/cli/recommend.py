"""``tfrec recommend``: a user's top-k items from a saved run, with reasons on request."""

from __future__ import annotations

from tfrec.cli._common import finish, print_rows
from tfrec.cli._saved_run import load_run, raw_id, title
from tfrec.errors import NotSupportedError


def add_parser(commands) -> None:
    """Adds ``recommend`` to the ``tfrec`` sub-commands."""
    p = commands.add_parser("recommend", help="top-k items for a user from a saved run")
    p.add_argument("--model-dir", required=True, metavar="RUN_DIR")
    p.add_argument("--user-id", required=True, help="a raw user ID (integer or string)")
    p.add_argument("-k", type=int, default=10)
    p.add_argument("--include-seen", action="store_true", help="do not drop items already rated")
    p.add_argument("--explain", action="store_true", help="say why each item is recommended")
    p.add_argument("--json", action="store_true", help="print JSON")
    finish(p, run, tensorflow=True)


def run(args) -> int:
    """Prints the user's top-k items."""
    model, items = load_run(args.model_dir)
    user_id = raw_id(model.users_, args.user_id, "user", args.model_dir)
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
        rows.append(row)
    print_rows(rows, args.json, f"Top {len(rows)} for user {args.user_id} ({model.name})")
    return 0


def explain(model, items, user_id, item_ids) -> list[str]:
    """Seed-style reasons: a highly rated similar item, else the item's rating stats."""
    import numpy as np

    rated, ratings = model.rated_items(user_id)
    liked = rated[ratings >= max(4.0, float(np.quantile(ratings, 0.75)))] if len(rated) else rated
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
        if because is not None:
            given = float(ratings[rated == because][0])
            reasons.append(f"because you rated {title(items, because)} highly ({given:g})")
        elif items is not None and item_id in items.index:
            info = items.loc[item_id]
            reasons.append(f"rated {int(info.n_ratings)} times, average {info.mean_rating:.2f}")
        else:
            reasons.append("popular in training")
    return reasons
