"""The index at 100k and 1M vectors: Chroma's add rate as the collection grows, its query latency
(p50/p95, top-10) and recall@10 against exact search at several HNSW beam widths, its resident
memory and disk size, against exact search in memory (crossmedia's path up to 200k vectors, and
numpy's float32 product as the baseline). Writes bench/results/index_scale.json.

Vectors: random but clustered unit vectors of the default encoder's dimension (384): 1,000
cluster centres, each point its centre plus noise (cosine to the centre ~0.6), queries drawn
the same way, so neighbourhoods exist as they do in a real library. The index is MediaIndex as
the app opens it (embedded Chroma, crossmedia's HNSW settings); memory and query latency are
measured in a fresh process that opens the built index, as a serving process would.

    OPENBLAS_NUM_THREADS=1 python bench/index_scale.py                    # 100k and 1M
    OPENBLAS_NUM_THREADS=1 python bench/index_scale.py --sizes 20000 --out /tmp/index_scale.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np
import psutil
from index_speed import DIM, build, exact_top10, exact_truth, latency_ms, recall_against
from provenance import provenance

from retrieval.exact import ExactVectors
from retrieval.index import EXACT_SEARCH_LIMIT, TUNED_HNSW, MediaIndex

RESULTS = Path(__file__).parent / "results"
CLUSTERS = 1000
NOISE = 1.3  # per-dimension noise relative to a unit centre's 1/sqrt(dim): cosine ~0.6
N_QUERIES = 200
EF_SEARCH = (100, 200, 800)  # Chroma's default beam, a middle one, crossmedia's
ADD_BATCH = 1000


def clustered_vectors(n: int, seed: int, centres: np.ndarray) -> np.ndarray:
    """``n`` unit vectors, each a random centre plus Gaussian noise, made in chunks."""
    rng = np.random.default_rng(seed)
    out = np.empty((n, centres.shape[1]), dtype=np.float32)
    scale = NOISE / np.sqrt(centres.shape[1])
    for start in range(0, n, 100_000):
        size = min(100_000, n - start)
        chunk = centres[rng.integers(0, len(centres), size)]
        chunk = chunk + rng.standard_normal(chunk.shape, dtype=np.float32) * scale
        out[start : start + size] = chunk / np.linalg.norm(chunk, axis=1, keepdims=True)
    return out


def rss_mb() -> float:
    return psutil.Process().memory_info().rss / 2**20


def disk_mb(root: Path) -> float:
    return round(sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) / 2**20, 1)


def probe(root: Path, ef_search: int | None) -> dict:
    """In a fresh process: open the built index as an app would (HNSW with this beam width, or
    exact search over an in-memory copy when ``ef_search`` is None), query it, report latency,
    recall and the resident memory the open index added. (Chroma reads ``ef_search`` when it
    loads the graph, so each width needs its own process.)"""
    import chromadb  # noqa: F401  (loaded before the baseline: only the index's own memory counts)

    queries, truth = np.load(root.parent / "queries.npy"), np.load(root.parent / "truth.npy")
    baseline = rss_mb()
    started = time.perf_counter()
    if ef_search is None:  # crossmedia's default up to EXACT_SEARCH_LIMIT vectors
        index = MediaIndex(root, encoder_name="bench", dim=queries.shape[1])
        index.exact_vectors("content")
        result: dict = {"path": "exact in memory (MediaIndex default)"}
    else:
        index = MediaIndex(root, encoder_name="bench", dim=queries.shape[1], exact_limit=0)
        index.collections["content"].modify(configuration={"hnsw": {"ef_search": ef_search}})
        result = {"path": "Chroma HNSW", "ef_search": ef_search}
    query = partial(index.query, k=10, kinds=("content",))
    query(queries[0])  # loads the graph (or the copy)
    result["open_and_first_query_s"] = round(time.perf_counter() - started, 2)
    result["rss_added_mb"] = round(rss_mb() - baseline, 1)
    samples = iter(np.tile(queries, (2, 1)))
    result["query_ms"] = latency_ms(lambda: query(next(samples)), 150)
    result["recall@10_vs_exact"] = round(recall_against(index, queries, truth), 4)
    result["rss_after_queries_mb"] = round(rss_mb() - baseline, 1)
    result["process_rss_mb"] = round(rss_mb(), 1)
    return result


def run_probe(root: Path, ef_search: int | None) -> dict:
    command = [sys.executable, __file__, "--probe", str(root)]
    if ef_search is not None:
        command += ["--ef-search", str(ef_search)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=3600)
    if done.returncode != 0:
        raise RuntimeError(f"the probe failed:\n{done.stderr[-3000:]}")
    found = json.loads(done.stdout.strip().splitlines()[-1])
    print(json.dumps(found), flush=True)
    return found


def measure(size: int, workdir: Path, centres: np.ndarray) -> dict:
    vectors = clustered_vectors(size, seed=size, centres=centres)
    queries = clustered_vectors(N_QUERIES, seed=1, centres=centres)
    np.save(workdir / "queries.npy", queries)
    np.save(workdir / "truth.npy", exact_truth(vectors, queries))
    root = workdir / f"index-{size}"
    progress: list[tuple[int, float]] = []
    index, rate = build(root, TUNED_HNSW, vectors, ADD_BATCH, progress)
    del index
    tenth = max(1, len(progress) // 10)
    first, last = progress[tenth - 1], progress[-1]
    before_last = progress[-tenth - 1] if len(progress) > tenth else (0, 0.0)
    result: dict = {
        "size": size,
        "add_batch": ADD_BATCH,
        "add_s": round(last[1], 1),
        "add_rate_per_s": round(rate, 1),
        "add_rate_first_10pc_per_s": round(first[0] / first[1], 1),
        "add_rate_last_10pc_per_s": round(
            (last[0] - before_last[0]) / (last[1] - before_last[1]), 1
        ),
        "disk_mb": disk_mb(root),
        "disk_bytes_per_vector": round(disk_mb(root) * 2**20 / size),
        "vectors_float32_mb": round(vectors.nbytes / 2**20, 1),
    }
    print(json.dumps(result), flush=True)
    result["hnsw"] = [run_probe(root, ef) for ef in EF_SEARCH]
    if size <= EXACT_SEARCH_LIMIT:
        result["exact_in_memory"] = run_probe(root, None)
    in_memory = ExactVectors(DIM)  # the same exact search at any size (fp16 shortlist, rescore)
    in_memory.replace_all([f"{i:032x}" for i in range(size)], vectors)
    samples = iter(np.tile(queries, (2, 1)))
    result["exact_vectors_fp16_shortlist_ms"] = latency_ms(
        lambda: in_memory.top(next(samples), 10), 150
    )
    samples = iter(np.tile(queries, (2, 1)))
    result["numpy_exact_float32_ms"] = latency_ms(lambda: exact_top10(vectors, next(samples)), 150)
    shutil.rmtree(root, ignore_errors=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--out", default=str(RESULTS / "index_scale.json"))
    parser.add_argument("--probe", help=argparse.SUPPRESS)  # internal: measure a built index
    parser.add_argument("--ef-search", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        print(json.dumps(probe(Path(args.probe), args.ef_search)))
        return
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((CLUSTERS, DIM)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    report: dict = {
        "provenance": provenance("none", "OPENBLAS_NUM_THREADS=1 python bench/index_scale.py"),
        "machine": {
            "cpus": os.cpu_count(),
            "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
            "python": platform.python_version(),
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        },
        "vectors": f"clustered unit vectors, {DIM}-d, {CLUSTERS} clusters, noise {NOISE}",
        "hnsw": {"space": TUNED_HNSW.space, "max_neighbors": TUNED_HNSW.max_neighbors,
                 "ef_construction": TUNED_HNSW.ef_construction, "ef_search_tried": EF_SEARCH},
        "queries": N_QUERIES,
        "sizes": [],
    }  # fmt: skip
    workdir = Path(tempfile.mkdtemp(prefix="crossmedia-index-scale-"))
    try:
        for size in args.sizes:
            report["sizes"].append(measure(size, workdir, centres))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
