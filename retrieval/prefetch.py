"""Read-ahead for ingest: ``ordered_map`` runs a function over inputs on several threads, a
bounded number ahead of its consumer, results in order.

Ingest uses it to read, decode, rasterise, OCR and transcribe the next chunks while the current
one goes through the encoders: Pillow, cairo, ONNX Runtime and CTranslate2 release the GIL in
their heavy parts, so on two cores both stay busy.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

A = TypeVar("A")
T = TypeVar("T")


def ordered_map(
    work: Callable[[A], T], inputs: Iterable[A], workers: int, ahead: int, name: str = "worker"
) -> Iterator[T]:
    """``work`` over ``inputs`` on ``workers`` threads, at most ``ahead`` inputs in flight,
    results yielded in the inputs' order; ``ahead`` 0 runs each in the caller's thread when
    its result is asked for (no thread at all). No worker waits for the slowest of a batch: a
    new input starts as soon as one finishes. Inputs are drawn in the caller's thread. An
    exception from ``work`` is raised where its result would come; when the consumer stops
    early, inputs not yet started are dropped and the running ones are waited for."""
    if workers < 1 or ahead < 0:
        raise ValueError(f"workers must be at least 1 and ahead 0 or more, not {workers}, {ahead}")
    if ahead == 0:
        yield from map(work, inputs)
        return
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
