"""Ranking-model quality over seeds, full ranking and the NCF sampled protocol.

For each model, protocol and seed: fit (the refit protocol refits on
train+validation with the settings chosen on validation), evaluate on test
with full ranking and with the sampled protocol (each user's last test item
among 100 unrated items), and print one row; then the mean and spread over
seeds per model and protocol. ``--protocols validation`` fits on train and
scores validation only, for choosing options without reading test. The
last line is one JSON object with every row and mean.

    python scripts/bench_ranking.py --dataset ml-latest-small --data-dir ../shared/data \\
        --models popularity,gmf,two_tower --seeds 0,1,2
    python scripts/bench_ranking.py --split leave-one-out --models popularity,lstm
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

import tfrec
from tfrec.benchmark.catalog import build_model
from tfrec.cli import parse_model_options
from tfrec.errors import ConfigError

METRICS = ("hr@10", "ndcg@10", "sampled_hr@10", "sampled_ndcg@10", "train_seconds")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="ml-latest-small")
    parser.add_argument("--data-dir")
    parser.add_argument("--split", default="temporal")
    parser.add_argument("--models", default="popularity,gmf,two_tower")
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--protocols", default="train,refit", help="train, refit, validation")
    parser.add_argument("--set", action="append", default=[], metavar="MODEL.KEY=JSON")
    args = parser.parse_args()

    data = tfrec.load_dataset(args.dataset, args.data_dir)
    split = tfrec.split(data, args.split)
    try:
        options = parse_model_options(args.set)
    except ConfigError as e:
        raise SystemExit(f"bench_ranking: {e}") from None
    rows, means = [], []
    for name in args.models.split(","):
        for protocol in args.protocols.split(","):
            group = []
            for seed in (int(s) for s in args.seeds.split(",")):
                metrics = _run(name, data, split, seed, protocol, options.get(name))
                row = {
                    "model": name,
                    "protocol": protocol,
                    "seed": seed,
                    **{m: metrics[m] for m in METRICS},
                    "epochs": metrics.get("epochs"),
                    "users": metrics.get("n_users_ranked"),
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


def _run(name, data, split, seed, protocol, config) -> dict:
    """One fit's metrics: on test (``train``, ``refit``), or on validation
    (``validation``: for choosing options; test is not scored)."""
    if protocol == "validation":
        model = build_model(name, config, (config or {}).get("seed", seed))
        started = time.perf_counter()
        model.fit(split)
        seconds = time.perf_counter() - started
        metrics = tfrec.evaluate(model, split, part="validation", sampled=True).metrics
        return {**metrics, "train_seconds": seconds, "epochs": getattr(model, "best_epoch_", None)}
    result = tfrec.train(name, data, split, seed=seed, refit=protocol == "refit", config=config)
    sampled = tfrec.evaluate(result.model, split, sampled=True).metrics
    return {**sampled, **result.metrics}


def _line(row: dict, label: str) -> str:
    return (
        f"{row['protocol']:<10} {row['model']:<11} {label:<7} HR@10 {row['hr@10']:.4f}  "
        f"NDCG@10 {row['ndcg@10']:.4f}  sampled HR@10 {row['sampled_hr@10']:.4f}  "
        f"sampled NDCG@10 {row['sampled_ndcg@10']:.4f}  {row['train_seconds']:6.1f}s"
    )


if __name__ == "__main__":
    main()
