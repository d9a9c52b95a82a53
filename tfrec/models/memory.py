"""Refusing a fit whose whole-matrix arrays would not fit in memory.

The models that hold a matrix of the whole training set (ease's dense item
matrix, svd's sparse rating matrix and factors, itemknn's sparse item
vectors and neighbour lists) estimate its size from the counts before they
build it, and stop with one line naming the size, the limit and the fix,
instead of swapping or being killed halfway.
"""

from __future__ import annotations

import os

from tfrec.errors import MemoryLimitError

GB = 1e9


def memory_limit_gb(max_memory_gb: float | None) -> tuple[float | None, str]:
    """``(limit in GB, where it comes from)``: ``max_memory_gb`` when given,
    else half of this machine's RAM (None where the OS does not say)."""
    if max_memory_gb is not None:
        return float(max_memory_gb), "max_memory_gb"
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2 / GB, (
            "half of this machine's RAM"
        )
    except (AttributeError, ValueError, OSError):  # no sysconf: no limit
        return None, "no limit"


def check_memory(
    model: str, needed_bytes: float, what: str, fix: str, max_memory_gb: float | None
) -> None:
    """Raises MemoryLimitError (a ConfigError) when ``needed_bytes`` exceed the limit
    (:func:`memory_limit_gb`).

    Args:
        model: The model's name, which starts the message.
        needed_bytes: The estimated size.
        what: What takes that size ("its dense 10 x 10 item matrix").
        fix: How to need less ("keep fewer items with ...").
        max_memory_gb: The model's ``max_memory_gb`` option.
    """
    limit, source = memory_limit_gb(max_memory_gb)
    needed = needed_bytes / GB
    if limit is not None and needed > limit:
        raise MemoryLimitError(
            f"{model} needs about {needed:.1f} GB for {what}, more than {limit:.1f} GB "
            f"({source}); {fix}, or raise max_memory_gb"
        )
