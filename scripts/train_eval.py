"""Train one model and evaluate it on the test split, with tfrec's Python API.

    python scripts/train_eval.py                 # svd on the synthetic default data (offline)
    python scripts/train_eval.py --model itemknn --dataset ml-latest-small --data-dir ../shared/data

Prints the metrics and the users the model serves best; the last line is
the metrics as JSON.
"""

from __future__ import annotations

import argparse
import json

import tfrec


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="svd", help="see `tfrec models`")
    parser.add_argument("--dataset", default="synthetic")
    parser.add_argument("--data-dir")
    parser.add_argument("--split", default="temporal")
    parser.add_argument("-k", type=int, default=10)
    args = parser.parse_args()

    data = tfrec.load_dataset(args.dataset, data_dir=args.data_dir)
    split = tfrec.split(data, args.split)
    model = tfrec.get_model(args.model).fit(split)
    result = tfrec.evaluate(model, split, k=args.k)

    print(f"{args.model} on {data.name} ({args.split} split, {len(result.per_user)} users ranked)")
    for name, value in result.metrics.items():
        print(f"  {name:<16} {value:.4f}" if isinstance(value, float) else f"  {name:<16} {value}")
    best = result.per_user.sort_values(["ndcg", "user_id"], ascending=[False, True]).head(3)
    print(
        "best served users (NDCG):",
        ", ".join(f"{u} ({v:.3f})" for u, v in zip(best.user_id, best.ndcg, strict=True)),
    )
    print(json.dumps(result.to_dict()))


if __name__ == "__main__":
    main()
