"""``tfrec models``: every model, what it does, and which are installed."""

from __future__ import annotations

from tfrec.cli._common import finish


def add_parser(commands) -> None:
    """Adds ``models`` to the ``tfrec`` sub-commands."""
    p = commands.add_parser("models", help="the models, what each does, and which are installed")
    p.add_argument("--names", action="store_true", help="print only the names")
    finish(p, run, tensorflow=True)


def run(args) -> int:
    """Prints one line per model: its task, new items, new users, the features it reads,
    similar items, strategies."""
    from tfrec.models import is_available, model_class, model_names

    if args.names:
        print("\n".join(model_names()))
        return 0
    print(
        f"{'model':<18} {'task':<15} {'new items':<10} {'new users':<10} "
        f"{'features':<22} {'similar':<8} strategies"
    )
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
            f"{'yes' if cls.serves_new_users else '-':<10} "
            f"{', '.join(cls.reads_features) or '-':<22} "
            f"{'yes' if cls.similar_items_supported else '-':<8} {strategies}"
        )
    return 0
