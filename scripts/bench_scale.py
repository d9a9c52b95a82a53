"""Scale benchmark: ML-25M-sized data on one machine, stage by stage.

Generates N MovieLens-shaped synthetic ratings (162k users and 62k items at
N = 25M, as ml-25m; users and items scale with N below that) and writes them
as ml-25m's ``ratings.csv`` and ``movies.csv`` in a temporary directory (not
timed), so that loading goes through the same reader as the real files; or
reads a real MovieLens directory (``--dataset ml-25m --data-dir DIR``).
Then it loads and splits temporally (timed together as ``load_split_s``),
trains ``mf`` (64 factors) for one epoch and evaluates it with full ranking
of every test user (batched scoring against the item matrix, top-k per
batch). Stages ``two_tower`` and ``lstm_retrieval`` train those models for
one epoch with their defaults (which depend on the data's size: the
configs' ``LARGE_DATA`` settings at 25M) and rank every test user the same way
(``*_epoch_s``: the epoch's training time; ``*_examples_per_s``: training
interactions per second); stage ``als`` fits implicit's ALS (15 iterations,
when ``.[peers]`` is installed) on the same split for comparison. Prints
wall time and peak RSS after each stage, then one JSON object as the last
line.

The same synthetic ratings are also written as somebody's own log
(``log.csv``: string IDs ``u123`` / ``i456``, ISO 8601 times, other column
names; ``items.csv`` beside it), and stage ``strings`` loads and splits that
in a fresh process: ``string_load_split_s``, its ratio to the integer
figure (``string_vs_int``) and that process's ``string_peak_rss_gb``.

    python scripts/bench_scale.py --ratings 25000000
    python scripts/bench_scale.py --ratings 2000000 --skip strings,lstm_retrieval
    python scripts/bench_scale.py --set two_tower:stride=16 --set lstm_retrieval:stride=5
    python scripts/bench_scale.py --dataset ml-25m --data-dir ~/data

``--prepared`` measures the out-of-core path instead: it writes a
service-shaped log (:mod:`tfrec.data.synthetic_log`: string IDs, ISO times,
a quantity, ~650k users and ~250k items at 100M, both scaling with the
square root below) as Parquet parts, prepares it (``tfrec data prepare``,
random split) and trains ``mf`` and ``two_tower`` for one epoch from the
prepared directory, evaluating ``--eval-users`` sampled test users. Every
stage runs in a fresh process, so each ``*_peak_rss_gb`` is that stage's
own.

    python scripts/bench_scale.py --prepared --ratings 100000000 --eval-users 100000
    python scripts/bench_scale.py --prepared --compare --ratings 25000000

``--prepared-dir DIR`` trains from a directory prepared before (the
write and prepare stages are skipped). ``*_fit_peak_rss_gb`` is a training
stage's peak before evaluation.

``--compare`` writes the log as one Parquet file and also reads, splits and
trains on it in memory (``memory_*`` figures); ``*_same_split`` says whether
both paths put the same (user, item) pairs in each part.
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
from tfrec.data.prepare.manifest import read_manifest
from tfrec.data.synthetic import as_log, generate, ml25m_shape
from tfrec.models import is_available


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


def service_shape(n_interactions: int) -> tuple[int, int]:
    """Users and items of a service-shaped log: 650k and 250k at 100M, scaling with
    the square root of the share below that."""
    share = min(1.0, n_interactions / 100_000_000)
    return max(100, int(650_000 * share**0.5)), max(100, int(250_000 * share**0.5))


def in_child(target, *args) -> dict:
    """Runs ``target(*args, queue)`` in a fresh process; its dict, with its peak RSS."""
    spawn = multiprocessing.get_context("spawn")
    queue = spawn.Queue()
    child = spawn.Process(target=_measured, args=(target, args, queue))
    child.start()
    result = queue.get()
    child.join()
    if child.exitcode != 0 or "error" in result:
        raise SystemExit(f"{target.__name__} failed: {result.get('error', child.exitcode)}")
    return result


def _measured(target, args, queue) -> None:
    try:
        result = target(*args)
        result["peak_rss_gb"] = round(result.get("peak_rss_gb", peak_rss_gb()), 2)
    except BaseException as e:  # noqa: BLE001 - reported to the parent
        result = {"error": f"{type(e).__name__}: {e}"}
    queue.put(result)


def _write_log(directory: Path, n: int, users: int, items: int, one_file: bool) -> dict:
    from tfrec.data.synthetic_log import write_service_log

    t = time.perf_counter()
    files = write_service_log(
        directory, n, users, items, rows_per_part=n if one_file else 5_000_000
    )
    return {"seconds": time.perf_counter() - t, "files": len(files)}


def _prepare(log: Path, out: Path) -> dict:
    from tfrec.data.prepare import PrepareOptions, prepare

    t = time.perf_counter()
    manifest = prepare(log, out, PrepareOptions(split="random"))
    return {"seconds": time.perf_counter() - t, "counts": manifest["counts"]}


def _train(
    source: Path, name: str, options: dict, eval_users: int, prepared: bool, fingerprint: bool
) -> dict:
    """One epoch of ``name`` on a prepared directory, or on the log file read and
    split in memory; with ``fingerprint``, the rows of each part as an
    order-free fingerprint (computed after the peak RSS is taken: it decodes
    every raw ID)."""
    from tfrec.data.prepare.load import load_prepared

    t = time.perf_counter()
    if prepared:
        split = load_prepared(source)
    else:
        split = tfrec.split(tfrec.load_dataset(next(source.glob("*.parquet"))), "random")
    loaded = time.perf_counter() - t
    model = tfrec.get_model(name, epochs=1, patience=0, **options)
    model.fit(split, verbose=True)
    fitted_peak = peak_rss_gb()
    t = time.perf_counter()
    metrics = tfrec.evaluate(model, split, users=eval_users).metrics
    return {
        "load_s": loaded,
        "fit_peak_rss_gb": fitted_peak,
        "epoch_s": model.history_[0]["seconds"],
        "examples_per_s": model.history_[0]["examples_per_s"],
        "eval_s": time.perf_counter() - t,
        "eval_users": metrics["n_users_ranked"],
        "hr@10": metrics["hr@10"],
        "ndcg@10": metrics["ndcg@10"],
        "peak_rss_gb": peak_rss_gb(),
        **({"rows_fingerprint": _fingerprint(split)} if fingerprint else {}),
    }


def _fingerprint(split) -> str:
    """A hash of each part's (raw user, raw item) pairs, whatever their order."""
    sums = []
    for part in (split.train, split.validation, split.test):
        pairs = pd.DataFrame(
            {
                "user": split.dataset.raw_user_ids(part["user_id"].to_numpy()),
                "item": split.dataset.raw_item_ids(part["item_id"].to_numpy()),
            }
        )
        sums.append(int(pd.util.hash_pandas_object(pairs, index=False).sum() % 2**61))
    return "-".join(f"{s:x}" for s in sums)


def prepared_main(args, skip: set, options: dict) -> None:
    """The ``--prepared`` stages (module docstring); the last line is their JSON."""
    figures: dict = {} if args.prepared_dir else {"ratings": args.ratings}
    users, items = service_shape(args.ratings)
    with tempfile.TemporaryDirectory(prefix="tfrec-scale-", dir=args.scratch) as scratch:
        log, out = Path(scratch) / "log", Path(scratch) / "prepared"
        if args.prepared_dir:
            out = Path(args.prepared_dir)
            figures.update(prepared_dir=str(out), **read_manifest(out)["counts"])
        else:
            wrote = in_child(_write_log, log, args.ratings, users, items, args.compare)
            figures["generate_write_s"] = round(wrote["seconds"], 2)
            print(f"wrote {args.ratings:,} rows in {wrote['files']} parts: "
                  f"{wrote['seconds']:.1f}s", flush=True)  # fmt: skip
            prepared = in_child(_prepare, log, out)
            figures.update(
                prepare_s=round(prepared["seconds"], 2),
                prepare_peak_rss_gb=prepared["peak_rss_gb"],
                **prepared["counts"],
            )
        print(f"prepare: {json.dumps(figures)}", flush=True)
        for name in ("mf", "two_tower"):
            if name in skip:
                continue
            model = {**({"n_factors": 64} if name == "mf" else {}), **options.get(name, {})}
            paths = {"": (out, True), **({"memory_": (log, False)} if args.compare else {})}
            for prefix, (source, is_prepared) in paths.items():
                found = in_child(
                    _train, source, name, model, args.eval_users, is_prepared, args.compare
                )
                for key, value in found.items():
                    rounded = (
                        value if isinstance(value, str) else round(value, 4 if "@" in key else 2)
                    )
                    figures[f"{prefix}{name}_{key}"] = rounded
                print(f"{prefix}{name}: {json.dumps(found)}", flush=True)
            if args.compare:
                same = (
                    figures[f"{name}_rows_fingerprint"]
                    == figures[f"memory_{name}_rows_fingerprint"]
                )
                figures[f"{name}_same_split"] = same
    print(json.dumps(figures))


def model_options(settings: list[str]) -> dict[str, dict]:
    """``--set MODEL:KEY=VALUE`` values as {model: {key: value}} (JSON values, else text)."""
    out: dict[str, dict] = {}
    for setting in settings:
        model, sep, assignment = setting.partition(":")
        key, eq, value = assignment.partition("=")
        if not (sep and eq and key):
            raise SystemExit(f"--set takes MODEL:KEY=VALUE; got {setting!r}")
        try:
            out.setdefault(model, {})[key] = json.loads(value)
        except json.JSONDecodeError:
            out.setdefault(model, {})[key] = value
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ratings", type=int, default=25_000_000)
    parser.add_argument("--dataset", help="a MovieLens name instead of synthetic data")
    parser.add_argument("--data-dir")
    parser.add_argument(
        "--skip",
        default="",
        help="comma-separated stages to skip: strings, mf, two_tower, lstm_retrieval, als",
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="MODEL:KEY=VALUE",
        help="a model option of a stage, e.g. two_tower:stride=16 (repeatable)",
    )
    parser.add_argument("--prepared", action="store_true", help="the out-of-core path")
    parser.add_argument("--eval-users", type=int, default=100_000, help="--prepared: test users")
    parser.add_argument("--scratch", help="folder for the temporary files (default: /tmp)")
    parser.add_argument(
        "--prepared-dir",
        help="--prepared: train from this prepared directory (no log is written or prepared)",
    )
    parser.add_argument(
        "--compare",
        action="store_true",
        help="--prepared: write the log as one file and also train on it in memory",
    )
    args = parser.parse_args()
    skip = set(args.skip.split(","))
    options = model_options(args.set)
    if args.prepared_dir and (args.compare or not args.prepared):
        parser.error("--prepared-dir goes with --prepared, without --compare")
    if args.prepared:
        return prepared_main(args, skip, options)
    figures: dict = {}

    def stage(name, seconds):
        figures[name] = round(seconds, 2)
        print(f"{name:>16}: {seconds:8.2f} s   peak RSS {peak_rss_gb():6.2f} GiB", flush=True)

    with tempfile.TemporaryDirectory(prefix="tfrec-scale-") as scratch:
        name, data_dir = args.dataset, args.data_dir
        if not name:
            t = time.perf_counter()
            users, items = ml25m_shape(args.ratings)
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

    def ranked(name, model):
        """Full ranking of every test user: ``{name}_hr@10``, ``{name}_ndcg@10``."""
        t = time.perf_counter()
        metrics = tfrec.evaluate(model, split).metrics
        stage(f"{name}_eval_s", time.perf_counter() - t)
        figures["eval_users"] = metrics["n_users_ranked"]
        for key in ("hr@10", "ndcg@10"):
            figures[f"{name}_{key}"] = round(metrics[key], 4)

    if "mf" not in skip:
        t = time.perf_counter()
        mf = tfrec.get_model("mf", n_factors=64, epochs=1, patience=0).fit(split)
        stage("mf_fit_s", time.perf_counter() - t)
        figures["mf_epoch_s"] = round(mf.history_[0]["seconds"], 2)
        figures["mf_examples_per_s"] = round(mf.history_[0]["examples_per_s"])
        ranked("mf", mf)
        figures["eval_s"] = figures["mf_eval_s"]
        del mf

    for name in ("two_tower", "lstm_retrieval"):
        if name not in skip:
            model = tfrec.get_model(name, epochs=1, patience=0, **options.get(name, {}))
            t = time.perf_counter()
            model.fit(split, verbose=True)
            stage(f"{name}_fit_s", time.perf_counter() - t)
            figures[f"{name}_epoch_s"] = round(model.history_[0]["seconds"], 2)
            figures[f"{name}_examples_per_s"] = round(model.history_[0]["examples_per_s"])
            ranked(name, model)
            del model

    if "als" not in skip and is_available("implicit_als"):
        model = tfrec.get_model("implicit_als", iterations=15, **options.get("als", {}))
        t = time.perf_counter()
        model.fit(split)
        stage("als_fit_s", time.perf_counter() - t)
        ranked("als", model)

    figures["total_s"] = round(time.perf_counter() - start, 2)
    figures["peak_rss_gb"] = round(peak_rss_gb(), 2)
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
