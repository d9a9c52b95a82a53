"""Training-speed benchmark: `mf` (64 factors) against Surprise's SVD.

Generates MovieLens-shaped synthetic ratings (default 2,000,000 ratings,
160,000 users, 60,000 items), trains tfrec's `mf` for a few epochs and reports
examples/second per epoch after the first (which includes tracing and XLA
compilation). With scikit-surprise installed (`pip install -e ".[bench]"`),
Surprise's SVD with 64 factors is timed on the same ratings, in file order
(grouped by user, as Surprise reads MovieLens) and shuffled. The last line
printed is one JSON object with the figures.

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
