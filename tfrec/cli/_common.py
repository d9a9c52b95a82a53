"""What several commands share: the data options, ``--set`` parsing, output."""

from __future__ import annotations

import argparse
import json
import re
import sys

from tfrec.errors import ConfigError

HISTORY_HELP = (
    "with --split cold-users: the interactions each new user brings (default 5; "
    "0: none); the next 10 are relevant"
)


def finish(p: argparse.ArgumentParser, handler, *, tensorflow: bool = False) -> None:
    """Makes ``p`` a runnable command: its handler, ``--verbose``, and whether
    TensorFlow is imported (quietly) before the handler runs."""
    p.add_argument(
        "--verbose",
        action="store_true",
        help="show TensorFlow's start-up and C++ log lines (hidden by default)",
    )
    p.set_defaults(handler=handler, tensorflow=tensorflow)


def add_data_options(p: argparse.ArgumentParser) -> None:
    """--dataset, --data-dir and the options that read the user's own files."""
    from tfrec.data.registry import dataset_names

    p.add_argument(
        "--dataset",
        default="synthetic",
        metavar="NAME|FILE",
        help=f"one of: {', '.join(dataset_names())} (default: synthetic), or your own "
        ".csv/.tsv/.parquet interaction log",
    )
    p.add_argument("--data-dir", metavar="DIR", help="folder holding <dataset>/ as unzipped")
    g = p.add_argument_group("your own data (--dataset FILE)")
    g.add_argument(
        "--columns",
        metavar="user=C,item=C[,rating=C][,timestamp=C][,weight=C]",
        help="the file's columns (default: detected from common names); weight: a "
        "non-negative strength such as play counts, hours or quantity; KEY=none: no such column",
    )
    g.add_argument(
        "--implicit",
        action="store_true",
        help="implicit feedback: ignore any rating column (--columns rating=none)",
    )
    g.add_argument("--sep", help="field separator of a text file (default: detected)")
    g.add_argument("--no-header", action="store_true", help="the log has no header row")
    g.add_argument("--names", metavar="A,B,C", help="column names of a log without a header row")
    g.add_argument(
        "--timestamp-unit", choices=("s", "ms", "iso"), help="time unit (default: detected)"
    )
    g.add_argument("--rating-scale", metavar="LO,HI", help="rating scale (default: the data's)")
    g.add_argument(
        "--duplicates",
        choices=("last", "first", "mean", "count", "error"),
        help="repeated (user, item) rows (default: last with ratings, count without)",
    )
    g.add_argument("--items", metavar="FILE", help="items table (.csv/.tsv/.parquet)")
    g.add_argument(
        "--item-columns",
        metavar="item=C[,title=C][,genres=C][,tags=C][,year=C]",
        help="the items table's columns (default: detected)",
    )
    g.add_argument(
        "--items-no-header", action="store_true", help="the items table has no header row"
    )
    g.add_argument(
        "--item-names", metavar="A,B,C", help="column names of an items table without a header"
    )
    g.add_argument(
        "--list-sep", default="|", help="separator of genres, tags and multi features (default |)"
    )
    g.add_argument("--users", metavar="FILE", help="user table (.csv/.tsv/.parquet)")
    g.add_argument(
        "--user-columns", metavar="user=C", help="the user table's ID column (default: detected)"
    )
    g.add_argument(
        "--users-no-header", action="store_true", help="the user table has no header row"
    )
    g.add_argument(
        "--user-names", metavar="A,B,C", help="column names of a user table without a header"
    )
    types = "TYPE: category, multi, numeric or text (detected when left out)"
    g.add_argument(
        "--user-features",
        metavar="COL[=TYPE],...",
        help=f"the user table's feature columns (default: all but the ID); {types}",
    )
    g.add_argument(
        "--item-features",
        metavar="COL[=TYPE],...",
        help=f"feature columns of the items table beyond title/genres/tags/year; {types}",
    )
    g.add_argument(
        "--context-features",
        metavar="COL[=TYPE],...",
        help=f"columns of the log known at request time (device, page); {types}",
    )
    g.add_argument(
        "--context-time",
        action="store_true",
        help="the hour of day and weekday of each interaction are context features",
    )
    g.add_argument("--min-user-interactions", type=int, default=1, metavar="N")
    g.add_argument("--min-item-interactions", type=int, default=1, metavar="N")


def data_options(args) -> dict:
    """The load_dataset options of ``add_data_options``'s flags (set ones only)."""
    options = {
        "columns": _columns(args.columns, args.implicit),
        "sep": args.sep,
        "names": _names(args.names),
        "timestamp_unit": args.timestamp_unit,
        "rating_scale": _scale(args.rating_scale),
        "duplicates": args.duplicates,
        "items": args.items,
        "item_columns": args.item_columns,
        "item_names": _names(args.item_names),
        "users": args.users,
        "user_columns": args.user_columns,
        "user_names": _names(args.user_names),
        "user_features": args.user_features,
        "item_features": args.item_features,
        "context_features": args.context_features,
    }
    options = {key: value for key, value in options.items() if value is not None}
    if args.no_header:
        options["header"] = False
    if args.items_no_header:
        options["item_header"] = False
    if args.users_no_header:
        options["user_header"] = False
    if args.context_time:
        options["context_time"] = True
    if args.list_sep != "|":
        options["list_sep"] = args.list_sep
    for key in ("min_user_interactions", "min_item_interactions"):
        if getattr(args, key) != 1:
            options[key] = getattr(args, key)
    return options


def _columns(text: str | None, implicit: bool) -> str | None:
    """``--columns``, with ``rating=none`` added by ``--implicit``."""
    if not implicit:
        return text
    from tfrec.data.interaction_log import parse_mapping

    rating = parse_mapping(text).get("rating")
    if rating is not None:
        raise ConfigError(
            f"--implicit ignores the rating column, and --columns maps rating={rating}; "
            "drop one of them"
        )
    return f"{text},rating=none" if text else "rating=none"


def _names(text: str | None) -> list[str] | None:
    """``"a,b,c"`` -> ``["a", "b", "c"]`` (``--names``, ``--item-names``, ``--user-names``)."""
    return None if text is None else [name.strip() for name in text.split(",")]


def _scale(text: str | None):
    if text is None:
        return None
    try:
        low, high = (float(x) for x in text.split(","))
    except ValueError:
        raise ConfigError(f"--rating-scale takes LO,HI, e.g. 1,5; got {text!r}") from None
    return (low, high)


def load_data(args):
    """The dataset of --dataset and its options; says which columns were detected."""
    from tfrec.data import load_dataset

    dataset = load_dataset(
        args.dataset,
        args.data_dir,
        download=getattr(args, "download", False),
        **data_options(args),
    )
    if not getattr(args, "quiet", False):
        for line in _reading_lines(dataset, args.columns):
            print(line, file=sys.stderr)
    return dataset


def _reading_lines(dataset, columns: str | None) -> list[str]:
    """What the reader chose and changed: the columns when any was detected,
    then one ``note:`` line per note of the reader."""
    from tfrec.data.interaction_log import parse_mapping

    lines = []
    mapping = dataset.extra.get("columns") or {}
    if set(mapping) - set(parse_mapping(columns)):
        used = ", ".join(f"{key}={column}" for key, column in mapping.items())
        flags = "--columns, --implicit" if "rating" in mapping else "--columns"
        lines.append(f"columns: {used} (detected; set them with {flags})")
    lines += [f"note: {note}" for note in dataset.extra.get("notes", ())]
    return lines


def parse_options(pairs: list[str]) -> dict:
    """``["epochs=5", "encoder=gru"]`` -> ``{"epochs": 5, "encoder": "gru"}``.

    One argument may hold several pairs, ``retrieval=two_tower,candidates=200``
    (a comma before ``NAME=`` starts the next). Values are read as JSON, else
    kept as strings.
    """
    options = {}
    pairs = [part for pair in pairs for part in _NEXT_PAIR.split(pair)]
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set takes KEY=VALUE; got {pair!r}")
        try:
            options[key] = json.loads(text)
        except json.JSONDecodeError:
            options[key] = text
    return options


_NEXT_PAIR = re.compile(r",(?=[A-Za-z_][A-Za-z0-9_]*=)")


def parse_model_options(pairs: list[str]) -> dict[str, dict]:
    """``["dnn.epochs=5"]`` -> ``{"dnn": {"epochs": 5}}`` (values as in :func:`parse_options`)."""
    configs: dict[str, dict] = {}
    for pair in pairs:
        model, dot, option = pair.partition(".")
        if not dot or not model or "=" not in option:
            raise ConfigError(f"--set takes MODEL.KEY=VALUE; got {pair!r}")
        configs.setdefault(model, {}).update(parse_options([option]))
    return configs


def print_rows(rows: list[dict], as_json: bool, heading: str) -> None:
    """Ranked items as JSON, or as a heading and one numbered line per item."""
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    print(heading)
    for rank, row in enumerate(rows, 1):
        score = "-" if row["score"] is None else f"{row['score']:.4f}"
        line = f"{rank:>3}. {row['title']}  [{row['item_id']}]  score {score}"
        if "reason" in row:
            line += f"  - {row['reason']}"
        print(line)
