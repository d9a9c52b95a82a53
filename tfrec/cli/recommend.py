"""``tfrec recommend``: a user's top-k items from a saved run, with reasons on request.

A user absent from the run's training data gets the most popular items, as
the SavedModel's ``recommend`` signature answers, with a note on stderr and
in each JSON row. ``--history ID,ID,...`` serves a new user from the items
they bring instead (models that serve new users; the SavedModel's
``recommend_history``), with ``--feature NAME=VALUE`` for what else they
bring: user features and request context (models that read them). With
``--user-id``, ``--feature`` gives the request's context (``recommend_context``).
"""

from __future__ import annotations

import sys

from tfrec.cli._common import finish, print_rows
from tfrec.cli._saved_run import load_run, resolve_id, title, unknown_note
from tfrec.errors import ConfigError, NotSupportedError


def add_parser(commands) -> None:
    """Adds ``recommend`` to the ``tfrec`` sub-commands."""
    p = commands.add_parser("recommend", help="top-k items for a user from a saved run")
    p.add_argument("--model-dir", required=True, metavar="RUN_DIR")
    who = p.add_mutually_exclusive_group(required=True)
    who.add_argument(
        "--user-id",
        help="a raw user ID (integer or string); an unknown user gets the most popular items",
    )
    who.add_argument(
        "--history",
        metavar="ID,ID,...",
        help="a new user's items, oldest first (models that serve new users: `tfrec models`); "
        "'' for none yet",
    )
    p.add_argument(
        "--feature",
        action="append",
        metavar="NAME=VALUE",
        help="a new user's feature or the request's context, e.g. --feature age=31 "
        "--feature device=tv (repeat the flag; `tfrec data info` lists them); with "
        "--user-id, context only",
    )
    p.add_argument("-k", type=int, default=10)
    p.add_argument("--include-seen", action="store_true", help="do not drop items already rated")
    p.add_argument("--explain", action="store_true", help="say why each item is recommended")
    p.add_argument("--json", action="store_true", help="print JSON")
    finish(p, run, tensorflow=True)


def run(args) -> int:
    """Prints the user's top-k items."""
    model, items = load_run(args.model_dir)
    note = None
    if args.history is not None:
        given, note = _history(model, args)
        item_ids, scores = model.recommend_history(
            [given], k=args.k, exclude_given=not args.include_seen, features=_features(args.feature)
        )
        rated, ratings, who = given, None, "a new user"
    else:
        user_id, known = resolve_id(model.users_, args.user_id, "user")
        if not known:
            note = unknown_note("user", user_id, args.model_dir, "the most popular items")
        item_ids, scores = model.recommend(
            [user_id],
            k=args.k,
            exclude_seen=not args.include_seen,
            context=_features(args.feature),
        )
        (rated, ratings), who = model.rated_items(user_id), f"user {args.user_id}"
    if note is not None:
        print(f"note: {note}", file=sys.stderr)
    keep = item_ids[0] != model.items_.pad
    item_ids, scores = item_ids[0][keep], scores[0][keep]
    reasons = explain(model, items, rated, ratings, item_ids) if args.explain else None
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
    print_rows(rows, args.json, f"Top {len(rows)} for {who} ({model.name})")
    return 0


def _history(model, args):
    """The raw item IDs of ``--history``, and a note naming those the run does not know."""
    import numpy as np

    if not model.serves_new_users:
        model.recommend_history([[]])  # raises the one-line refusal
    given = [resolve_id(model.items_, text, "item") for text in args.history.split(",") if text]
    unknown = [str(raw) for raw, known in given if not known]
    note = None
    if unknown:
        answer = (
            "left out of the history" if len(unknown) < len(given) else "the most popular items"
        )
        note = unknown_note("item", ", ".join(unknown), args.model_dir, answer)
    return np.asarray([raw for raw, _ in given]), note


def _features(pairs) -> dict | None:
    """``["age=31", "device=tv"]`` -> ``{"age": ["31"], "device": ["tv"]}`` (one user)."""
    if not pairs:
        return None
    features = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise ConfigError(f"--feature takes NAME=VALUE, e.g. --feature age=31; got {pair!r}")
        features[name.strip()] = [value.strip()]
    return features


def explain(model, items, rated, ratings, item_ids) -> list[str]:
    """Seed-style reasons: a similar item the user liked, else the item's training stats.

    Args:
        rated, ratings: The user's items and ratings (ratings None: a new
            user's history, every item liked).

    On ratings, the user liked an item rated at least 4 and in their top
    quarter; on implicit feedback (one rating value), every item they chose.
    """
    import numpy as np

    implicit = ratings is None or model.rating_scale_[0] == model.rating_scale_[1]
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
