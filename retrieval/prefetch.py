"""``prefetched``: run an iterator in a background thread, a few items ahead of its consumer.

Ingest uses it to read, decode, rasterise, OCR and transcribe the next batches while the current
one goes through the encoders: Pillow, cairo, ONNX Runtime and CTranslate2 release the GIL in
their heavy parts, so on two cores both stay busy. Items come out in order; an exception raised
by the iterator is raised in the consumer at the point where that item would have come; when the
consumer stops early (an error, ``break``), the producer stops after its current item.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator
from typing import TypeVar

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
