"""Which models a benchmark runs, and how each is built for one seed.

Names are registered models (``tfrec models``); ``all`` means tfrec's own,
and ``peers=True`` adds the installed peers (:mod:`tfrec.models.peers`).
"""

from __future__ import annotations

from tfrec.errors import ConfigError
from tfrec.models import available_peers, model_class, model_names
from tfrec.models.base import Recommender


def resolve_models(models: str | list[str], use_peers: bool) -> tuple[list[str], list[str]]:
    """The model names to run, and notes for the user.

    Args:
        models: ``"all"`` (every registered tfrec model), a comma-separated
            string or a list of names; peer names may be listed explicitly.
        use_peers: Add every installed peer adapter.

    Returns:
        (names, notes); a note says which peers are missing and how to add them.
    """
    if isinstance(models, str):
        models = [m.strip() for m in models.split(",") if m.strip()]
    names: list[str] = []
    for name in models:
        expanded = model_names(peers=False) if name == "all" else [name]
        names += [n for n in expanded if n not in names]
    if not names:
        raise ConfigError("models must name at least one model (or all); got none")
    unknown = [n for n in names if n not in model_names()]
    if unknown:
        raise ConfigError(
            f"unknown model(s) {', '.join(unknown)}; accepted: all, {', '.join(model_names())}"
        )
    for name in names:
        model_class(name)  # a clear error if a peer's library is missing
    if not use_peers:
        return names, []
    installed, note = available_peers()
    return names + [n for n in installed if n not in names], [note] if note else []


def is_seeded(name: str) -> bool:
    """Whether the model's fit depends on a seed (else one fit serves every seed)."""
    fields = model_class(name).Config.__dataclass_fields__
    if "seed" in fields:
        return True
    if "components" in fields:  # blend: seeded through its components
        return any(is_seeded(c) for c in fields["components"].default)
    return False


def seeded_config(name: str, config: dict | None, seed: int) -> dict:
    """``config`` with the model's seed set (a blend's components' seeds)."""
    options = dict(config or {})
    fields = model_class(name).Config.__dataclass_fields__
    if "seed" in fields:
        options["seed"] = seed
    elif "components" in fields and "component_options" in fields:
        components = options.get("components", fields["components"].default)
        per_component = {k: dict(v) for k, v in options.get("component_options", {}).items()}
        for component in components:
            if "seed" in model_class(component).Config.__dataclass_fields__:
                per_component.setdefault(component, {})["seed"] = seed
        options["component_options"] = per_component
    return options


def build_model(name: str, config: dict | None = None, seed: int = 0) -> Recommender:
    """A new, unfitted model with ``config`` and the given seed."""
    cls = model_class(name)
    return cls(cls.Config.from_dict(seeded_config(name, config, seed)))
