"""``tfrec cascade``: two trained runs as one retrieval + ranking model."""

from __future__ import annotations

from tfrec.cli._common import finish, parse_options
from tfrec.cli.train import add_evaluation_options, add_output_options, print_metrics


def add_parser(commands) -> None:
    """Adds ``cascade`` to the ``tfrec`` sub-commands."""
    p = commands.add_parser(
        "cascade",
        help="chain a retrieval run and a ranking run into one model: fit the combiner on "
        "validation, evaluate, save the run and export one SavedModel",
    )
    p.add_argument("--retrieval", required=True, metavar="RUN", help="run of the first stage")
    p.add_argument("--ranking", required=True, metavar="RUN", help="run of the second stage")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="cascade option, e.g. --set candidates=100, --set combiner=weight (repeatable)",
    )
    add_evaluation_options(p)
    add_output_options(p)
    finish(p, run, tensorflow=True)


def run(args) -> int:
    """Builds the cascade as ``args`` say and prints its metrics."""
    from tfrec.api import cascade

    result = cascade(
        args.retrieval,
        args.ranking,
        args.out,
        config=parse_options(args.set),
        k=args.k,
        verbose=not args.quiet,
        export_root=None if args.no_export else args.export_root,
        export_name=args.export_name,
        overwrite=args.overwrite,
        eval_users=args.eval_users,
    )
    if not args.quiet:
        print_metrics(result.metrics, args.k)
        print(f"wrote {result.run_dir}/ (metrics.json, config.json, model/)")
    return 0
