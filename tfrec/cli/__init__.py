"""The ``tfrec`` command line: a thin layer over :mod:`tfrec.api`.

    tfrec train --model svd --dataset synthetic --out runs/svd
    tfrec cascade --retrieval runs/two_tower --ranking runs/dcn --out runs/cascade
    tfrec recommend --model-dir runs/svd --user-id 1 --explain
    tfrec similar --model-dir runs/svd --item-id 1
    tfrec export --model-dir runs/svd --export-root saved_models
    tfrec benchmark --dataset synthetic --models all --out bench
    tfrec serving config --export-root saved_models
    tfrec serve --export-root saved_models --port 8501
    tfrec data info --dataset ml-latest-small
    tfrec data fetch ml-1m

One module per command (``train.py``, ``recommend.py``, ...), each with an
``add_parser(commands)`` and its handlers; ``_common.py`` holds the data
options and the printing they share. User errors print one line,
``tfrec: error: ...``, and exit with status 2.
"""

from __future__ import annotations

import argparse
import sys

from tfrec import tf_logging
from tfrec.cli import (
    benchmark,
    cascade,
    data,
    export,
    models,
    recommend,
    serve,
    similar,
    train,
)
from tfrec.cli._common import data_options, parse_model_options, parse_options
from tfrec.errors import TfrecError

_COMMANDS = (train, cascade, recommend, similar, export, serve, benchmark, models, data)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``tfrec`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "handler"):
        parser.print_help()
        return 2
    if args.verbose:
        tf_logging.show_startup_lines()
    else:
        tf_logging.hide_startup_lines()
    if args.tensorflow:
        tf_logging.import_tensorflow()
    try:
        return args.handler(args) or 0
    except TfrecError as e:
        print(f"tfrec: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("tfrec: interrupted", file=sys.stderr)
        return 130


def build_parser() -> argparse.ArgumentParser:
    """The ``tfrec`` parser, every command's options included."""
    from tfrec.version import __version__

    parser = argparse.ArgumentParser(prog="tfrec", description=__doc__.split("\n")[0])
    parser.add_argument("--version", action="version", version=f"tfrec {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    for command in _COMMANDS:
        command.add_parser(commands)
    return parser


__all__ = ["main", "build_parser", "data_options", "parse_options", "parse_model_options"]
