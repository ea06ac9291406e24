"""The demo's first start as a new user meets it: `crossmedia ingest` of the Tux Paint stamps
(sounds paired, as `crossmedia demo` ingests them) into an empty data directory with an empty
model cache, so every one-time preparation is paid: the ONNX export of the image tower, ConSE's
ImageNet class texts, the translation tables the ingested texts call for.

Each repeat runs the working tree and, with ``--ref``, the same command from a git worktree of
an earlier commit (the baseline), interleaved, each in its own process. From the log's
timestamps it reports the load (encoders, class texts) and the ingest, and how many
translation tables were built. Writes bench/results/first_start.json.

    OPENBLAS_NUM_THREADS=1 python bench/first_start.py [--ref COMMIT] [--repeats 2]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from provenance import provenance

from retrieval.datasets.tuxpaint import stamps_dir
from retrieval.encoders.registry import default_encoder_name

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
STAMP = re.compile(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) INFO (\S+): (.*)$")


def first_start(checkout: Path, work: Path) -> dict:
    """One cold ingest of the demo library run from ``checkout``: wall seconds and phases."""
    data = work / "data"
    env = dict(os.environ, CROSSMEDIA_HOME=str(work), OPENBLAS_NUM_THREADS="1")
    command = [sys.executable, "-m", "ui.cli", "ingest", str(stamps_dir())]
    command += ["--audio", "paired", "--data-dir", str(data)]
    started = time.time()
    done = subprocess.run(command, cwd=checkout, env=env, capture_output=True, text=True)
    wall = time.time() - started
    if done.returncode != 0:
        raise SystemExit(f"ingest from {checkout} failed:\n{done.stderr[-2000:]}")
    events = []
    for line in done.stderr.replace("\r", "\n").splitlines():
        match = STAMP.search(line)  # after a progress bar's text, where tqdm left one
        if match:
            when = datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
            events.append((when, match.group(3)))
    ready = next(t for t, text in events if text.startswith("index "))
    finished = next(t for t, text in events if text.startswith("ingest finished"))
    return {
        "wall_seconds": round(wall, 1),
        "load_seconds": round(ready - started, 1),
        "ingest_seconds": round(finished - ready, 1),
        "translation_tables_built": sum("word table" in text for _, text in events),
        "added": int(re.search(r"added (\d+)", done.stdout).group(1)),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ref", help="a commit to run as the baseline (a git worktree of it)")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        checkouts = {"now": ROOT}
        if args.ref:
            before = Path(scratch) / "before"
            subprocess.run(
                ["git", "worktree", "add", "--detach", str(before), args.ref],
                cwd=ROOT, check=True, capture_output=True,
            )  # fmt: skip
            checkouts = {f"before ({args.ref})": before, "now": ROOT}
        runs: dict[str, list[dict]] = {name: [] for name in checkouts}
        try:
            for repeat in range(args.repeats):
                names = list(checkouts)[repeat % 2 :] + list(checkouts)[: repeat % 2]
                for name in names:
                    with tempfile.TemporaryDirectory(dir=scratch) as work:
                        run = first_start(checkouts[name], Path(work))
                    runs[name].append(run)
                    print(repeat, name, run, flush=True)
        finally:
            if args.ref:
                subprocess.run(["git", "worktree", "remove", "--force", str(before)], cwd=ROOT)
    rows = {
        name: {
            "median_wall_seconds": statistics.median(r["wall_seconds"] for r in done),
            "median_load_seconds": statistics.median(r["load_seconds"] for r in done),
            "median_ingest_seconds": statistics.median(r["ingest_seconds"] for r in done),
            "runs": done,
        }
        for name, done in runs.items()
    }
    result = {
        "provenance": provenance(
            default_encoder_name(), "OPENBLAS_NUM_THREADS=1 python bench/first_start.py"
        ),
        "what": "crossmedia ingest of the Tux Paint stamps (sounds paired) into an empty data "
        "directory and model cache, one process per run",
        "rows": rows,
    }
    if args.ref:
        base = rows[f"before ({args.ref})"]["median_wall_seconds"]
        result["speedup"] = round(base / rows["now"]["median_wall_seconds"], 2)
    print(json.dumps({k: v for k, v in result.items() if k != "rows"} | {"rows": rows}, indent=2))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "first_start.json").write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
