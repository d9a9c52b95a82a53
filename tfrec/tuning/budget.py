"""``--tune-budget``: a duration such as ``90s``, ``10m``, ``1h`` or ``1.5h``."""

from __future__ import annotations

import re

from tfrec.errors import ConfigError

_UNITS = {"s": 1, "m": 60, "h": 3600}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smh]?)")

TUNE_BUDGET = "10m"  # --tune without --tune-budget
AUTO_BUDGET = "15m"  # --model auto without --tune-budget


def parse_budget(text: str | float | int) -> float:
    """Seconds of a duration: ``"90s"``, ``"10m"``, ``"1h"``; a bare number is seconds.

    Raises:
        ConfigError: For text that is not a positive duration.
    """
    if isinstance(text, int | float) and not isinstance(text, bool):
        seconds = float(text)
    else:
        match = _DURATION.fullmatch(str(text).strip().lower())
        seconds = float(match[1]) * _UNITS[match[2] or "s"] if match else 0.0
    if not seconds > 0:
        raise ConfigError(f"--tune-budget takes a duration such as 90s, 10m or 1h; got {text!r}")
    return seconds


def clock(seconds: float) -> str:
    """``"7m05s"``, ``"42s"``, ``"1h02m"``: a duration for progress lines."""
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
