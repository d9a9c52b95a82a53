"""``tfrec export``: a saved run as a TF Serving SavedModel."""

from __future__ import annotations

import json
from pathlib import Path

from tfrec.cli._common import finish
from tfrec.errors import ConfigError


def add_parser(commands) -> None:
    """Adds ``export`` to the ``tfrec`` sub-commands."""
    p = commands.add_parser("export", help="export a saved run as a TF Serving SavedModel")
    p.add_argument("--model-dir", required=True, metavar="RUN_DIR")
    p.add_argument(
        "--export-root",
        default="saved_models",
        metavar="DIR",
        help="TF Serving model base paths root (default: saved_models)",
    )
    p.add_argument(
        "--name",
        help="model name under the root (default: as tfrec train names it: the model's name, "
        "or <dataset>-<model> for a run on your own file)",
    )
    p.add_argument("--version", type=int, help="version number (default: newest + 1)")
    p.add_argument(
        "--items",
        metavar="FILE",
        help="items table whose items the export adds to the catalogue, scored from their "
        "content (models that serve new items, e.g. content_knn)",
    )
    p.add_argument("--item-columns", metavar="item=C[,title=C][,genres=C][,year=C]")
    p.add_argument("--list-sep", default="|", help="separator of genres (default |)")
    finish(p, run, tensorflow=True)


def run(args) -> int:
    """Exports the run's model, with the items of ``--items`` added when given."""
    from tfrec.api import check_export_name, load_model

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
    name, metadata = args.name, None
    run_file = Path(args.model_dir) / "config.json"
    if run_file.exists():  # a run directory: named, and its dataset recorded, as train does
        run = json.loads(run_file.read_text())
        dataset, source = run["dataset"], run.get("source") or ""
        name = check_export_name(args.export_root, name, model.name, dataset, source)
        metadata = {"dataset": dataset}
    path = model.export(args.export_root, name=name, version=args.version, metadata=metadata)
    print(f"exported {path} (signatures: recommend, predict, serving_default{added})")
    return 0
