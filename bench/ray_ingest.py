"""Ingest on Ray: the same sample of captioned Tux Paint stamps ingested into a fresh Chroma
server by the local pipeline in this process, then by 1 and by 2 Ray workers (a local cluster,
one CPU per worker), with the command's defaults (gated OCR). Items per second of the ingest
itself (loading the models, the encoder and OCR, is timed apart as ``startup_s``) and the ratio
of each run to one worker. Writes bench/results/ray_ingest.json.

    OPENBLAS_NUM_THREADS=1 python bench/ray_ingest.py [--items 480 --workers 1 2 --repeats 2]

``$CROSSMEDIA_CACHE_DIR``, when set, holds the unpacked models (else a scratch folder).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import ray
from provenance import ROOT, provenance

from retrieval.datasets.tuxpaint import captioned_stamps
from retrieval.discovery import SourceRecord
from retrieval.encoders.registry import default_encoder_name
from retrieval.library import Library, LibraryConfig
from retrieval.ray_ingest import IngestOptions, RayIngest

sys.path.insert(0, str(ROOT))
from tests.serving import chroma_served  # the tests' real Chroma server

RESULTS = Path(__file__).parent / "results"
COMMAND = "OPENBLAS_NUM_THREADS=1 python bench/ray_ingest.py"


def timed_run(records: list[SourceRecord], workers: int | None, batch: int, cache: Path) -> dict:
    """One ingest of ``records`` into a new Chroma server: by ``workers`` Ray workers, or by
    the local pipeline when None. Returns the seconds to start (models) and to ingest."""
    with tempfile.TemporaryDirectory() as work, chroma_served(Path(work)) as server:
        config = LibraryConfig(Path(work) / "home", "default", server.url, cache)
        started = time.perf_counter()
        if workers is None:
            library = Library(config)
            library.text_reader().load()  # as each Ray worker does before its first batch
            ready = time.perf_counter()
            report = library.ingestor(batch).ingest(records, progress=False)
        else:
            with RayIngest(config, workers, IngestOptions(batch)) as pool:
                ready = time.perf_counter()
                report = pool.ingest(records, progress=False)
        done = time.perf_counter()
    stored = report.added + report.duplicates
    assert stored == len(records) and not report.refused, report.summary()
    return {"startup_s": ready - started, "ingest_s": done - ready}


def measure(records: list[SourceRecord], workers: list[int], batch: int, repeats: int) -> list:
    """One row per runner: the local pipeline, then each number of Ray workers."""
    with tempfile.TemporaryDirectory(prefix="ray-bench-") as scratch:
        cache = Path(os.environ.get("CROSSMEDIA_CACHE_DIR") or scratch)
        Library(LibraryConfig(Path(scratch), "default", None, cache))  # unpack models, untimed
        ray.init(
            address="local",
            num_cpus=max(workers),
            include_dashboard=False,
            log_to_driver=False,
            object_store_memory=256 * 1024 * 1024,
        )
        rows: list[dict] = []
        try:
            for count in [None, *workers]:
                runs = [timed_run(records, count, batch, cache) for _ in range(repeats)]
                ingest_s = float(np.median([r["ingest_s"] for r in runs]))
                row = {
                    "runner": "local pipeline, this process" if count is None else "ray",
                    "workers": count,
                    "startup_s": round(float(np.median([r["startup_s"] for r in runs])), 2),
                    "ingest_s": round(ingest_s, 2),
                    "items_per_s": round(len(records) / ingest_s, 2),
                }
                rows.append(row)
                print(row, flush=True)
        finally:
            ray.shutdown()
    one = next((r["items_per_s"] for r in rows if r["workers"] == 1), None)
    for row in rows:
        row["ratio_to_1_worker"] = round(row["items_per_s"] / one, 2) if one else None
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=480)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    sample = random.Random(0).sample(captioned_stamps(), args.items)
    records = [SourceRecord("image", path, caption=caption) for path, caption in sample]
    load_before = os.getloadavg()[0]
    rows = measure(records, args.workers, args.batch_size, args.repeats)
    result = {
        "provenance": provenance(default_encoder_name(), COMMAND),
        "sample": f"{args.items} captioned Tux Paint stamps (seed 0), batches of "
        f"{args.batch_size}, gated OCR (the defaults), each run into a new Chroma server on "
        "loopback; median of the repeats",
        "machine_cpus": os.cpu_count(),
        "load_average_1min": {"before": load_before, "after": os.getloadavg()[0]},
        "repeats": args.repeats,
        "rows": rows,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "ray_ingest.json").write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
