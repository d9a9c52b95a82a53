"""Search spaces: the options ``--tune`` may change in a model's config.

Each config declares them beside its defaults (``tuning_grid``: lists of
choices; ``tuning_ranges``: :class:`Range` intervals) and
``Config.search_space()`` merges them. This module turns a space into
Optuna distributions, and describes it for ``metrics.json``. It imports
neither TensorFlow nor Optuna at import time.
"""

from __future__ import annotations

import dataclasses
import math

from tfrec.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class Range:
    """An interval of one option: integers when ``low`` and ``high`` are
    ints, else floats; log-uniform with ``log=True`` (for scales such as an
    L2 weight, where 1e-4 and 1e-3 differ as much as 1e-2 and 1e-1).

    Attributes:
        low: Smallest value, included.
        high: Largest value, included.
        log: Sample on a log scale (``low`` must be positive).
    """

    low: int | float
    high: int | float
    log: bool = False

    def __post_init__(self):
        if not self.low < self.high:
            raise ConfigError(f"a Range needs low < high; got {self.low} and {self.high}")
        if self.log and self.low <= 0:
            raise ConfigError(f"a log-scale Range needs low > 0; got {self.low}")

    @property
    def integer(self) -> bool:
        return isinstance(self.low, int) and isinstance(self.high, int)

    def __contains__(self, value) -> bool:
        return isinstance(value, int | float) and self.low <= value <= self.high

    def describe(self) -> str:
        kind = "int" if self.integer else "float"
        return f"{kind}{' log' if self.log else ''} [{self.low}, {self.high}]"


def searched(config_class, fixed: dict | None = None) -> dict:
    """The config's search space without the options set in ``fixed``
    (options the user chose are not searched)."""
    return {k: v for k, v in config_class.search_space().items() if k not in (fixed or {})}


def fixed_by_data(config_class, train) -> dict:
    """Options that the training frame leaves nothing to choose for: without
    a ``weight`` column (no strengths) ``weighting`` keeps its default."""
    fields = config_class.__dataclass_fields__
    if "weight" in train.columns or "weighting" not in fields:
        return {}
    return {"weighting": fields["weighting"].default}


def distributions(space: dict) -> dict:
    """Optuna distributions of a space (Optuna is imported here, on use)."""
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    out = {}
    for name, values in space.items():
        if isinstance(values, Range):
            kind = IntDistribution if values.integer else FloatDistribution
            out[name] = kind(values.low, values.high, log=values.log)
        else:
            out[name] = CategoricalDistribution(list(values))
    return out


def size(space: dict) -> float:
    """Number of distinct settings: the product of the choices, ``inf`` with
    a float range, the integers in an int range."""
    total = 1.0
    for values in space.values():
        if isinstance(values, Range):
            total *= values.high - values.low + 1 if values.integer else math.inf
        else:
            total *= len(values)
    return total


def defaults(config_class, space: dict, fixed: dict | None = None) -> dict:
    """The config's value of each searched option (with ``fixed`` applied),
    where the space holds it: the first trial of every search."""
    config = config_class.from_dict(dict(fixed or {})).to_dict()
    return {name: config[name] for name, values in space.items() if config[name] in values}


def describe(space: dict) -> dict:
    """A JSON-ready description: choices as lists, ranges as text."""
    return {k: v.describe() if isinstance(v, Range) else list(v) for k, v in space.items()}
