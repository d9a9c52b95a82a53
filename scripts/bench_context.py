"""What the request context is worth: each test interaction ranked in its own context.

The evaluation protocol ranks a user's catalogue once, without context. Here
every test interaction (u, i, x) is a request of its own: user u's unseen
items are ranked with the interaction's context x (``recommend(...,
context=...)``) and without, and HR@10 / NDCG@10 say where i lands. On
``synthetic-features`` the device and hour band shift the genres chosen
(``context_effect``; at 0 the context says nothing, a control). For each
model that reads context (``dcn``, ``two_tower``) and seed, one row per
request kind; dcn with ``use_features=false`` is the baseline without any
feature. The last line is one JSON object with every row.

    python scripts/bench_context.py --seeds 0,1,2
    python scripts/bench_context.py --context-effect 0 --seeds 0
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

import tfrec
from tfrec.data.synthetic_features import features

# label -> (model, options)
MODELS = {
    "dcn": ("dcn", {}),
    "dcn_no_features": ("dcn", {"use_features": False}),
    "two_tower": ("two_tower", {}),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--seeds", default="0")
    parser.add_argument("--context-effect", type=float, default=1.0)
    parser.add_argument("--interactions", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=3_000)
    parser.add_argument("--epochs", type=int, help="each model's epochs (default: its own)")
    args = parser.parse_args()
    epochs = {} if args.epochs is None else {"epochs": args.epochs}

    rows = []
    for seed in (int(s) for s in args.seeds.split(",")):
        data = features(
            seed,
            n_users=args.users,
            n_interactions=args.interactions,
            context_effect=args.context_effect,
        )
        split = tfrec.split(data, "temporal", seed=seed)
        for label in args.models.split(","):
            name, options = MODELS[label]
            started = time.perf_counter()
            model = tfrec.get_model(name, seed=seed, **options, **epochs).fit(split)
            seconds = time.perf_counter() - started
            reads = model.feature_schema_.of("context") or model.feature_schema_.context_time
            kinds = ["without", "with"] if reads else ["without"]
            for kind in kinds:
                metrics = per_request(model, split.test, with_context=kind == "with")
                rows.append(
                    {"model": label, "seed": seed, "context": kind,
                     **metrics, "fit_seconds": round(seconds, 1)}
                )  # fmt: skip
                print(
                    f"{label:<16} seed {seed} {kind:<7} context: HR@10 {metrics['hr@10']:.4f} "
                    f"NDCG@10 {metrics['ndcg@10']:.4f} ({metrics['requests']:,} requests, "
                    f"fit {seconds:.0f}s)",
                    flush=True,
                )
    print(json.dumps({"context_effect": args.context_effect, "rows": rows}))


def per_request(model, test, with_context: bool, k: int = 10) -> dict:
    """HR@k and NDCG@k of each test interaction of a known user and item, as a
    request of its own (its own context, or none); the user's training items
    are excluded."""
    known = np.isin(test["user_id"], model.user_ids) & np.isin(test["item_id"], model.item_ids)
    test = test[known].reset_index(drop=True)
    context = None
    if with_context:
        schema = model.feature_schema_
        names = [f.name for f in schema.of("context")]
        context = test[names + (["timestamp"] if schema.context_time else [])]
    items, _ = model.recommend(test["user_id"].to_numpy(), k=k, context=context)
    hits = items == test["item_id"].to_numpy()[:, None]
    rank = np.argmax(hits, axis=1)
    found = hits.any(axis=1)
    gains = np.where(found, 1.0 / np.log2(rank + 2.0), 0.0)
    return {"hr@10": float(found.mean()), "ndcg@10": float(gains.mean()), "requests": len(test)}


if __name__ == "__main__":
    main()
