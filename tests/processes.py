"""Two processes doing the same thing at the same moment, as two app replicas do."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable


def run_at_once(target: Callable, url: str, writers: tuple[int, ...] = (1, 2)) -> None:
    """Start ``target(url, writer, barrier)`` in one spawned process per writer, released
    together by the barrier, and check that every one of them finished cleanly."""
    context = multiprocessing.get_context("spawn")
    start = context.Barrier(len(writers))
    processes = [context.Process(target=target, args=(url, w, start)) for w in writers]
    for process in processes:
        process.start()
    for process in processes:
        process.join(timeout=120)
    assert [p.exitcode for p in processes] == [0] * len(writers)
