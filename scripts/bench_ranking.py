"""Ranking-model quality over seeds, full ranking and the NCF sampled protocol.

For each model, protocol and seed: fit (the refit protocol refits on
train+validation with the settings chosen on validation), evaluate on test
with full ranking and with the sampled protocol (each user's last test item
among 100 unrated items), and print one row; then the mean and spread over
seeds per model and protocol. The last line is one JSON object with every
row and mean.

    python scripts/bench_ranking.py --dataset ml-latest-small --data-dir ../shared/data \\
        --models popularity,gmf,two_tower --seeds 0,1,2
    python scripts/bench_ranking.py --split leave-one-out --models popularity,lstm
"""

from __future__ import annotations

import argparse
import json

import numpy as np

import tfrec

METRICS = ("hr@10", "ndcg@10", "sampled_hr@10", "sampled_ndcg@10", "train_seconds")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="ml-latest-small")
    parser.add_argument("--data-dir")
    parser.add_argument("--split", default="temporal")
    parser.add_argument("--models", default="popularity,gmf,two_tower")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--protocols", default="train,refit")
    parser.add_argument("--set", action="append", default=[], metavar="MODEL.KEY=JSON")
    args = parser.parse_args()

    data = tfrec.load_dataset(args.dataset, args.data_dir)
    split = tfrec.split(data, args.split)
    options = _options(args.set)
    rows, means = [], []
    for name in args.models.split(","):
        for protocol in args.protocols.split(","):
            group = []
            for seed in (int(s) for s in args.seeds.split(",")):
                result = tfrec.train(
                    name,
                    data,
                    split,
                    seed=seed,
                    refit=protocol == "refit",
                    config=options.get(name),
                )
                sampled = tfrec.evaluate(result.model, split, sampled=True).metrics
                row = {
                    "model": name,
                    "protocol": protocol,
                    "seed": seed,
                    **{m: result.metrics.get(m, sampled.get(m)) for m in METRICS},
                    "epochs": result.metrics.get("epochs"),
                    "users": result.metrics.get("n_users_ranked"),
                }
                rows.append(row)
                group.append(row)
                print(_line(row, f"seed {seed}"), flush=True)
            mean = {"model": name, "protocol": protocol, "seeds": len(group)}
            for metric in METRICS:
                values = np.array([r[metric] for r in group], dtype=float)
                mean[metric] = float(values.mean())
                mean[metric + "_min"], mean[metric + "_max"] = (
                    float(values.min()),
                    float(values.max()),
                )
            means.append(mean)
            print(_line(mean, "mean"), flush=True)
    print(json.dumps({"dataset": args.dataset, "split": args.split, "rows": rows, "means": means}))


def _options(pairs: list[str]) -> dict:
    """``--set two_tower.history=20`` -> {"two_tower": {"history": 20}}."""
    out: dict = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        model, _, option = key.partition(".")
        if not option or not value:
            raise SystemExit(f"--set needs MODEL.KEY=VALUE; got {pair!r}")
        try:
            parsed = json.loads(value)
        except json.JSONDecodeError:
            parsed = value
        out.setdefault(model, {})[option] = parsed
    return out


def _line(row: dict, label: str) -> str:
    return (
        f"{row['protocol']:<6} {row['model']:<11} {label:<7} HR@10 {row['hr@10']:.4f}  "
        f"NDCG@10 {row['ndcg@10']:.4f}  sampled HR@10 {row['sampled_hr@10']:.4f}  "
        f"sampled NDCG@10 {row['sampled_ndcg@10']:.4f}  {row['train_seconds']:6.1f}s"
    )


if __name__ == "__main__":
    main()
