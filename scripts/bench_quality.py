"""Rating-model quality under both protocols, as in issue 4's table.

For each model: fit (and, for the refit protocol, refit on train+validation
with the settings chosen on validation), evaluate on test, export a
SavedModel, and print RMSE, MAE, HR@10, NDCG@10, train seconds, epochs and
export size. The last line is one JSON object with every row.

    python scripts/bench_quality.py --dataset ml-latest-small --data-dir ../shared/data
    python scripts/bench_quality.py --dataset synthetic-1m --models mf,dnn,bias
"""

from __future__ import annotations

import argparse
import json
import tempfile

import tfrec

RATING_MODELS = ("bias", "svd", "itemknn", "mf", "dnn", "hybrid", "blend")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", default="ml-latest-small")
    parser.add_argument("--data-dir")
    parser.add_argument("--split", default="temporal")
    parser.add_argument("--models", default=",".join(RATING_MODELS))
    parser.add_argument("--protocols", default="train,refit")
    args = parser.parse_args()

    data = tfrec.load_dataset(args.dataset, args.data_dir)
    split = tfrec.split(data, args.split)
    rows = []
    with tempfile.TemporaryDirectory() as export_root:
        for protocol in args.protocols.split(","):
            for name in args.models.split(","):
                result = tfrec.train(
                    name, data, split, refit=protocol == "refit", export_root=export_root
                )
                m = result.metrics
                row = {
                    "model": name,
                    "protocol": protocol,
                    "rmse": m["rmse"],
                    "mae": m["mae"],
                    "hr@10": m["hr@10"],
                    "ndcg@10": m["ndcg@10"],
                    "train_seconds": m["train_seconds"],
                    "epochs": m.get("epochs"),
                    "export_mb": m["export_size_mb"],
                }
                rows.append(row)
                print(
                    f"{protocol:<6} {name:<9} RMSE {row['rmse']:.4f}  MAE {row['mae']:.4f}  "
                    f"HR@10 {row['hr@10']:.4f}  NDCG@10 {row['ndcg@10']:.4f}  "
                    f"{row['train_seconds']:6.1f}s  epochs {row['epochs'] or '-'}  "
                    f"export {row['export_mb']:.1f} MB",
                    flush=True,
                )
    print(json.dumps({"dataset": args.dataset, "split": args.split, "rows": rows}))


if __name__ == "__main__":
    main()
