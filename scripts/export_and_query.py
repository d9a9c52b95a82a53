"""Train a model, export it as a SavedModel, load that back and ask it for recommendations.

    python scripts/export_and_query.py                        # svd on synthetic data, saved_models/
    python scripts/export_and_query.py --model two_tower --export-root /tmp/exports

What TF Serving would run is the loaded SavedModel's ``recommend`` signature
(raw user IDs and k in, raw item IDs and scores out); the script checks it
gives the Python model's top k. The last line is JSON.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

import tfrec


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", default="svd")
    parser.add_argument("--dataset", default="synthetic")
    parser.add_argument("--data-dir")
    parser.add_argument("--export-root", default="saved_models")
    parser.add_argument("-k", type=int, default=5)
    args = parser.parse_args()

    split = tfrec.split(tfrec.load_dataset(args.dataset, data_dir=args.data_dir), "temporal")
    model = tfrec.get_model(args.model).fit(split)
    path = model.export(args.export_root)  # <root>/<model>/<version>/, TF Serving's layout
    print(f"exported {path}")

    import tensorflow as tf  # after tfrec, which selects Keras 2 for TensorFlow

    recommend = tf.saved_model.load(str(path)).signatures["recommend"]
    users = model.user_ids[:3]
    served = recommend(user_id=tf.constant(users, tf.int64), k=tf.constant([args.k], tf.int32))
    served_items = served["item_ids"].numpy()
    python_items, _ = model.recommend(users, k=args.k)
    for user, items in zip(users, served_items, strict=True):
        print(f"user {user}: {items.tolist()}")
    agree = bool(np.array_equal(served_items, python_items))
    print(f"SavedModel and Python model agree: {agree}")
    print(
        json.dumps(
            {
                "export_path": str(path),
                "users": users.tolist(),
                "item_ids": served_items.tolist(),
                "agree": agree,
            }
        )
    )


if __name__ == "__main__":
    main()
