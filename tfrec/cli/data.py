"""``tfrec data info | fetch | list | prepare``: what a dataset holds, getting one,
and preparing a log larger than memory."""

from __future__ import annotations

import json

from tfrec.cli._common import add_data_options, data_options, finish, load_data


def add_parser(commands) -> None:
    """Adds ``data info``, ``data fetch`` and ``data list`` to the ``tfrec`` sub-commands."""
    data = commands.add_parser("data", help="dataset commands").add_subparsers(metavar="COMMAND")
    p = data.add_parser("info", help="counts of users, items, ratings and the date range")
    add_data_options(p)
    p.add_argument("--json", action="store_true", help="print JSON")
    finish(p, info)
    p = data.add_parser("fetch", help="download and verify an official MovieLens archive")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--data-dir", metavar="DIR")
    finish(p, fetch)
    p = data.add_parser("list", help="list the known datasets")
    finish(p, list_datasets)
    _add_prepare(data)


def _add_prepare(data) -> None:
    from tfrec.data.prepare import ENGINES, PREPARE_SPLITS

    p = data.add_parser(
        "prepare",
        help="read a log larger than memory (DuckDB or Spark) into split shards",
        description="Reads --dataset LOG (a file, a glob, or a directory of Parquet/CSV "
        "parts) with DuckDB, within --memory-limit (spilling to disk beyond it), or with "
        "Apache Spark (--engine spark, locally or on a cluster), and writes "
        "--out PREPARED_DIR: vocabularies, train/validation/test shards by user and a "
        "manifest. Rerun after a kill to resume. Train with --dataset PREPARED_DIR.",
    )
    add_data_options(p)
    p.add_argument("--split", default="temporal", choices=PREPARE_SPLITS)
    p.add_argument("--fraction", type=float, default=0.1, help="validation and test share")
    p.add_argument("--seed", type=int, default=0, help="seed of the random split")
    p.add_argument("--out", required=True, metavar="PREPARED_DIR")
    p.add_argument("--shards", type=int, help="shards per part (default: one per 4M rows)")
    p.add_argument("--engine", default="duckdb", choices=ENGINES, help="default duckdb")
    p.add_argument(
        "--spark-master",
        metavar="URL",
        help="Spark's master: local[N], yarn, spark://HOST:7077 (default: local[--threads])",
    )
    p.add_argument("--memory-limit", help="DuckDB's memory limit (default 4GB)")
    p.add_argument(
        "--threads", type=int, help="DuckDB's threads, or N of Spark's local[N] (default: all)"
    )
    p.add_argument("--overwrite", action="store_true", help="replace an existing PREPARED_DIR")
    p.add_argument("--quiet", action="store_true", help="print only errors")
    finish(p, prepare)


def prepare(args) -> int:
    """Runs ``tfrec.data.prepare.prepare`` with the own-data options."""
    from tfrec.data.prepare import PrepareOptions
    from tfrec.data.prepare import prepare as run
    from tfrec.data.registry import dataset_names
    from tfrec.errors import ConfigError

    if args.dataset in dataset_names():
        raise ConfigError(
            f"data prepare reads your own log (--dataset FILE, GLOB or DIR of parts); "
            f"{args.dataset!r} is a registered dataset, which the in-memory path reads"
        )
    options = data_options(args)
    manifest = run(
        args.dataset,
        args.out,
        PrepareOptions(
            split=args.split, fraction=args.fraction, seed=args.seed, shards=args.shards,
            **options,
        ),
        memory_limit=args.memory_limit,
        threads=args.threads,
        overwrite=args.overwrite,
        verbose=not args.quiet,
        engine=args.engine,
        spark_master=args.spark_master,
    )  # fmt: skip
    if not args.quiet:
        _print_manifest(manifest)
    return 0


def _print_manifest(manifest: dict) -> None:
    """The prepared directory's counts and how it was made, from its manifest."""
    counts = manifest["counts"]
    split = manifest["split"]
    lines = {
        "dataset": manifest["name"],
        "prepared from": manifest["source"],
        "n_users": f"{counts['n_users']:,}",
        "n_items": f"{counts['n_items']:,}",
        "n_interactions": f"{counts['n_interactions']:,}",
        "split": f"{split['method']} (fraction {split['fraction']}, seed {split['seed']}): "
        f"{counts['train']:,} / {counts['validation']:,} / {counts['test']:,}",
        "shards per part": manifest["n_shards"],
        "feedback": "implicit" if manifest["implicit"] else "explicit",
        "weights": manifest["weighted"],
        "user_ids": manifest["user_ids"],
        "item_ids": manifest["item_ids"],
        "columns": ", ".join(f"{k}={v}" for k, v in manifest["columns"].items()),
        "prepared": f"{manifest['created']} by tfrec {manifest['tfrec_version']} "
        f"({manifest['engine']}, {manifest['seconds']:.1f}s)",
    }
    for key, value in lines.items():
        print(f"{key:<22} {value}")
    for note in manifest["notes"]:
        print(f"note: {note}")


def info(args) -> int:
    """Prints the dataset's counts (``Dataset.info``; a prepared directory's manifest)."""
    from tfrec.data.prepare.manifest import is_prepared, read_manifest

    if is_prepared(args.dataset):
        manifest = read_manifest(args.dataset)
        if args.json:
            print(json.dumps(manifest, indent=2))
        else:
            _print_manifest(manifest)
        return 0
    summary = load_data(args).info()
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        for key, value in summary.items():
            if key == "notes":  # printed above as note: lines
                continue
            if key == "features":
                _print_features(value)
                continue
            print(f"{key:<22} {value:.6f}" if isinstance(value, float) else f"{key:<22} {value}")
    return 0


def _print_features(features: list[dict]) -> None:
    """One line per feature: source, name, type, cardinality, missing share, example."""
    print(f"{'features':<22} {len(features)}")
    for f in features:
        example = "-" if f["example"] is None else repr(f["example"])
        print(
            f"  {f['source']:<8} {f['name']:<18} {f['type']:<9} {f['cardinality']:>7,} distinct"
            f"  {f['missing']:>6.1%} missing  e.g. {example}"
        )


def fetch(args) -> int:
    """Downloads and verifies a registered archive."""
    from tfrec.data import fetch

    path = fetch(args.name, args.data_dir)
    print(f"{args.name} is ready in {path}")
    return 0


def list_datasets(args) -> int:
    """Prints the generated and the registered datasets."""
    from tfrec.data.registry import DATASETS
    from tfrec.data.synthetic import SIZES

    for name, (users, items, ratings) in SIZES.items():
        print(f"{name:<16} generated: ~{ratings:,} ratings, {users:,} users, {items:,} items")
    for spec in DATASETS.values():
        print(f"{spec.name:<16} {spec.description} ({spec.size_mb:g} MB)")
    return 0
