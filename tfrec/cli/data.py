"""``tfrec data info | fetch | list``: what a dataset holds, and getting one."""

from __future__ import annotations

import json

from tfrec.cli._common import add_data_options, finish, load_data


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


def info(args) -> int:
    """Prints the dataset's counts (``Dataset.info``)."""
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
