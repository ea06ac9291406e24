"""Read-ahead for ingest: ``prefetched`` runs an iterator in a background thread, a few items
ahead of its consumer; ``ordered_map`` runs a function over inputs on several threads, a bounded
number ahead, results in order.

Ingest uses it to read, decode, rasterise, OCR and transcribe the next batches while the current
one goes through the encoders: Pillow, cairo, ONNX Runtime and CTranslate2 release the GIL in
their heavy parts, so on two cores both stay busy. Items come out in order; an exception raised
by the iterator is raised in the consumer at the point where that item would have come; when the
consumer stops early (an error, ``break``), the producer stops after its current item.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

A = TypeVar("A")
T = TypeVar("T")
_DONE = object()


class _Failure:
    def __init__(self, error: BaseException) -> None:
        self.error = error


def prefetched(items: Iterable[T], depth: int = 2, name: str = "prefetch") -> Iterator[T]:
    """Yield ``items`` in order, computed by a background thread at most ``depth`` ahead;
    ``depth`` 0 runs them in the caller's thread (no thread at all)."""
    if depth < 0:
        raise ValueError(f"depth must be 0 or more, not {depth}")
    if depth == 0:
        yield from items
        return
    ready: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(entry: object) -> bool:
        while not stop.is_set():
            try:
                ready.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
        except BaseException as exc:  # handed to the consumer, raised there
            put(_Failure(exc))
            return
        put(_DONE)

    worker = threading.Thread(target=produce, name=name, daemon=True)
    worker.start()
    try:
        while True:
            entry = ready.get()
            if entry is _DONE:
                return
            if isinstance(entry, _Failure):
                raise entry.error
            yield entry  # type: ignore[misc]
    finally:
        stop.set()
        worker.join()


def ordered_map(
    work: Callable[[A], T], inputs: Iterable[A], workers: int, ahead: int, name: str = "worker"
) -> Iterator[T]:
    """``work`` over ``inputs`` on ``workers`` threads, at most ``ahead`` inputs in flight,
    results yielded in the inputs' order. Unlike ``prefetched`` with a pool inside each item,
    no worker waits for the slowest of a batch: a new input starts as soon as one finishes.
    An exception from ``work`` is raised where its result would come; when the consumer stops
    early, inputs not yet started are dropped and the running ones are waited for."""
    if workers < 1 or ahead < 1:
        raise ValueError(f"workers and ahead must be at least 1, not {workers} and {ahead}")
    pending: deque[Future[T]] = deque()
    source = iter(inputs)
    with ThreadPoolExecutor(workers, thread_name_prefix=name) as pool:
        try:
            for item in source:
                pending.append(pool.submit(work, item))
                if len(pending) >= ahead:
                    yield pending.popleft().result()
            while pending:
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()
