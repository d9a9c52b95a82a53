"""Serving latency and throughput of exported models.

Trains a few models on synthetic data with a ~10k-item catalogue (or takes
the exports under --export-root), then measures for each model:

* in-process ``recommend`` signature of ``tf.saved_model.load``: batch-1
  latency p50/p95/p99 (one random known user per call, k=10), and rows/s at
  batch 256;
* end-to-end REST latency p50/p95 of the same call through
  ``tfrec.serving.LocalServer`` and ``tfrec.serving.Client`` on loopback
  (server and client in this process, one request at a time).

Prints a table, then one JSON object as the last line (headline model's
figures at the top level, every model's under "models").

    python scripts/bench_serving.py
    python scripts/bench_serving.py --export-root saved_models --models mf,svd
    python scripts/bench_serving.py --models two_tower,cascade --items 100000 --headline cascade
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

import tfrec
from tfrec.data.synthetic import generate
from tfrec.serving import Client, LocalServer, model_versions

# Options that keep the fits short; the latency of a signature does not depend on them.
DEFAULT_OPTIONS = {
    "mf": {"n_factors": 64, "epochs": 5},
    "svd": {"k": 50},
    "itemknn": {"n_neighbors": 50},
    "two_tower": {"epochs": 1},
    "dcn": {"epochs": 1},
    "cascade": {"retrieval_options": {"epochs": 1}, "ranking_options": {"epochs": 1}},
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--export-root", help="measure these exports instead of training")
    parser.add_argument("--models", default="popularity,mf,svd,itemknn,two_tower")
    parser.add_argument("--headline", default="mf", help="model whose figures lead the JSON")
    parser.add_argument("--users", type=int, default=5_000)
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--ratings", type=int, default=300_000)
    parser.add_argument("--calls", type=int, default=500, help="batch-1 calls per model")
    parser.add_argument("--rest-calls", type=int, default=300, help="REST calls per model")
    parser.add_argument("--batches", type=int, default=20, help="batch-256 calls per model")
    parser.add_argument("--set", action="append", default=[], metavar="MODEL.KEY=JSON")
    args = parser.parse_args()
    names = args.models.split(",")

    if args.export_root:
        root = Path(args.export_root)
        names = [name for name in names if name in model_versions(root)]
        rows = _measure(root, names, args)
    else:
        with tempfile.TemporaryDirectory(prefix="tfrec-bench-serving-") as scratch:
            _train_and_export(names, Path(scratch), args)
            rows = _measure(Path(scratch), names, args)

    print(
        f"{'model':<12} {'items':>6} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} "
        f"{'b256 rows/s':>12} {'REST p50':>9} {'REST p95':>9}"
    )
    for name, row in rows.items():
        print(
            f"{name:<12} {row['n_items']:>6} {row['inprocess_p50_ms']:>7.2f} "
            f"{row['inprocess_p95_ms']:>7.2f} {row['inprocess_p99_ms']:>7.2f} "
            f"{row['batch256_rows_per_s']:>12,.0f} {row['rest_p50_ms']:>9.2f} "
            f"{row['rest_p95_ms']:>9.2f}"
        )
    headline = args.headline if args.headline in rows else names[0]
    print(json.dumps({"headline": headline, **rows[headline], "models": rows}))


def _measure(root: Path, names: list[str], args) -> dict:
    """``{model: figures}`` for the newest export of each model under ``root``."""
    import tensorflow as tf

    rows, users = {}, {}
    for name in names:
        path = root / name / str(model_versions(root)[name][-1])
        loaded = tf.saved_model.load(str(path))
        users[name] = _known_users(loaded)
        rows[name] = _inprocess(loaded.signatures["recommend"], users[name], args)
        rows[name]["n_items"] = int(loaded.item_ids.shape[0])
    with LocalServer(root, port=0, log=lambda line: None) as server:
        client = Client(server.url)
        for name in names:
            sample = np.random.default_rng(1).choice(users[name], args.rest_calls)
            rows[name].update(_rest(client, name, sample))
    return rows


def _train_and_export(names, root: Path, args) -> None:
    data = generate(args.users, args.items, args.ratings, seed=0, name="bench-serving")
    split = tfrec.split(data, "temporal")
    options = {name: dict(DEFAULT_OPTIONS.get(name, {})) for name in names}
    for pair in args.set:
        key, _, value = pair.partition("=")
        model, _, option = key.partition(".")
        options.setdefault(model, {})[option] = json.loads(value)
    for name in names:
        started = time.perf_counter()
        tfrec.get_model(name, options[name]).fit(split).export(root)
        print(f"{name}: fitted and exported in {time.perf_counter() - started:.1f} s", flush=True)


def _known_users(loaded) -> np.ndarray:
    """Every user ID the export knows (the keys of its ID lookup table): int64, or
    ``bytes`` for an export from string IDs."""
    import tensorflow as tf

    _, specs = loaded.signatures["recommend"].structured_input_signature
    keys, _ = tf.raw_ops.LookupTableExportV2(
        table_handle=loaded.user_table.resource_handle,
        Tkeys=specs["user_id"].dtype,
        Tvalues=tf.int64,
    )
    return np.sort(keys.numpy())


def _inprocess(recommend, users: np.ndarray, args) -> dict:
    import tensorflow as tf

    rng = np.random.default_rng(0)
    k = tf.constant([10], tf.int32)

    def call(batch):
        outputs = recommend(user_id=tf.constant(batch), k=k)
        return outputs["item_ids"].numpy(), outputs["scores"].numpy()

    for _ in range(20):  # warm-up: tracing, allocator
        call(rng.choice(users, 1))
    latencies = []
    for batch in rng.choice(users, (args.calls, 1)):  # arrays keep the IDs' dtype
        started = time.perf_counter()
        call(batch)
        latencies.append(time.perf_counter() - started)
    batches = [rng.choice(users, 256) for _ in range(args.batches)]
    call(batches[0])
    started = time.perf_counter()
    for batch in batches:
        call(batch)
    rows_per_s = 256 * len(batches) / (time.perf_counter() - started)
    p50, p95, p99 = np.percentile(latencies, [50, 95, 99]) * 1e3
    return {
        "inprocess_p50_ms": round(float(p50), 3),
        "inprocess_p95_ms": round(float(p95), 3),
        "inprocess_p99_ms": round(float(p99), 3),
        "batch256_rows_per_s": round(rows_per_s, 1),
    }


def _rest(client: Client, name: str, users: np.ndarray) -> dict:
    for user in users[:20]:
        client.predict(name, [{"user_id": user, "k": 10}], signature_name="recommend")
    latencies = []
    for user in users:
        started = time.perf_counter()
        client.predict(name, [{"user_id": user, "k": 10}], signature_name="recommend")
        latencies.append(time.perf_counter() - started)
    p50, p95 = np.percentile(latencies, [50, 95]) * 1e3
    return {"rest_p50_ms": round(float(p50), 3), "rest_p95_ms": round(float(p95), 3)}


if __name__ == "__main__":
    main()
