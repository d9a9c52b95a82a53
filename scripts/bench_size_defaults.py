"""Validation NDCG@10 of a retrieval model's settings at one data size.

Generates N synthetic ratings shaped like ml-25m (as ``bench_scale.py`` does:
162k users and 62k items at N = 25M, scaled below that), splits them
temporally, and for each setting (a JSON object of config fields) fits the
model with early stopping on validation NDCG@10 (``--epochs`` at most) and
prints its validation NDCG@10 per epoch and its epoch seconds. This is how
the per-size defaults of ``two_tower`` and ``lstm_retrieval`` were chosen
(docs/scaling.md); no test data is read. The last line is one JSON object
with every setting's figures.

    python scripts/bench_size_defaults.py --ratings 1000000 two_tower '{}' '{"stride": 32}'
    python scripts/bench_size_defaults.py --ratings 25000000 --epochs 1 two_tower \\
        '{"stride": 8, "batch_size": 1024, "negatives": 0}'
"""

from __future__ import annotations

import argparse
import json

import tfrec
from tfrec.data.synthetic import generate, ml25m_shape


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", choices=["two_tower", "lstm_retrieval"])
    parser.add_argument("settings", nargs="+", help="JSON objects of config fields")
    parser.add_argument("--ratings", type=int, default=1_000_000)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    users, items = ml25m_shape(args.ratings)
    split = tfrec.split(generate(users, items, args.ratings), "temporal")
    print(f"{users:,} users, {items:,} items, {len(split.train):,} in train", flush=True)
    results = []
    for setting in args.settings:
        fields = {"epochs": args.epochs, "seed": args.seed, **json.loads(setting)}
        model = tfrec.get_model(args.model, **fields).fit(split)
        result = {
            **json.loads(setting),
            "used": {key: getattr(model.config, key) for key in model.config.SIZE_CHOSEN},
            "best_epoch": model.best_epoch_,
            "val_ndcg@10": [round(epoch["val_ndcg@10"], 4) for epoch in model.history_],
            "epoch_s": [round(epoch["seconds"], 1) for epoch in model.history_],
        }
        result["best_val_ndcg@10"] = max(result["val_ndcg@10"])
        print(json.dumps(result), flush=True)
        results.append(result)
    print(json.dumps({"model": args.model, "ratings": args.ratings, "settings": results}))


if __name__ == "__main__":
    main()
