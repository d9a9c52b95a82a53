"""EASE's fit on the music shape: seconds per step, validation NDCG@10, peak RSS.

    python scripts/bench_ease.py                      # synthetic-music, 18k training items
    python scripts/bench_ease.py --l2-grid-full       # also l2 chosen by one B per grid value
    python scripts/bench_ease.py --users 60 --items 400 --pairs 3000   # a tiny run

The fit prints its steps (Gram matrix, each l2, factorisation, pruning) on
stderr. ``--l2-grid-full`` fits, for every value of ``L2_GRID``, the full B
in float32 and scores its validation NDCG@10 (the previous procedure, which
did this in float64), to compare the l2 chosen on the most popular items with
the full grid's. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import resource
import time

from tfrec.data import synthetic
from tfrec.evaluation import evaluate
from tfrec.models import get_model
from tfrec.models.baselines.ease import L2_GRID
from tfrec.splits import split


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1_892)
    parser.add_argument("--items", type=int, default=45_000)
    parser.add_argument("--pairs", type=int, default=93_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--weighting", default="binary", help="binary, log or raw")
    parser.add_argument("--l2-grid-full", action="store_true")
    args = parser.parse_args()

    data = synthetic.music(args.users, args.items, args.pairs, seed=args.seed)
    parts = split(data, "random", seed=args.seed)
    figures = {"n_train": len(parts.train), "weighting": args.weighting}
    started = time.perf_counter()
    model = get_model("ease", weighting=args.weighting).fit(parts, verbose=True)
    figures["fit_s"] = round(time.perf_counter() - started, 1)
    figures["n_items"] = len(model.item_ids)
    figures["l2"] = model.l2_
    figures["val_ndcg@10"] = round(_validation_ndcg(model, parts), 4)
    print(f"fit {figures['fit_s']}s, l2 {model.l2_:g}, validation NDCG@10 {figures['val_ndcg@10']}")
    if args.l2_grid_full:
        figures["full_grid"] = {}
        for l2 in L2_GRID:
            started = time.perf_counter()
            full = get_model("ease", weighting=args.weighting, l2=l2).fit(parts)
            ndcg = round(_validation_ndcg(full, parts), 4)
            figures["full_grid"][f"{l2:g}"] = ndcg
            seconds = time.perf_counter() - started
            print(f"l2 {l2:g}: full B, validation NDCG@10 {ndcg} ({seconds:.0f}s)")
    figures["peak_rss_gb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6, 2)
    print(json.dumps(figures))


def _validation_ndcg(model, parts) -> float:
    return float(evaluate(model, parts, part="validation").metrics["ndcg@10"])


if __name__ == "__main__":
    main()
