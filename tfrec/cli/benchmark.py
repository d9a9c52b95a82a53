"""``tfrec benchmark``: every model x seed, a leaderboard with confidence intervals, plots."""

from __future__ import annotations

from tfrec.cli._common import (
    HISTORY_HELP,
    add_data_options,
    data_options,
    finish,
    load_data,
    parse_model_options,
)


def add_parser(commands) -> None:
    """Adds ``benchmark`` to the ``tfrec`` sub-commands."""
    from tfrec.splits import SPLIT_METHODS

    p = commands.add_parser(
        "benchmark", help="fit every model x seed; leaderboard with confidence intervals, plots"
    )
    add_data_options(p)
    p.add_argument("--models", default="all", help="all (default) or comma-separated names")
    p.add_argument("--split", default="temporal", choices=[m for m in SPLIT_METHODS if m != "none"])
    p.add_argument("--history", type=int, metavar="H", help=HISTORY_HELP)
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
    finish(p, run)


def run(args) -> int:
    """Runs the benchmark (its progress and leaderboard are printed as it goes)."""
    from tfrec.benchmark import run_benchmark

    run_benchmark(
        load_data(args),
        args.out,
        data_dir=args.data_dir,
        models=args.models,
        split=args.split,
        history=args.history,
        seeds=args.seeds,
        peers=args.peers,
        tune=args.tune,
        configs=parse_model_options(args.set),
        n_boot=args.bootstrap,
        jobs=args.jobs,
        quiet=args.quiet,
        overwrite=args.overwrite,
        download=args.download,
        data_options=data_options(args),
    )
    return 0
