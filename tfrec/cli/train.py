"""``tfrec train``: fit a model, evaluate it on test, save the run and export it."""

from __future__ import annotations

import argparse

from tfrec.cli._common import (
    HISTORY_HELP,
    add_data_options,
    data_options,
    finish,
    load_data,
    parse_options,
)

METRIC_ORDER = (
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


def add_parser(commands) -> None:
    """Adds ``train`` to the ``tfrec`` sub-commands."""
    p = commands.add_parser("train", help="fit a model, evaluate it on test, save the run")
    _add_model_options(p)
    add_data_options(p)
    _add_protocol_options(p)
    add_output_options(p)
    finish(p, run, tensorflow=True)


def _add_model_options(p: argparse.ArgumentParser) -> None:
    """Which model, with which options."""
    from tfrec.models import model_names

    p.add_argument(
        "--model",
        required=True,
        metavar="NAME",
        help=f"one of: {', '.join(model_names())}; or auto: every model that fits the data, "
        "defaults first, tuned within --tune-budget (default 15m), the best on validation kept",
    )
    p.add_argument(
        "--tune",
        action="store_true",
        help="search the model's options on validation (Optuna TPE) within --tune-budget; "
        "the best setting is kept and scored once on test",
    )
    p.add_argument(
        "--tune-budget",
        metavar="DURATION",
        help="time for --tune (default 10m) or --model auto (default 15m), e.g. 90s, 10m, 1h",
    )
    p.add_argument(
        "--tune-metric",
        metavar="METRIC",
        help="validation metric of the search (default ndcg@K; rmse for a rating model on "
        "rating data)",
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="model option, e.g. --set k=64 (repeatable)",
    )


def _add_protocol_options(p: argparse.ArgumentParser) -> None:
    """How the data is split, fitted and scored."""
    from tfrec.distribute import STRATEGIES
    from tfrec.splits import SPLIT_METHODS

    p.add_argument(
        "--split",
        choices=SPLIT_METHODS,
        help="temporal (default), leave-one-out, random, global-time, cold-items, "
        "cold-users, or none (fit on all ratings, no evaluation); a prepared dataset "
        "keeps the split it was prepared with",
    )
    p.add_argument("--history", type=int, metavar="H", help=HISTORY_HELP)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--refit", action="store_true", help="fit on train+validation before test")
    add_evaluation_options(p)
    p.add_argument("--download", action="store_true", help="download a missing dataset")
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


def add_evaluation_options(p: argparse.ArgumentParser) -> None:
    """How test is scored (``train``, ``cascade``)."""
    p.add_argument(
        "--eval-users",
        type=int,
        metavar="N",
        help="evaluate a seeded sample of N test users (default: every one)",
    )
    p.add_argument("-k", type=int, default=10, help="cut-off of the top-N metrics (default 10)")


def add_output_options(p: argparse.ArgumentParser) -> None:
    """Where the run and its export go, and what is printed (``train``, ``cascade``)."""
    p.add_argument(
        "--export-root",
        default="saved_models",
        metavar="DIR",
        help="export a SavedModel to DIR/NAME/<version>/ (default: saved_models)",
    )
    p.add_argument(
        "--export-name",
        metavar="NAME",
        help="the served model's name (default: the model's name on a registered dataset, "
        "<dataset>-<model> on your own file, e.g. hours-ease)",
    )
    p.add_argument("--no-export", action="store_true", help="do not export a SavedModel")
    p.add_argument("--out", required=True, metavar="RUN_DIR", help="run directory to write")
    p.add_argument("--overwrite", action="store_true", help="replace an existing RUN_DIR")
    p.add_argument("--quiet", action="store_true", help="print only errors")


def run(args) -> int:
    """Trains as ``args`` say and prints the run's metrics."""
    from tfrec.api import train
    from tfrec.data.prepare.manifest import is_prepared

    result = train(
        args.model,
        args.dataset if is_prepared(args.dataset) else load_data(args),
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
        tune=args.tune,
        tune_budget=args.tune_budget,
        tune_metric=args.tune_metric,
        export_name=args.export_name,
        history=args.history,
        eval_users=args.eval_users,
    )
    if result.run_dir is None:  # a multi-worker peer
        return 0
    if not args.quiet:
        print_metrics(result.metrics, args.k)
        _print_search(result.metrics)
        print(f"wrote {result.run_dir}/ (metrics.json, config.json, model/)")
    return 0


def _print_search(m: dict) -> None:
    """What the search chose, and why (``--tune``, ``--model auto``)."""
    if "auto" in m:
        print(f"  {m['auto']['reason']}")
    if "tuning" in m:
        t = m["tuning"]
        print(
            f"  tuned: {t['chosen'] or 'the defaults'} ({t['metric']} {t['best_validation']:.4f}, "
            f"trial {t['best_trial']} of {t['n_trials']}, {t['seconds']:.0f} s)"
        )


def print_metrics(m: dict, k: int) -> None:
    """The run's metrics, one per line, in ``METRIC_ORDER``."""
    print(f"{m['model']} on {m['dataset']} ({m['protocol_description']})")
    for key in METRIC_ORDER:
        if key.endswith("@10") and k != 10:
            key = key.replace("@10", f"@{k}")
        if key in m:
            value = f"{m[key]:.4f}" if isinstance(m[key], float) else m[key]
            print(f"  {key:<16} {value}")
