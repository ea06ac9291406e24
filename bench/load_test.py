"""Load test of the served app, loopback only: 20 chat sessions at once against one
``crossmedia serve`` for a bounded time, each a gradio_client calling ``/chat`` again and again
with its own user and session. Reports turn latency p50 / p95 as the client sees it (queue wait
included), turns served, errors and throughput; baseline in the same run: one session alone.
Library: every Tux Paint stamp and sound, as the demo serves it. Writes
bench/results/load_test.json.

    OPENBLAS_NUM_THREADS=1 python bench/load_test.py [--sessions 20] [--seconds 120]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
from platformdirs import user_cache_dir
from provenance import provenance

RESULTS = Path(__file__).parent / "results"
QUESTIONS = (
    "Do you have a picture of a frog?", "Show me a musical instrument", "something to eat",
    "Is there a red car?", "the planet Saturn", "a bird", "Do you have any flowers?",
    "a tool for building", "Show me a fish", "a toy",
)  # fmt: skip


def start_server(data_dir: Path, port: int, concurrency: int) -> subprocess.Popen:
    from retrieval.datasets.tuxpaint import stamps_dir

    log = open(data_dir / "load-test-server.log", "w")  # noqa: SIM115 - lives with the process
    process = subprocess.Popen(
        [sys.executable, "-m", "ui.cli", "serve", "--data-dir", str(data_dir), "--port",
         str(port), "--library", str(stamps_dir()), "--concurrency", str(concurrency),
         "--rate-limit", "0"],  # 20 simulated people share one loopback address
        stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "CROSSMEDIA_CACHE_DIR":
        str(Path(user_cache_dir("crossmedia")))},
    )  # fmt: skip
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)
            return process
        except OSError:
            if process.poll() is not None:
                break
            time.sleep(2)
    process.kill()
    raise SystemExit("the server did not start: see " + str(data_dir / "load-test-server.log"))


def served_encoder() -> str:
    """The name of the encoder the server encodes every question with (it gets no --encoder:
    $CROSSMEDIA_ENCODER, else the default, whose name is read without loading it)."""
    from retrieval.encoders import load_encoder
    from retrieval.encoders.registry import default_encoder_name
    from ui.settings import ENCODER_ENV

    setting = os.environ.get(ENCODER_ENV, "default")
    return default_encoder_name() if setting == "default" else load_encoder(setting).name


def session_loop(url: str, user: str, stop_at: float, latencies: list, errors: list) -> None:
    from gradio_client import Client

    client = Client(url, verbose=False)
    n = 0
    while time.monotonic() < stop_at:
        question = QUESTIONS[(hash(user) + n) % len(QUESTIONS)]
        started = time.perf_counter()
        try:
            reply = client.predict(user, user, question, None, None, api_name="/chat")
            if not reply.get("answer"):
                raise ValueError("empty answer")
            latencies.append(time.perf_counter() - started)
        except Exception as exc:  # counted, not fatal: the report says how many failed
            errors.append(f"{type(exc).__name__}: {exc}"[:200])
        n += 1


def run_phase(url: str, sessions: int, seconds: float) -> dict:
    latencies: list[float] = []
    errors: list[str] = []
    stop_at = time.monotonic() + seconds
    threads = [
        threading.Thread(target=session_loop, args=(url, f"load-{i}", stop_at, latencies, errors))
        for i in range(sessions)
    ]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    return {
        "sessions": sessions,
        "seconds": round(wall, 1),
        "turns": len(latencies),
        "errors": len(errors),
        "error_examples": errors[:3],
        "turns_per_second": round(len(latencies) / wall, 2),
        "latency_s": {
            "p50": round(float(np.percentile(latencies, 50)), 2) if latencies else None,
            "p95": round(float(np.percentile(latencies, 95)), 2) if latencies else None,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--concurrency", type=int, default=2)
    args = parser.parse_args()
    data_dir = Path(user_cache_dir("crossmedia")) / "bench-load-library"
    data_dir.mkdir(parents=True, exist_ok=True)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = start_server(data_dir, port, args.concurrency)
    url = f"http://127.0.0.1:{port}/"
    try:
        alone = run_phase(url, 1, 30)
        print("one session:", alone, flush=True)
        loaded = run_phase(url, args.sessions, args.seconds)
        print(f"{args.sessions} sessions:", loaded, flush=True)
    finally:
        server.terminate()
        server.wait(timeout=30)
    report = {
        "provenance": provenance(
            served_encoder(), "OPENBLAS_NUM_THREADS=1 python bench/load_test.py"
        ),
        "server": {"concurrency": args.concurrency, "library": "all Tux Paint stamps"},
        "baseline_one_session": alone,
        "loaded": loaded,
        "p50_ratio_loaded_vs_alone": round(
            loaded["latency_s"]["p50"] / alone["latency_s"]["p50"], 1
        ),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "load_test.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
