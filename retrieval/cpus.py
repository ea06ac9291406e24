"""How many threads a model may run: the CPUs this process may use, as every model here should
count them."""

from __future__ import annotations

import os


def usable_cpus() -> int:
    """``$OMP_NUM_THREADS`` when set (a Ray worker's share of CPUs, as PyTorch reads it), else
    the cores this process may run on."""
    given = os.environ.get("OMP_NUM_THREADS", "")
    if given.isdigit() and int(given) > 0:
        return int(given)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def default_threads(most: int = 4) -> int:
    """Threads for one model: the usable CPUs, at most ``most`` (more barely speeds up the
    small models here)."""
    return max(1, min(most, usable_cpus()))
