"""Compare a few models on one split with tfrec's Python API, sorted by NDCG@10.

    python scripts/compare_models.py             # popularity, bias, svd, itemknn on synthetic data
    python scripts/compare_models.py --models svd,mf,two_tower --dataset ml-latest-small \\
        --data-dir ../shared/data

One fit per model. For several seeds, confidence intervals, significance
marks and plots use ``tfrec.run_benchmark`` (``tfrec benchmark``). The last
line is one JSON object per model.
"""

from __future__ import annotations

import argparse
import json
import time

import tfrec

COLUMNS = ("ndcg@10", "hr@10", "precision@10", "recall@10", "map@10", "coverage@10", "rmse")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--models", default="popularity,bias,svd,itemknn")
    parser.add_argument("--dataset", default="synthetic")
    parser.add_argument("--data-dir")
    parser.add_argument("--split", default="temporal")
    args = parser.parse_args()

    split = tfrec.split(tfrec.load_dataset(args.dataset, data_dir=args.data_dir), args.split)
    rows = []
    for name in args.models.split(","):
        started = time.perf_counter()
        model = tfrec.get_model(name).fit(split)
        seconds = time.perf_counter() - started
        metrics = tfrec.evaluate(model, split).to_dict()
        rows.append({"model": name, **{c: metrics.get(c) for c in COLUMNS}, "train_s": seconds})
    rows.sort(key=lambda row: -row["ndcg@10"])

    print(f"{'model':<12}" + "".join(f"{c:>14}" for c in (*COLUMNS, "train_s")))
    for row in rows:
        cells = ["-" if row[c] is None else f"{row[c]:.4f}" for c in COLUMNS]
        print(
            f"{row['model']:<12}" + "".join(f"{c:>14}" for c in cells) + f"{row['train_s']:>14.1f}"
        )
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
