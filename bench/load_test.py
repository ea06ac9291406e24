"""Load test of the served app, loopback only: 20 chat sessions at once against one
``crossmedia serve`` for a bounded time, each a gradio_client calling ``/chat`` again and again
with its own user and session. Reports turn latency p50 / p95 as the client sees it (queue wait
included), turns served, errors and throughput; baseline in the same run: one session alone.
Afterwards every session's saved history is read back from the database: complete (every
answered turn saved) and in the order it was asked. Library: every Tux Paint stamp and sound,
as the demo serves it. Writes bench/results/load_test.json.

With ``--replicas N`` (N > 1) there are N ``crossmedia serve`` processes on their own ports and
data directories, sharing one PostgreSQL database (a throwaway local server, tests/postgres.py)
and one Chroma server (``chroma run``; its folder is kept between runs, so the library is
ingested once); each session sends its turns round-robin to the replicas, so consecutive turns
of a conversation are answered by different processes. Writes
bench/results/load_test_replicas.json.

    OPENBLAS_NUM_THREADS=1 python bench/load_test.py [--sessions 20] [--seconds 120]
    OPENBLAS_NUM_THREADS=1 python bench/load_test.py --replicas 2 --sessions 40
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from contextlib import ExitStack
from pathlib import Path

import numpy as np
from platformdirs import user_cache_dir
from provenance import ROOT, provenance

sys.path.insert(0, str(ROOT))  # tests/: the throwaway PostgreSQL and Chroma servers

RESULTS = Path(__file__).parent / "results"
QUESTIONS = (
    "Do you have a picture of a frog?", "Show me a musical instrument", "something to eat",
    "Is there a red car?", "the planet Saturn", "a bird", "Do you have any flowers?",
    "a tool for building", "Show me a fish", "a toy",
)  # fmt: skip


def launch_server(
    data_dir: Path, port: int, concurrency: int, *flags: str, library: Path | None
) -> subprocess.Popen:
    """``crossmedia serve`` on ``port`` over ``data_dir`` (``library``: ingested first; known
    items are skipped); returns at once (see ``wait_until_up``)."""
    ingest = ["--library", str(library)] if library else []
    log = open(data_dir / "load-test-server.log", "w")  # noqa: SIM115 - lives with the process
    return subprocess.Popen(
        [sys.executable, "-m", "ui.cli", "serve", "--data-dir", str(data_dir), "--port",
         str(port), *ingest, "--concurrency", str(concurrency),
         "--rate-limit", "0", *flags],  # 20 simulated people share one loopback address
        stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "CROSSMEDIA_CACHE_DIR":
        str(Path(user_cache_dir("crossmedia")))},
    )  # fmt: skip


def wait_until_up(process: subprocess.Popen, data_dir: Path, port: int) -> None:
    deadline = time.monotonic() + 1200
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)
            return
        except OSError:
            if process.poll() is not None:
                break
            time.sleep(2)
    process.kill()
    raise SystemExit("the server did not start: see " + str(data_dir / "load-test-server.log"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=30)


def served_encoder() -> str:
    """The name of the encoder the server encodes every question with (it gets no --encoder:
    $CROSSMEDIA_ENCODER, else the default, whose name is read without loading it)."""
    from retrieval.encoders import load_encoder
    from retrieval.encoders.registry import default_encoder_name
    from ui.settings import ENCODER_ENV

    setting = os.environ.get(ENCODER_ENV, "default")
    return default_encoder_name() if setting == "default" else load_encoder(setting).name


def session_loop(
    urls: list[str],
    user: str,
    session: str,
    stop_at: float,
    latencies: list,
    errors: list,
    answered: list,
) -> None:
    """One person chatting until ``stop_at``: turn n goes to replica n mod len(urls) (an offset
    per user, so every replica gets first turns too); ``answered`` gets the questions answered,
    in order."""
    from gradio_client import Client

    clients = [Client(url, verbose=False) for url in urls]
    offset = int(user.rsplit("-", 1)[-1]) if user[-1].isdigit() else 0
    n = 0
    while time.monotonic() < stop_at:
        question = QUESTIONS[(hash(user) + n) % len(QUESTIONS)]
        client = clients[(offset + n) % len(clients)]
        started = time.perf_counter()
        try:
            reply = client.predict(user, session, question, None, None, api_name="/chat")
            if not reply.get("answer"):
                raise ValueError("empty answer")
            latencies.append(time.perf_counter() - started)
            answered.append(question)
        except Exception as exc:  # counted, not fatal: the report says how many failed
            errors.append(f"{type(exc).__name__}: {exc}"[:200])
        n += 1


def run_phase(urls: list[str], sessions: int, seconds: float, database: str) -> dict:
    """``sessions`` people at once for ``seconds``; then their saved histories are checked
    against what they were answered (read from ``database``, the servers' store)."""
    latencies: list[float] = []
    errors: list[str] = []
    run = uuid.uuid4().hex[:8]  # new sessions every run (a kept store holds older ones)
    answered: dict[str, list[str]] = {f"load-{i}": [] for i in range(sessions)}
    stop_at = time.monotonic() + seconds
    threads = [
        threading.Thread(
            target=session_loop,
            args=(urls, user, f"{user}-{run}", stop_at, latencies, errors, asked),
        )
        for user, asked in answered.items()
    ]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    return {
        "sessions": sessions,
        "replicas": len(urls),
        "seconds": round(wall, 1),
        "turns": len(latencies),
        "errors": len(errors),
        "error_examples": errors[:3],
        "turns_per_second": round(len(latencies) / wall, 2),
        "latency_s": {
            "p50": round(float(np.percentile(latencies, 50)), 2) if latencies else None,
            "p95": round(float(np.percentile(latencies, 95)), 2) if latencies else None,
        },
        "histories": check_histories(database, answered, run),
    }


def check_histories(database: str, answered: dict[str, list[str]], run: str) -> dict:
    """How many sessions' saved histories hold exactly the turns answered, in order."""
    from assistant.history import ChatHistory
    from recsys.store import InteractionStore

    history = ChatHistory.beside(InteractionStore(database))
    complete = 0
    wrong: list[str] = []
    for user, asked in answered.items():
        saved = [t.question for t in history.turns(user, f"{user}-{run}")]
        if saved == asked:
            complete += 1
        else:
            wrong.append(f"{user}: saved {len(saved)} turns, answered {len(asked)}")
    return {"sessions": len(answered), "complete_and_in_order": complete, "wrong": wrong[:5]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--concurrency", type=int, default=2)
    parser.add_argument(
        "--replicas",
        type=int,
        default=1,
        help="serve processes sharing PostgreSQL and a Chroma server (turns round-robin)",
    )
    parser.add_argument("--baseline-seconds", type=float, default=30)
    parser.add_argument(
        "--library",
        type=Path,
        help="a folder to serve instead of every Tux Paint stamp (a quick check)",
    )
    args = parser.parse_args()
    from retrieval.datasets.tuxpaint import stamps_dir

    library = args.library.resolve() if args.library else stamps_dir()
    name = "bench-load-library"  # the library's index is kept between runs
    if args.library:
        name += "-" + hashlib.sha1(str(library).encode()).hexdigest()[:8]
    root = Path(user_cache_dir("crossmedia")) / name
    root.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        if args.replicas > 1:
            urls, database = start_replicas(stack, root, library, args.replicas, args.concurrency)
        else:
            port = free_port()
            server = launch_server(root, port, args.concurrency, library=library)
            stack.callback(stop, server)
            wait_until_up(server, root, port)
            urls, database = [f"http://127.0.0.1:{port}/"], str(root / "interactions.sqlite")
        alone = run_phase(urls, 1, args.baseline_seconds, database)
        print("one session:", alone, flush=True)
        loaded = run_phase(urls, args.sessions, args.seconds, database)
        print(f"{args.sessions} sessions:", loaded, flush=True)
    command = "OPENBLAS_NUM_THREADS=1 python bench/load_test.py"
    shared = "one PostgreSQL database and one Chroma server" if args.replicas > 1 else ""
    report = {
        "provenance": provenance(served_encoder(), command),
        "server": {
            "concurrency": args.concurrency,
            "replicas": args.replicas,
            "shared": shared or "one process: embedded Chroma, SQLite store",
            "library": str(args.library) if args.library else "all Tux Paint stamps",
        },
        "baseline_one_session": alone,
        "loaded": loaded,
        "p50_ratio_loaded_vs_alone": round(
            loaded["latency_s"]["p50"] / alone["latency_s"]["p50"], 1
        ),
    }
    RESULTS.mkdir(exist_ok=True)
    name = "load_test_replicas.json" if args.replicas > 1 else "load_test.json"
    (RESULTS / name).write_text(json.dumps(report, indent=2))


def start_replicas(
    stack: ExitStack, root: Path, library: Path, replicas: int, concurrency: int
) -> tuple[list[str], str]:
    """A Chroma server (kept folder), a throwaway PostgreSQL, and ``replicas`` serve processes
    over both; the first ingests the library. Returns their URLs and the database URL."""
    from tests.postgres import postgres_server
    from tests.serving import chroma_served

    chroma = stack.enter_context(chroma_served(root)).url  # its data in root/server-data
    database = stack.enter_context(postgres_server(durable=True)).create_database()
    flags = ("--chroma-url", chroma, "--database-url", database)
    ports = [free_port() for _ in range(replicas)]
    folders = [root / f"replica-{n}" for n in range(replicas)]
    for n, (folder, port) in enumerate(zip(folders, ports, strict=True)):
        folder.mkdir(exist_ok=True)
        process = launch_server(
            folder, port, concurrency, *flags, library=library if n == 0 else None
        )
        stack.callback(stop, process)
        wait_until_up(process, folder, port)  # one at a time: the first one ingests
        print(f"replica {n + 1} of {replicas} up on port {port}", flush=True)
    return [f"http://127.0.0.1:{p}/" for p in ports], database


if __name__ == "__main__":
    main()
