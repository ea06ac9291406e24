"""How many interaction events per second the store takes (``InteractionStore.record``), on the
default SQLite file and on PostgreSQL, with 1 to N writer processes at once (as N app
replicas or workers would). Each transaction records ``--batch`` events (1: a like; a chat turn
records about 11 views at once), spread over many users and items so that new ids are made
as in real use. PostgreSQL is a throwaway local server (tests/postgres.py) with its durable
defaults (fsync and synchronous commit on); SQLite runs as the app runs it (WAL,
synchronous=NORMAL). Every written event is counted back to check that none was lost. Writes
bench/results/db_throughput.json.

    OPENBLAS_NUM_THREADS=1 python bench/db_throughput.py [--writers 1 2 4] [--batch 1 11]
        [--seconds 10]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path

from provenance import ROOT, provenance
from tqdm import tqdm

sys.path.insert(0, str(ROOT))  # tests/postgres.py: the throwaway PostgreSQL server

from recsys.events import Event
from recsys.store import InteractionStore

RESULTS = Path(__file__).parent / "results"
USERS, ITEMS = 2_000, 5_000


def _writer(location: str, writer: int, batch: int, seconds: float, start, counts) -> None:
    """Record batches for ``seconds``; puts (events, transactions, latencies) on ``counts``."""
    store = InteractionStore(location)
    start.wait(timeout=120)
    stop_at = time.monotonic() + seconds
    events, latencies, n = 0, [], 0
    while time.monotonic() < stop_at:
        rows = [
            Event.create(f"user-{(writer * 7919 + n + k) % USERS}",
                         f"item-{(writer * 104729 + 31 * n + k) % ITEMS}", "view")
            for k in range(batch)
        ]  # fmt: skip
        began = time.perf_counter()
        events += store.record(rows)
        latencies.append(time.perf_counter() - began)
        n += 1
    counts.put((events, len(latencies), latencies))


def measure(location: str, writers: int, batch: int, seconds: float) -> dict:
    """One run: ``writers`` processes recording at once into the store at ``location``."""
    before = InteractionStore(location).count()
    context = multiprocessing.get_context("spawn")
    start, counts = context.Barrier(writers), context.Queue()
    processes = [
        context.Process(target=_writer, args=(location, w, batch, seconds, start, counts))
        for w in range(writers)
    ]
    for process in processes:
        process.start()
    results = [counts.get(timeout=seconds + 300) for _ in processes]
    for process in processes:
        process.join(timeout=60)
    if any(p.exitcode != 0 for p in processes):
        raise SystemExit(f"a writer failed: exit codes {[p.exitcode for p in processes]}")
    events = sum(r[0] for r in results)
    transactions = sum(r[1] for r in results)
    latencies = sorted(x for r in results for x in r[2])
    stored = InteractionStore(location).count() - before
    return {
        "writers": writers,
        "batch": batch,
        "events": events,
        "stored": stored,
        "lost": events - stored,
        "events_per_second": round(events / seconds, 1),
        "transactions_per_second": round(transactions / seconds, 1),
        "commit_ms": {
            "p50": round(1000 * latencies[len(latencies) // 2], 2),
            "p95": round(1000 * latencies[int(0.95 * (len(latencies) - 1))], 2),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--writers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--batch", type=int, nargs="+", default=[1, 11])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--out", default=str(RESULTS / "db_throughput.json"))
    args = parser.parse_args()
    from tests.postgres import postgres_server

    rows = []
    runs = [(w, b) for w in args.writers for b in args.batch]
    with (
        tempfile.TemporaryDirectory() as folder,
        postgres_server(durable=True) as postgres,
        tqdm(total=2 * len(runs), desc="runs") as bar,
    ):
        for writers, batch in runs:
            for backend in ("sqlite", "postgresql"):
                location = (
                    str(Path(folder) / f"sqlite-{writers}-{batch}.sqlite")
                    if backend == "sqlite"
                    else postgres.create_database()
                )
                InteractionStore(location)  # the schema, as the app makes it at start
                row = {"backend": backend, **measure(location, writers, batch, args.seconds)}
                rows.append(row)
                tqdm.write(json.dumps(row))
                bar.update()
    report = {
        "provenance": provenance("none", "OPENBLAS_NUM_THREADS=1 python bench/db_throughput.py"),
        "setup": {
            "seconds_per_run": args.seconds,
            "sqlite": "one file, WAL, synchronous=NORMAL (the app's default store)",
            "postgresql": "PostgreSQL 15 on this machine, loopback TCP, fsync and "
            "synchronous_commit on (durable defaults), psycopg 3",
            "cpus": multiprocessing.cpu_count(),
        },
        "runs": rows,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
