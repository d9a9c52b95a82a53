"""Training-step cost of the retrieval models at ML-25M table sizes, per setting.

Builds ``two_tower`` or ``lstm_retrieval``'s TFRS model with 162,000 users
and 62,000 items over random user sequences (4M positions, Zipf-distributed
items; no data to load), runs ``model.fit`` for 60 warm-up steps and then
times ``--steps`` more, for each setting given as a JSON object of config
fields (with ``optimizer=lazy_adam``; the options chosen by data size that a
setting leaves out take the config's ``SMALL_DATA`` values). Prints one line
per setting (milliseconds per step, microseconds per training example) and,
last, one JSON object with them all. Real data runs slower than these random
sequences (about 1.4x in bench_scale.py), but the ratios between settings
carry over.

    python scripts/bench_retrieval_steps.py two_tower '{"stride": 1}' '{"stride": 8}'
    python scripts/bench_retrieval_steps.py lstm_retrieval '{"stride": 20, "negatives": 256}'
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from tfrec.models import model_class
from tfrec.models.retrieval.model import retrieval_model
from tfrec.models.training.lazy_adam import LazyAdam
from tfrec.pipelines import training_dataset
from tfrec.sequences import UserSequences

USERS, ITEMS, POSITIONS, GENRES = 162_000, 62_000, 4_000_000, 20
WARM_UP = 60


def random_sequences(seed: int = 0):
    """User sequences, genre multi-hot and item counts of ML-25M's table sizes."""
    rng = np.random.default_rng(seed)
    users = np.sort(rng.integers(0, USERS, POSITIONS))
    items = (rng.zipf(1.3, POSITIONS) % ITEMS).astype(np.int64)
    counts = np.bincount(users, minlength=USERS)
    ends = np.cumsum(counts)
    genres = (rng.random((ITEMS, GENRES)) < 0.1).astype(np.float32)
    popularity = np.bincount(items, minlength=ITEMS).astype(np.float32)
    return UserSequences(users, items, ends - counts, ends), genres, popularity


def step_cost(config, sequences, genres, popularity, steps: int) -> dict:
    """Milliseconds per training step and microseconds per example of ``config``."""
    import tf_keras as keras

    model = retrieval_model(config, USERS, ITEMS, genres, popularity, sequences)
    model.build_variables()
    model.compile(optimizer=LazyAdam(config.learning_rate))
    if config.windowed:
        batch_size = max(config.batch_size // config.window_stride, 1)
        columns = sequences.windows(config.window_stride, first_targets=True)
    else:
        batch_size, columns = config.batch_size, sequences.columns()
    marks = {}

    class Mark(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch in (WARM_UP, WARM_UP + steps):
                marks[batch] = time.perf_counter()

    model.fit(
        training_dataset(columns, batch_size, 0, 1),
        epochs=1,
        steps_per_epoch=WARM_UP + steps + 1,
        callbacks=[Mark()],
        verbose=0,
    )
    seconds = (marks[WARM_UP + steps] - marks[WARM_UP]) / steps
    examples = len(sequences.users) / -(-len(columns["user"]) // batch_size)
    return {
        "ms_per_step": round(seconds * 1e3, 2),
        "us_per_example": round(seconds * 1e6 / examples, 2),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model", choices=["two_tower", "lstm_retrieval"])
    parser.add_argument("settings", nargs="+", help="JSON objects of config fields")
    parser.add_argument("--steps", type=int, default=300)
    args = parser.parse_args()
    sequences, genres, popularity = random_sequences()
    config_class = model_class(args.model).Config
    results = []
    for setting in args.settings:
        fields = json.loads(setting)
        config = config_class.from_dict(
            {**config_class.SMALL_DATA, "optimizer": "lazy_adam", **fields}
        )
        result = {**fields, **step_cost(config, sequences, genres, popularity, args.steps)}
        print(json.dumps(result), flush=True)
        results.append(result)
    print(json.dumps({"model": args.model, "steps": args.steps, "settings": results}))


if __name__ == "__main__":
    main()
