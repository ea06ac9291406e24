"""Ingest on a Ray cluster: the local pipeline (retrieval.ingest.Ingestor) run by a pool of actors.

The driver discovers the records (retrieval.discovery), orders them as the local ingest does
(captioned first) and cuts them into batches; each actor opens the library once (its encoder,
OCR reader and index, normally on a Chroma server) and runs the Ingestor on one batch at a time,
so every batch is written to the index as a unit as soon as it is encoded. Ids are content
hashes and items already in the index are skipped, so running the same ingest again resumes: a
worker that dies loses only the batch it was working on, which the run reports as unfinished.

The workers read the media files by the paths the driver found, so the files must be at the same
paths on every node (one machine, or a shared file system). Ray is an optional extra
(``pip install "crossmedia[ray]"``) and is imported only here, when it is used.
"""

from __future__ import annotations

import contextlib
import logging
import socket
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from retrieval.discovery import AudioMode, SourceRecord, discover
from retrieval.encoders.base import batched
from retrieval.errors import (
    ClusterError,
    CrossmediaError,
    IndexStoreError,
    IngestIncompleteError,
    OCRError,
)
from retrieval.ingest import AudioTranscriber, Ingestor, IngestReport, OcrMode
from retrieval.library import Library, LibraryConfig

log = logging.getLogger(__name__)
INSTALL_HINT = 'pip install "crossmedia[ray]"'
LOCAL_OBJECT_STORE = 512 * 1024 * 1024  # a local cluster's shared memory: records and reports only


def require_ray() -> Any:
    """The ``ray`` module, or a ClusterError that says how to install it."""
    try:
        import ray
    except ImportError:
        raise ClusterError(
            f"ingesting on Ray needs Ray, which is not installed: {INSTALL_HINT}"
        ) from None
    return ray


@contextmanager
def ray_cluster(address: str | None = None, num_cpus: int | None = None) -> Iterator[None]:
    """Connected to a Ray cluster for the block. ``address``: ``auto`` (the cluster this machine
    belongs to), ``host:port`` (its head) or ``ray://host:port`` (Ray Client); None starts a
    local cluster in this process (``num_cpus`` of this machine's CPUs, default all), stopped at
    the end. When this process is already connected, that connection is used as it is."""
    ray = require_ray()
    if ray.is_initialized():
        yield
        return
    if address is not None and address != "auto":
        _check_reachable(address)
    try:
        if address is None:  # "local": never a cluster that `ray start` or $RAY_ADDRESS names
            ray.init(
                address="local",
                num_cpus=num_cpus,
                include_dashboard=False,
                object_store_memory=LOCAL_OBJECT_STORE,
            )
        else:
            ray.init(address=address)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = "a local Ray cluster" if address is None else f"the Ray cluster at {address}"
        raise ClusterError(
            f"cannot start or reach {where} ({exc}); start one with 'ray start --head' and give "
            "its address, or leave the address out to run on this machine. A cluster that uses "
            "token authentication also needs RAY_AUTH_MODE=token here, and its token (in "
            "~/.ray/auth_token or $RAY_AUTH_TOKEN)"
        ) from exc
    try:
        yield
    finally:
        ray.shutdown()


def _check_reachable(address: str, timeout: float = 5.0) -> None:
    """Fail fast when nothing answers at a cluster's address (Ray itself retries for minutes)."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        raise ClusterError(
            f"{address!r} is not a Ray address: give auto, HOST:PORT or ray://HOST:PORT"
        )
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as exc:
        raise ClusterError(
            f"nothing answers at {address} ({exc.strerror or exc}): check the address, or "
            "start the cluster's head there with 'ray start --head'"
        ) from None


@dataclass(frozen=True)
class IngestOptions:
    """How each worker ingests (the arguments of Library.ingest, sent to every actor).
    ``transcribe`` is pickled to the workers: it should load its model on first use."""

    batch_size: int = 32
    transcribe: AudioTranscriber | None = None
    ocr: OcrMode = "gated"
    describe: bool = True


class IngestWorker:
    """One Ray actor: a library opened once, and its ingest pipeline fed batch after batch."""

    def __init__(self, config: LibraryConfig, options: IngestOptions):
        self.config = config
        self.options = options
        self.ingestor: Ingestor | None = None

    def open(self) -> str:
        """Load the encoder and the OCR models and open the index (raises their
        CrossmediaError, except an OCR failure, which the pipeline reports as a local ingest
        does); returns the node it runs on: its host name and Ray node id."""
        library = Library(self.config)
        o = self.options
        # One reader: a worker gets one batch at a time and its share of the cluster's CPUs.
        self.ingestor = library.ingestor(o.batch_size, o.transcribe, o.ocr, o.describe, readers=1)
        if o.ocr != "off":
            with contextlib.suppress(OCRError):
                library.text_reader().load()
        import ray

        return f"{socket.gethostname()} (node {ray.get_runtime_context().get_node_id()[:8]})"

    def ingest(self, records: list[SourceRecord]) -> IngestReport:
        """Run the pipeline on one batch, written to the index before this returns."""
        if self.ingestor is None:
            raise ClusterError("the worker was asked to ingest before it was opened")
        return self.ingestor.ingest(records, progress=False)


@dataclass(frozen=True)
class BatchDone:
    """One batch written: its number, the worker (index into ``RayIngest.workers``), its report."""

    number: int
    worker: int
    report: IngestReport


class RayIngest:
    """A pool of ``workers`` ingest actors (one CPU each, default: every CPU of the cluster)
    on the Ray cluster this process is connected to, each holding the library open."""

    def __init__(
        self,
        config: LibraryConfig,
        workers: int | None = None,
        options: IngestOptions | None = None,
    ):
        ray = require_ray()
        if not ray.is_initialized():
            raise ClusterError("connect to a Ray cluster first (retrieval.ray_ingest.ray_cluster)")
        cpus = int(ray.cluster_resources().get("CPU", 0))
        count = cpus if workers is None else workers
        if not 1 <= count <= cpus:
            raise ClusterError(
                f"the Ray cluster has {cpus} CPUs and each worker takes one: ask for 1 to "
                f"{cpus} workers, or add nodes to the cluster"
            )
        self.options = options or IngestOptions()
        actor = ray.remote(num_cpus=1, max_restarts=0)(IngestWorker)
        self.workers = [actor.remote(config, self.options) for _ in range(count)]
        self.dead: set[int] = set()
        log.info("opening the library in %d Ray workers", count)
        try:
            nodes = ray.get([w.open.remote() for w in self.workers])
        except ray.exceptions.RayTaskError as exc:
            self.close()
            if isinstance(exc.cause, CrossmediaError):
                raise exc.cause from None
            raise ClusterError(f"a Ray worker could not open the library: {exc.cause}") from exc
        except ray.exceptions.RayError as exc:
            self.close()
            raise ClusterError(
                f"a Ray worker died while opening the library: {_first(exc)}"
            ) from exc
        self.nodes: list[str] = nodes  # where each worker runs
        log.info(
            "Ray workers ready on %d node%s: %s",
            len(set(nodes)),
            "s" * (len(set(nodes)) != 1),
            ", ".join(sorted(set(nodes))),
        )

    def __enter__(self) -> RayIngest:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Stop the workers."""
        ray = require_ray()
        for worker in self.workers:
            ray.kill(worker)

    def ingest(
        self,
        records: Sequence[SourceRecord],
        progress: bool = True,
        on_batch: Callable[[BatchDone], None] | None = None,
    ) -> IngestReport:
        """Ingest every record; returns what was added, skipped and refused, as the local
        ingest does. When a worker dies or a batch fails, the other batches go on (except after
        an index failure, which would fail them all) and an IngestIncompleteError says what
        was left; what was written stays, and running the same ingest again resumes."""
        ray = require_ray()
        ordered = sorted(records, key=lambda r: not r.caption)  # as Ingestor.ingest orders them
        queue = deque(enumerate(batched(ordered, self.options.batch_size)))
        idle = deque(n for n in range(len(self.workers)) if n not in self.dead)
        running: dict[Any, tuple[int, int, list[SourceRecord]]] = {}
        report, lost, reasons = IngestReport(), 0, []
        stopped = False
        with tqdm(total=len(ordered), desc="ingesting", unit="item", disable=not progress) as bar:
            while running or (queue and idle and not stopped):
                while idle and queue and not stopped:
                    worker, (number, batch) = idle.popleft(), queue.popleft()
                    running[self.workers[worker].ingest.remote(batch)] = (worker, number, batch)
                [ref], _ = ray.wait(list(running), num_returns=1)
                worker, number, batch = running.pop(ref)
                bar.update(len(batch))
                try:
                    part = ray.get(ref)
                except ray.exceptions.RayTaskError as exc:  # the batch raised; the worker lives
                    idle.append(worker)
                    lost += len(batch)
                    reasons.append(str(exc.cause))
                    log.error("batch %d failed on worker %d: %s", number, worker, exc.cause)
                    stopped = stopped or isinstance(exc.cause, IndexStoreError)
                    continue
                except ray.exceptions.RayError as exc:  # the worker (or its node) died
                    self.dead.add(worker)
                    lost += len(batch)
                    reasons.append(f"a Ray worker died ({_first(exc)})")
                    log.error("worker %d died during batch %d: %s", worker, number, _first(exc))
                    continue
                idle.append(worker)
                report.merge(part)
                if on_batch is not None:
                    on_batch(BatchDone(number, worker, part))
        lost += sum(len(batch) for _, batch in queue)
        log.info("ingest on Ray finished: %s", report.summary().splitlines()[0])
        if lost:
            why = reasons[0] if reasons else "every Ray worker died"
            raise IngestIncompleteError(
                f"{lost} of {len(ordered)} records were not ingested: {why}. The {report.added} "
                "items this run added are kept; run the same command again to finish the rest",
                report,
                lost,
            )
        return report


def ingest_on_ray(
    config: LibraryConfig,
    path: str | Path,
    *,
    address: str | None = None,
    workers: int | None = None,
    audio: AudioMode = "all",
    options: IngestOptions | None = None,
    progress: bool = True,
) -> IngestReport:
    """Ingest a folder, a file or a manifest (as Library.ingest does) with ``workers`` Ray
    workers: on the cluster at ``address``, or on a local cluster when it is None. A cluster's
    workers write to a Chroma server (``config.chroma_url``); a local one may also share this
    machine's embedded index."""
    require_ray()
    if address is not None and config.chroma_url is None:
        raise ClusterError(
            "the workers of a Ray cluster cannot share this machine's embedded index: start a "
            "Chroma server ('chroma run --path DIR --host 0.0.0.0') and give --chroma-url"
        )
    records = discover(path, audio)
    with ray_cluster(address), RayIngest(config, workers, options) as pool:
        return pool.ingest(records, progress)


def _first(exc: BaseException) -> str:
    """The first line of a Ray error (they carry whole tracebacks)."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
