"""What :func:`tfrec.train` does with ``tune=True`` or ``model="auto"``.

The search fits on train and reads validation only; ``train`` then scores
the returned model on test once, writes the run and exports it.
"""

from __future__ import annotations

from tfrec.errors import ConfigError
from tfrec.models import Recommender
from tfrec.tuning.budget import AUTO_BUDGET, TUNE_BUDGET, parse_budget


def budget_seconds(auto: bool, tune: bool, budget, *, resume: bool, strategy: str) -> float | None:
    """The search's budget in seconds, or None when ``train`` does not search.

    Raises:
        ConfigError: For a bad budget, or a search with ``resume`` or a
            multi-process strategy.
    """
    if not (auto or tune):
        if budget is not None:
            raise ConfigError("--tune-budget applies to --tune and --model auto; add one of them")
        return None
    what = "--model auto" if auto else "--tune"
    if resume:
        raise ConfigError(f"{what} cannot resume a run; start it again without --resume")
    if strategy not in ("default", "mirrored"):
        raise ConfigError(
            f"{what} runs its trials in one process; got strategy {strategy!r} "
            "(use default or mirrored)"
        )
    return parse_budget(budget if budget is not None else AUTO_BUDGET if auto else TUNE_BUDGET)


def search(
    model: str | Recommender,
    parts,
    budget: float,
    config: dict | None,
    *,
    verbose: bool = True,
    **search_options,
) -> tuple[Recommender, dict]:
    """Runs the search and returns the chosen fitted model and what
    ``metrics.json`` records of it (``tuning``, and ``auto`` for auto).

    Args:
        model: ``"auto"``, or the unfitted model whose options are searched
            (options it sets away from their defaults, and those in
            ``config``, stay fixed).
        parts: The split; it needs a validation part.
        budget: Seconds.
        config: The options the user gave (refused for auto).
        verbose: Print a line per trial (on stderr).
        **search_options: ``seed``, ``k``, ``metric``, ``options`` (see
            :class:`~tfrec.tuning.search.Search`).
    """
    from tfrec.tuning import auto as auto_
    from tfrec.tuning import search as search_

    if len(parts.validation) == 0:
        raise ConfigError(
            f"tuning scores settings on validation, and split {parts.method!r} has none; "
            "use a split with validation (temporal, random, leave-one-out)"
        )
    if not verbose:
        search_options["say"] = _silent
    if isinstance(model, str):  # "auto"
        if config:
            raise ConfigError(
                "--model auto chooses every candidate's options; --set applies to one "
                f"model (got {', '.join(config)}): name the model, e.g. --model ease --tune"
            )
        selection = auto_.select(parts, budget_seconds=budget, **search_options)
        return selection.model, {
            "auto": selection.to_dict(),
            "tuning": selection.winner.to_dict(),
        }
    defaults = type(model.config)().to_dict()
    fixed = {k: v for k, v in model.config.to_dict().items() if v != defaults[k]}
    done = search_.tune(
        model.name,
        parts,
        budget_seconds=budget,
        config={**fixed, **(config or {})},
        **search_options,
    )
    return done.best_model, {"tuning": done.to_dict(budget)}


def _silent(line: str) -> None:
    """Drops a progress line (``verbose=False``)."""
