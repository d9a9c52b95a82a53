"""The ``tfrec`` command line: a thin layer over :mod:`tfrec.api`.

    tfrec train --model svd --dataset synthetic --out runs/svd
    tfrec recommend --model-dir runs/svd --user-id 1 --explain
    tfrec similar --model-dir runs/svd --item-id 1
    tfrec export --model-dir runs/svd --export-root saved_models
    tfrec benchmark --dataset synthetic --models all --out bench
    tfrec serving config --export-root saved_models
    tfrec serve --export-root saved_models --port 8501
    tfrec data info --dataset ml-latest-small
    tfrec data fetch ml-1m

User errors print one line, ``tfrec: error: ...``, and exit with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tfrec import tf_logging
from tfrec.errors import ConfigError, NotSupportedError, TfrecError

_METRIC_ORDER = (
    "rmse",
    "mae",
    "n_rating_pairs",
    "hr@10",
    "precision@10",
    "recall@10",
    "ndcg@10",
    "map@10",
    "coverage@10",
    "n_users_ranked",
    "train_seconds",
    "eval_seconds",
    "epochs",
    "export_path",
)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``tfrec`` console script."""
    parser = _parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "handler"):
        parser.print_help()
        return 2
    if getattr(args, "verbose", False):
        tf_logging.show_startup_lines()
    else:
        tf_logging.hide_startup_lines()
    if args.handler in _TENSORFLOW_COMMANDS:
        tf_logging.import_tensorflow()
    try:
        return args.handler(args) or 0
    except TfrecError as e:
        print(f"tfrec: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("tfrec: interrupted", file=sys.stderr)
        return 130


def _parser() -> argparse.ArgumentParser:
    from tfrec.data.registry import dataset_names
    from tfrec.distribute import STRATEGIES
    from tfrec.models import model_names
    from tfrec.splits import SPLIT_METHODS
    from tfrec.version import __version__

    parser = argparse.ArgumentParser(prog="tfrec", description=__doc__.split("\n")[0])
    parser.add_argument("--version", action="version", version=f"tfrec {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    p = commands.add_parser("train", help="fit a model, evaluate it on test, save the run")
    p.add_argument(
        "--model", required=True, metavar="NAME", help=f"one of: {', '.join(model_names())}"
    )
    _add_data_options(p, dataset_names())
    p.add_argument(
        "--split",
        default="temporal",
        choices=SPLIT_METHODS,
        help="temporal (default), leave-one-out, random, global-time, or none "
        "(fit on all ratings, no evaluation)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--refit", action="store_true", help="fit on train+validation before test")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="model option, e.g. --set k=64 (repeatable)",
    )
    p.add_argument("-k", type=int, default=10, help="cut-off of the top-N metrics (default 10)")
    p.add_argument("--download", action="store_true", help="download a missing dataset")
    p.add_argument(
        "--export-root",
        default="saved_models",
        metavar="DIR",
        help="export a SavedModel to DIR/<model>/<version>/ (default: saved_models)",
    )
    p.add_argument("--no-export", action="store_true", help="do not export a SavedModel")
    p.add_argument("--out", required=True, metavar="RUN_DIR", help="run directory to write")
    p.add_argument("--overwrite", action="store_true", help="replace an existing RUN_DIR")
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue an interrupted run from RUN_DIR.checkpoints/ (saved every epoch)",
    )
    p.add_argument(
        "--strategy",
        default="default",
        choices=STRATEGIES,
        help="tf.distribute strategy; the cluster comes from TF_CONFIG (docs/scaling.md)",
    )
    p.add_argument("--quiet", action="store_true", help="print only errors")
    p.set_defaults(handler=_train)

    p = commands.add_parser("recommend", help="top-k items for a user from a saved run")
    p.add_argument("--model-dir", required=True, metavar="RUN_DIR")
    p.add_argument("--user-id", required=True, help="a raw user ID (integer or string)")
    p.add_argument("-k", type=int, default=10)
    p.add_argument("--include-seen", action="store_true", help="do not drop items already rated")
    p.add_argument("--explain", action="store_true", help="say why each item is recommended")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=_recommend)

    p = commands.add_parser("similar", help="items most similar to an item")
    p.add_argument("--model-dir", required=True, metavar="RUN_DIR")
    p.add_argument("--item-id", required=True, help="a raw item ID (integer or string)")
    p.add_argument("-k", type=int, default=10)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=_similar)

    p = commands.add_parser("export", help="export a saved run as a TF Serving SavedModel")
    p.add_argument("--model-dir", required=True, metavar="RUN_DIR")
    p.add_argument(
        "--export-root",
        default="saved_models",
        metavar="DIR",
        help="TF Serving model base paths root (default: saved_models)",
    )
    p.add_argument("--name", help="model name under the root (default: the model's name)")
    p.add_argument("--version", type=int, help="version number (default: newest + 1)")
    p.add_argument(
        "--items",
        metavar="FILE",
        help="items table whose items the export adds to the catalogue, scored from their "
        "content (models that serve new items, e.g. content_knn)",
    )
    p.add_argument("--item-columns", metavar="item=C[,title=C][,genres=C][,year=C]")
    p.add_argument("--list-sep", default="|", help="separator of genres (default |)")
    p.set_defaults(handler=_export)

    p = commands.add_parser("serve", help="serve an export root over TF Serving's REST API")
    p.add_argument(
        "--export-root",
        default="saved_models",
        metavar="DIR",
        help="folder of <model>/<version>/ exports (default: saved_models)",
    )
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=8501, help="REST port (default 8501; 0: any free)")
    p.add_argument(
        "--engine",
        choices=("local", "tfserving"),
        default="local",
        help="local: tfrec's own server (default); tfserving: exec tensorflow_model_server",
    )
    p.add_argument("--grpc-port", type=int, default=8500, help="gRPC port (tfserving engine)")
    p.add_argument("--max-batch", type=int, default=1024, help="most rows per request")
    p.add_argument(
        "--versions",
        default="latest",
        metavar="POLICY",
        help="latest (default), all, or comma-separated version numbers",
    )
    p.add_argument(
        "--batching", action="store_true", help="tfserving engine: enable its request batching"
    )
    p.set_defaults(handler=_serve)

    serving = commands.add_parser("serving", help="TF Serving files").add_subparsers(
        metavar="COMMAND"
    )
    p = serving.add_parser("config", help="write models.config and batching.config")
    p.add_argument("--export-root", default="saved_models", metavar="DIR")
    p.add_argument("--out", metavar="FILE", help="default: EXPORT_ROOT/models.config")
    p.add_argument("--batching-out", metavar="FILE", help="default: EXPORT_ROOT/batching.config")
    p.add_argument(
        "--versions",
        default="latest",
        metavar="POLICY",
        help="model_version_policy: latest (default), all, or comma-separated versions",
    )
    p.add_argument(
        "--base-path-root",
        metavar="DIR",
        help="the export root as the server sees it, e.g. /models in a container "
        "(default: its absolute path here)",
    )
    p.add_argument("--max-batch-size", type=int, default=1024)
    p.add_argument("--batch-timeout-micros", type=int, default=0)
    p.add_argument(
        "--batch-threads", type=int, default=0, help="num_batch_threads (default: CPU count)"
    )
    p.set_defaults(handler=_serving_config)

    p = commands.add_parser(
        "benchmark", help="fit every model x seed; leaderboard with confidence intervals, plots"
    )
    _add_data_options(p, dataset_names())
    p.add_argument("--models", default="all", help="all (default) or comma-separated names")
    p.add_argument("--split", default="temporal", choices=[m for m in SPLIT_METHODS if m != "none"])
    p.add_argument("--seeds", type=int, default=3, help="number of seeds, 0..N-1 (default 3)")
    p.add_argument("--peers", action="store_true", help="add Surprise and implicit (.[peers])")
    p.add_argument("--tune", action="store_true", help="pick options from a grid on validation")
    p.add_argument("--set", action="append", default=[], metavar="MODEL.KEY=VALUE")
    p.add_argument("--bootstrap", type=int, default=1000, metavar="N", help="resamples (1000)")
    p.add_argument(
        "--jobs",
        type=int,
        metavar="N",
        help="fits at once (default: one per core, at most 4; 1 above 2M ratings)",
    )
    p.add_argument("--download", action="store_true", help="download a missing dataset")
    p.add_argument("--out", required=True, metavar="BENCH_DIR", help="directory to write")
    p.add_argument("--overwrite", action="store_true", help="replace a non-empty BENCH_DIR")
    p.add_argument("--quiet", action="store_true", help="print only errors")
    p.set_defaults(handler=_benchmark)

    p = commands.add_parser("models", help="the models, what each does, and which are installed")
    p.add_argument("--names", action="store_true", help="print only the names")
    p.set_defaults(handler=_models)

    data = commands.add_parser("data", help="dataset commands").add_subparsers(metavar="COMMAND")
    p = data.add_parser("info", help="counts of users, items, ratings and the date range")
    _add_data_options(p, dataset_names())
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=_data_info)
    p = data.add_parser("fetch", help="download and verify an official MovieLens archive")
    p.add_argument("name", metavar="NAME")
    p.add_argument("--data-dir", metavar="DIR")
    p.set_defaults(handler=_data_fetch)
    p = data.add_parser("list", help="list the known datasets")
    p.set_defaults(handler=_data_list)
    for command in (*commands.choices.values(), *data.choices.values(), *serving.choices.values()):
        if command.get_default("handler") is not None:
            command.add_argument(
                "--verbose",
                action="store_true",
                help="show TensorFlow's start-up and C++ log lines (hidden by default)",
            )
    return parser


def _add_data_options(p: argparse.ArgumentParser, names: list[str]) -> None:
    """--dataset, --data-dir and the options that read the user's own files."""
    p.add_argument(
        "--dataset",
        default="synthetic",
        metavar="NAME|FILE",
        help=f"one of: {', '.join(names)} (default: synthetic), or your own "
        ".csv/.tsv/.parquet interaction log",
    )
    p.add_argument("--data-dir", metavar="DIR", help="folder holding <dataset>/ as unzipped")
    g = p.add_argument_group("your own data (--dataset FILE)")
    g.add_argument(
        "--columns",
        metavar="user=C,item=C[,rating=C][,timestamp=C]",
        help="the file's columns (default: detected from common names)",
    )
    g.add_argument("--sep", help="field separator of a text file (default: detected)")
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
    g.add_argument("--list-sep", default="|", help="separator of genres and tags (default |)")
    g.add_argument("--min-user-interactions", type=int, default=1, metavar="N")
    g.add_argument("--min-item-interactions", type=int, default=1, metavar="N")


def data_options(args) -> dict:
    """The load_dataset options of ``_add_data_options``'s flags (set ones only)."""
    options = {
        "columns": args.columns,
        "sep": args.sep,
        "timestamp_unit": args.timestamp_unit,
        "rating_scale": _scale(args.rating_scale),
        "duplicates": args.duplicates,
        "items": args.items,
        "item_columns": args.item_columns,
    }
    options = {key: value for key, value in options.items() if value is not None}
    if args.list_sep != "|":
        options["list_sep"] = args.list_sep
    for key in ("min_user_interactions", "min_item_interactions"):
        if getattr(args, key) != 1:
            options[key] = getattr(args, key)
    return options


def _scale(text: str | None):
    if text is None:
        return None
    try:
        low, high = (float(x) for x in text.split(","))
    except ValueError:
        raise ConfigError(f"--rating-scale takes LO,HI, e.g. 1,5; got {text!r}") from None
    return (low, high)


def _load_data(args):
    """The dataset of --dataset and its options; says which columns were detected."""
    from tfrec.data import load_dataset

    dataset = load_dataset(
        args.dataset,
        args.data_dir,
        download=getattr(args, "download", False),
        **data_options(args),
    )
    mapping = dataset.extra.get("columns")
    if mapping and not args.columns and not getattr(args, "quiet", False):
        used = ",".join(f"{key}={column}" for key, column in mapping.items())
        print(f"columns: {used} (detected; set them with --columns)", file=sys.stderr)
    return dataset


def _train(args) -> int:
    from tfrec.api import train

    result = train(
        args.model,
        _load_data(args),
        args.split,
        args.out,
        data_dir=args.data_dir,
        seed=args.seed,
        config=parse_options(args.set),
        refit=args.refit,
        k=args.k,
        download=args.download,
        verbose=not args.quiet,
        export_root=None if args.no_export else args.export_root,
        overwrite=args.overwrite,
        strategy=args.strategy,
        resume=args.resume,
        data_options=data_options(args),
    )
    if result.run_dir is None:  # a multi-worker peer
        return 0
    if not args.quiet:
        m = result.metrics
        print(f"{m['model']} on {m['dataset']} ({m['protocol_description']})")
        for key in _METRIC_ORDER:
            if key.endswith("@10") and args.k != 10:
                key = key.replace("@10", f"@{args.k}")
            if key in m:
                value = m[key]
                print(
                    f"  {key:<16} {value:.4f}"
                    if isinstance(value, float)
                    else f"  {key:<16} {value}"
                )
        print(f"wrote {result.run_dir}/ (metrics.json, config.json, model/)")
    return 0


def parse_options(pairs: list[str]) -> dict:
    """``["epochs=5", "encoder=gru"]`` -> ``{"epochs": 5, "encoder": "gru"}``.

    Values are read as JSON, else kept as strings.
    """
    options = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set takes KEY=VALUE; got {pair!r}")
        try:
            options[key] = json.loads(text)
        except json.JSONDecodeError:
            options[key] = text
    return options


def parse_model_options(pairs: list[str]) -> dict[str, dict]:
    """``["dnn.epochs=5"]`` -> ``{"dnn": {"epochs": 5}}`` (values as in :func:`parse_options`)."""
    configs: dict[str, dict] = {}
    for pair in pairs:
        model, dot, option = pair.partition(".")
        if not dot or not model or "=" not in option:
            raise ConfigError(f"--set takes MODEL.KEY=VALUE; got {pair!r}")
        configs.setdefault(model, {}).update(parse_options([option]))
    return configs


def _load_run(run_dir: str):
    import pandas as pd

    from tfrec.api import load_model

    model = load_model(run_dir)
    items_file = Path(run_dir) / "items.csv"
    dtype = {"item_id": str} if model.items_.is_string else None
    items = (
        pd.read_csv(items_file, keep_default_na=False, dtype=dtype).set_index("item_id")
        if items_file.exists()
        else None
    )
    return model, items


def _raw_id(vocabulary, text: str, what: str, run_dir: str):
    """The raw ID that ``--user-id``/``--item-id`` names, checked against the run."""
    row = -1
    if vocabulary.is_string or text.strip().lstrip("-").isdigit():
        row = int(vocabulary.encode([text.strip()])[0])
    if row < 0:
        shown = ", ".join(map(str, vocabulary.ids[:3]))
        named = repr(text) if vocabulary.is_string else text
        raise TfrecError(
            f"unknown {what} id {named}: not in the training data of {run_dir} "
            f"({len(vocabulary):,} {what}s, e.g. {shown})"
        )
    return vocabulary.ids[row].item()


def _recommend(args) -> int:
    model, items = _load_run(args.model_dir)
    user_id = _raw_id(model.users_, args.user_id, "user", args.model_dir)
    item_ids, scores = model.recommend([user_id], k=args.k, exclude_seen=not args.include_seen)
    keep = item_ids[0] != model.items_.pad
    item_ids, scores = item_ids[0][keep], scores[0][keep]
    reasons = _explain(model, items, user_id, item_ids) if args.explain else None
    rows = []
    for rank, (item_id, score) in enumerate(zip(item_ids, scores, strict=True)):
        row = {
            "item_id": item_id.item(),
            "title": _title(items, item_id),
            "score": round(float(score), 4),
        }
        if reasons is not None:
            row["reason"] = reasons[rank]
        rows.append(row)
    _print_rows(rows, args.json, f"Top {len(rows)} for user {args.user_id} ({model.name})")
    return 0


def _similar(args) -> int:
    model, items = _load_run(args.model_dir)
    item_id = _raw_id(model.items_, args.item_id, "item", args.model_dir)
    try:
        item_ids, scores = model.similar_items([item_id], k=args.k)
    except NotSupportedError as e:
        raise TfrecError(f"{e} (this run is {model.name})") from None
    rows = [
        {"item_id": i.item(), "title": _title(items, i), "score": round(float(s), 4)}
        for i, s in zip(item_ids[0], scores[0], strict=True)
    ]
    _print_rows(rows, args.json, f"Most similar to {item_id} {_title(items, item_id)}")
    return 0


def _export(args) -> int:
    from tfrec.api import load_model

    model = load_model(args.model_dir)
    added = ""
    if args.items:
        from tfrec.data.interaction_log import read_items

        vocab, items, _ = read_items(args.items, args.item_columns, args.list_sep)
        raw = items["item_id"].to_numpy() if vocab is None else vocab.decode(items["item_id"])
        n_before = len(model.item_ids)
        model = model.with_new_items(raw, items)
        added = f", {len(model.item_ids) - n_before:,} new items from {args.items}"
    elif args.item_columns:
        raise ConfigError("--item-columns needs --items, the items table to read")
    path = model.export(args.export_root, name=args.name, version=args.version)
    print(f"exported {path} (signatures: recommend, predict, serving_default{added})")
    return 0


def _serve(args) -> int:
    if args.engine == "tfserving":
        from tfrec.serving.config import Batching
        from tfrec.serving.model_server import exec_model_server

        if args.host != "127.0.0.1":
            print("note: tensorflow_model_server listens on all interfaces; --host is ignored")
        exec_model_server(  # replaces this process
            args.export_root,
            port=args.grpc_port,
            rest_port=args.port,
            versions=args.versions,
            batching=Batching(max_batch_size=args.max_batch) if args.batching else None,
        )
    else:
        from tfrec.serving.server import LocalServer

        with LocalServer(
            args.export_root,
            args.host,
            args.port,
            max_batch=args.max_batch,
            versions=args.versions,
        ) as server:
            print(server.describe(), flush=True)
            server.wait()
    return 0


def _serving_config(args) -> int:
    from tfrec.serving.config import Batching, write_configs
    from tfrec.serving.layout import model_versions

    batching = Batching(
        max_batch_size=args.max_batch_size,
        batch_timeout_micros=args.batch_timeout_micros,
        num_batch_threads=args.batch_threads,
    )
    out, batching_out = write_configs(
        args.export_root,
        args.out,
        args.batching_out,
        versions=args.versions,
        base_path_root=args.base_path_root,
        batching=batching,
    )
    names = ", ".join(model_versions(args.export_root))
    print(f"wrote {out} ({names}; versions: {args.versions}) and {batching_out}")
    return 0


def _benchmark(args) -> int:
    from tfrec.benchmark import run_benchmark

    configs = parse_model_options(args.set)
    run_benchmark(
        _load_data(args),
        args.out,
        data_dir=args.data_dir,
        models=args.models,
        split=args.split,
        seeds=args.seeds,
        peers=args.peers,
        tune=args.tune,
        configs=configs,
        n_boot=args.bootstrap,
        jobs=args.jobs,
        quiet=args.quiet,
        overwrite=args.overwrite,
        download=args.download,
        data_options=data_options(args),
    )
    return 0


def _explain(model, items, user_id, item_ids) -> list[str]:
    """Seed-style reasons: a highly rated similar item, else the item's rating stats."""
    import numpy as np

    rated, ratings = model.rated_items(user_id)
    liked = rated[ratings >= max(4.0, float(np.quantile(ratings, 0.75)))] if len(rated) else rated
    neighbours = None
    if len(liked):
        try:
            neighbours, _ = model.similar_items(item_ids, k=min(100, len(model.item_ids) - 1))
        except NotSupportedError:
            neighbours = None
    reasons = []
    for row, item_id in enumerate(item_ids):
        because = None
        if neighbours is not None:
            match = neighbours[row][np.isin(neighbours[row], liked)]
            if len(match):
                because = match[0]
        if because is not None:
            given = float(ratings[rated == because][0])
            reasons.append(f"because you rated {_title(items, because)} highly ({given:g})")
        elif items is not None and item_id in items.index:
            info = items.loc[item_id]
            reasons.append(f"rated {int(info.n_ratings)} times, average {info.mean_rating:.2f}")
        else:
            reasons.append("popular in training")
    return reasons


def _title(items, item_id) -> str:
    if items is not None and item_id in items.index:
        return str(items.loc[item_id, "title"])
    return f"item {item_id}"


def _print_rows(rows: list[dict], as_json: bool, heading: str) -> None:
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    print(heading)
    for rank, row in enumerate(rows, 1):
        line = f"{rank:>3}. {row['title']}  [{row['item_id']}]  score {row['score']:.4f}"
        if "reason" in row:
            line += f"  - {row['reason']}"
        print(line)


def _models(args) -> int:
    from tfrec.models import is_available, model_class, model_names

    if args.names:
        print("\n".join(model_names()))
        return 0
    print(f"{'model':<18} {'task':<15} {'new items':<10} {'similar':<8} strategies")
    for name in model_names():
        if not is_available(name):
            print(f'{name:<18} not installed: pip install "tfrec[peers]"')
            continue
        cls = model_class(name)
        task = "ratings" if cls.predicts_ratings else "top-N"
        task += ", top-N" if cls.fits_implicit else ""
        strategies = ", ".join(cls.strategies) or "-"
        print(
            f"{name:<18} {task:<15} {'yes' if cls.serves_new_items else '-':<10} "
            f"{'yes' if cls.similar_items_supported else '-':<8} {strategies}"
        )
    return 0


def _data_info(args) -> int:
    info = _load_data(args).info()
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        for key, value in info.items():
            print(f"{key:<22} {value:.6f}" if isinstance(value, float) else f"{key:<22} {value}")
    return 0


def _data_fetch(args) -> int:
    from tfrec.data import fetch

    path = fetch(args.name, args.data_dir)
    print(f"{args.name} is ready in {path}")
    return 0


def _data_list(args) -> int:
    from tfrec.data.registry import DATASETS
    from tfrec.data.synthetic import SIZES

    for name, (users, items, ratings) in SIZES.items():
        print(f"{name:<16} generated: ~{ratings:,} ratings, {users:,} users, {items:,} items")
    for spec in DATASETS.values():
        print(f"{spec.name:<16} {spec.description} ({spec.size_mb:g} MB)")
    return 0


# Commands that (may) import TensorFlow: it is imported up front, without its start-up lines.
_TENSORFLOW_COMMANDS = (_train, _recommend, _similar, _export, _serve, _models)

if __name__ == "__main__":
    sys.exit(main())
