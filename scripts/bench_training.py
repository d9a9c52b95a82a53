"""Training-speed benchmark: `mf` (64 factors) against Surprise's SVD.

Generates MovieLens-shaped synthetic ratings (default 2,000,000 ratings,
160,000 users, 60,000 items), trains tfrec's `mf` for a few epochs and reports
examples/second per epoch after the first (which includes tracing), and the
floor that TensorFlow's sparse row ops set (gather + scatter-add, no
arithmetic). With
scikit-surprise installed (`pip install -e ".[bench]"`), Surprise's SVD with
64 factors is timed on the same ratings, in file order (grouped by user, as
Surprise reads MovieLens) and shuffled. The last line printed is one JSON
object with the figures.

    python scripts/bench_training.py [--ratings 2000000] [--epochs 4]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

import tfrec
from tfrec.data.synthetic import generate


def bench_tfrec(split, epochs: int, batch_size: int) -> dict:
    model = tfrec.get_model("mf", n_factors=64, epochs=epochs, patience=0, batch_size=batch_size)
    model.fit(split, verbose=True)
    rates = [r["examples_per_s"] for r in model.history_[1:]]
    return {
        "tfrec_examples_per_s": float(np.median(rates)),
        "tfrec_epoch_s": [round(r["seconds"], 3) for r in model.history_],
    }


def bench_floor(split, batch_size: int) -> float:
    """Examples/s of the table traffic alone: per batch, gather the user and item
    rows of mf's packed layout (64 factors + 4 columns) and scatter-add them
    back, with no arithmetic. No optimiser built from TensorFlow's sparse row
    ops can train faster than this on the machine."""
    import tensorflow as tf

    from tfrec.pipelines import epoch_batches

    users = split.train["user_id"].factorize()[0].astype(np.int32)
    items = split.train["item_id"].factorize()[0].astype(np.int32)
    width = 64 + 4
    user_table = tf.Variable(tf.zeros([users.max() + 1, width]))
    item_table = tf.Variable(tf.zeros([items.max() + 1, width]))
    columns = {"user": tf.constant(users), "item": tf.constant(items)}

    @tf.function
    def epoch(dataset):
        for batch in dataset:
            u, i = tf.gather(user_table, batch["user"]), tf.gather(item_table, batch["item"])
            user_table.scatter_add(tf.IndexedSlices(i * 1e-9, batch["user"]))
            item_table.scatter_add(tf.IndexedSlices(u * 1e-9, batch["item"]))

    rates = []
    for e in range(3):
        started = time.perf_counter()
        epoch(epoch_batches(columns, batch_size, 0, e))
        rates.append(len(users) / (time.perf_counter() - started))
    rate = float(np.median(rates[1:]))
    print(f"gather + scatter-add floor: {rate / 1e6:.2f} M examples/s")
    return rate


def bench_surprise(ratings, epochs: int) -> dict | None:
    """Surprise's SVD in the file's order (grouped by user, as MovieLens files
    are, which Surprise never shuffles) and in a shuffled order."""
    try:
        import surprise  # noqa: F401
    except ImportError:
        print("scikit-surprise is not installed; pip install -e '.[bench]' to compare")
        return None
    frame = ratings[["user_id", "item_id", "rating"]]
    shuffled = frame.sample(frac=1.0, random_state=0)
    return {
        "surprise_examples_per_s": _surprise_rate(frame, epochs, "file order"),
        "surprise_shuffled_examples_per_s": _surprise_rate(shuffled, epochs, "shuffled"),
    }


def _surprise_rate(frame, epochs: int, label: str) -> float:
    import surprise

    reader = surprise.Reader(rating_scale=(0.5, 5.0))
    trainset = surprise.Dataset.load_from_df(frame, reader).build_full_trainset()
    seconds = []
    for n_epochs in (1, 1 + epochs):
        algo = surprise.SVD(n_factors=64, n_epochs=n_epochs, random_state=0)
        started = time.perf_counter()
        algo.fit(trainset)
        seconds.append(time.perf_counter() - started)
    per_epoch = (seconds[1] - seconds[0]) / epochs  # cancels the fixed set-up cost
    print(f"surprise SVD ({label}): {per_epoch:.2f}s per epoch")
    return len(frame) / per_epoch


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ratings", type=int, default=2_000_000)
    parser.add_argument("--users", type=int, default=160_000)
    parser.add_argument("--items", type=int, default=60_000)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=8192)
    args = parser.parse_args()

    started = time.perf_counter()
    data = generate(args.users, args.items, args.ratings, seed=0, name="bench")
    split = tfrec.split(data, "none")
    print(f"generated {len(data.ratings):,} ratings in {time.perf_counter() - started:.1f}s")
    result = {
        "ratings": len(data.ratings),
        "users": args.users,
        "items": args.items,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
    }
    result.update(bench_tfrec(split, args.epochs, args.batch_size))
    result["tf_gather_scatter_floor_examples_per_s"] = bench_floor(split, args.batch_size)
    peer = bench_surprise(data.ratings, min(args.epochs, 2))
    result["surprise_examples_per_s"] = peer["surprise_examples_per_s"] if peer else None
    result["surprise_shuffled_examples_per_s"] = (
        peer["surprise_shuffled_examples_per_s"] if peer else None
    )
    result["ratio"] = (
        result["tfrec_examples_per_s"] / result["surprise_examples_per_s"] if peer else None
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()
