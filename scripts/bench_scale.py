"""Scale benchmark: ML-25M-sized data on one machine, stage by stage.

Generates N MovieLens-shaped synthetic ratings (162k users and 62k items at
N = 25M, as ml-25m; users and items scale with N below that) and writes them
as ml-25m's ``ratings.csv`` and ``movies.csv`` in a temporary directory (not
timed), so that loading goes through the same reader as the real files; or
reads a real MovieLens directory (``--dataset ml-25m --data-dir DIR``).
Then it loads and splits temporally (timed together as ``load_split_s``),
trains ``mf`` (64 factors) and ``two_tower`` (``optimizer=lazy_adam``) for
one epoch each, and evaluates ``mf`` with full ranking of every test user
(batched scoring against the item matrix, top-k per batch). Prints wall
time and peak RSS after each stage, then one JSON object as the last line.

The same synthetic ratings are also written as somebody's own log
(``log.csv``: string IDs ``u123`` / ``i456``, ISO 8601 times, other column
names; ``items.csv`` beside it), and stage ``strings`` loads and splits that
in a fresh process: ``string_load_split_s``, its ratio to the integer
figure (``string_vs_int``) and that process's ``string_peak_rss_gb``.

    python scripts/bench_scale.py --ratings 25000000
    python scripts/bench_scale.py --ratings 2000000 --skip two_tower
    python scripts/bench_scale.py --dataset ml-25m --data-dir ~/data
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import tempfile
import time
from pathlib import Path

import pandas as pd

import tfrec
from tfrec.data.synthetic import SIZES, as_log, generate

FULL = SIZES["synthetic-25m"]  # (users, items, ratings) of ml-25m's shape


def peak_rss_gb() -> float:
    """Peak resident memory of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def write_synthetic(users: int, items: int, ratings: int, directory: Path) -> None:
    """Generated ratings as ``ratings.csv`` and ``movies.csv`` in ml-25m's format."""
    data = generate(users, items, ratings)
    directory.mkdir(parents=True)
    ratings = data.ratings.rename(columns={"user_id": "userId", "item_id": "movieId"})
    ratings.to_csv(directory / "ratings.csv", index=False)
    movies = pd.DataFrame(
        {
            "movieId": data.items["item_id"],
            "title": data.items["title"],
            "genres": data.items["genres"].map(lambda g: "|".join(g) or "(no genres listed)"),
        }
    )
    movies.to_csv(directory / "movies.csv", index=False)
    log, items = as_log(data)
    log.to_csv(directory / "log.csv", index=False)
    items.to_csv(directory / "items.csv", index=False)


def load_strings(directory: Path, queue) -> None:
    """Loads and splits the string-ID log (run in a fresh process)."""
    start = time.perf_counter()
    data = tfrec.load_dataset(directory / "log.csv", items=directory / "items.csv")
    loaded = time.perf_counter()
    split = tfrec.split(data, "temporal")
    queue.put(
        {
            "string_load_s": round(loaded - start, 2),
            "string_split_s": round(time.perf_counter() - loaded, 2),
            "string_load_split_s": round(time.perf_counter() - start, 2),
            "string_ratings": len(data.ratings),
            "string_train": len(split.train),
            "string_peak_rss_gb": round(peak_rss_gb(), 2),
        }
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ratings", type=int, default=25_000_000)
    parser.add_argument("--dataset", help="a MovieLens name instead of synthetic data")
    parser.add_argument("--data-dir")
    parser.add_argument(
        "--skip", default="", help="comma-separated stages to skip: strings, mf, two_tower"
    )
    args = parser.parse_args()
    skip = set(args.skip.split(","))
    figures: dict = {}

    def stage(name, seconds):
        figures[name] = round(seconds, 2)
        print(f"{name:>16}: {seconds:8.2f} s   peak RSS {peak_rss_gb():6.2f} GiB", flush=True)

    with tempfile.TemporaryDirectory(prefix="tfrec-scale-") as scratch:
        name, data_dir = args.dataset, args.data_dir
        if not name:
            t = time.perf_counter()
            share = min(1.0, args.ratings / FULL[2])
            users, items = (max(100, int(n * share**0.5)) for n in FULL[:2])
            # In a child process, so that its memory does not count in this one's peak.
            writer = multiprocessing.get_context("fork").Process(
                target=write_synthetic, args=(users, items, args.ratings, Path(scratch) / "ml-25m")
            )
            writer.start()
            writer.join()
            if writer.exitcode != 0:
                raise SystemExit(f"generating the data failed (exit code {writer.exitcode})")
            stage("generate_write_s", time.perf_counter() - t)
            name, data_dir = "ml-25m", scratch
            if "strings" not in skip:  # first, so that no other stage's memory counts
                spawn = multiprocessing.get_context("spawn")
                queue = spawn.Queue()
                loader = spawn.Process(target=load_strings, args=(Path(scratch) / "ml-25m", queue))
                loader.start()
                figures.update(queue.get())
                loader.join()
                print(f"string IDs: {json.dumps(figures)}", flush=True)
        start = time.perf_counter()
        data = tfrec.load_dataset(name, data_dir)
    loaded = time.perf_counter()
    stage("load_s", loaded - start)
    split = tfrec.split(data, "temporal")
    stage("split_s", time.perf_counter() - loaded)
    figures["load_split_s"] = round(time.perf_counter() - start, 2)
    figures["ratings"] = len(data.ratings)
    if "string_load_split_s" in figures:
        figures["string_vs_int"] = round(
            figures["string_load_split_s"] / figures["load_split_s"], 2
        )
    print(f"{len(data.ratings):,} ratings, {len(split.train):,} in train", flush=True)
    if "mf" in skip:
        figures["peak_rss_gb"] = round(peak_rss_gb(), 2)
        print(json.dumps(figures))
        return

    t = time.perf_counter()
    mf = tfrec.get_model("mf", n_factors=64, epochs=1, patience=0).fit(split)
    stage("mf_fit_s", time.perf_counter() - t)
    figures["mf_epoch_s"] = round(mf.history_[0]["seconds"], 2)
    figures["mf_examples_per_s"] = round(mf.history_[0]["examples_per_s"])

    t = time.perf_counter()
    result = tfrec.evaluate(mf, split)
    stage("eval_s", time.perf_counter() - t)
    figures["eval_users"] = result.metrics["n_users_ranked"]
    figures["mf_hr@10"] = round(result.metrics["hr@10"], 4)

    if "two_tower" not in skip:
        t = time.perf_counter()
        two_tower = tfrec.get_model("two_tower", epochs=1, patience=0, optimizer="lazy_adam")
        two_tower.fit(split, verbose=True)
        stage("two_tower_fit_s", time.perf_counter() - t)

    figures["total_s"] = round(time.perf_counter() - start, 2)
    figures["peak_rss_gb"] = round(peak_rss_gb(), 2)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
