"""Index speed: Chroma add rate (default vs tuned HNSW, several add-batch sizes), query latency
end to end (encode one text query + search + metadata) and recall@10 against exact numpy search.

Two kinds of 384-d vectors: ``random`` unit vectors (the worst case for HNSW: random
high-dimensional points have no neighbourhood structure, so every neighbour is almost as far as
any other) and ``conse``: what the default encoder makes of pictures, simulated at scale by
sampling peaked ImageNet class distributions and mapping them through the real ConSE class table.
Writes bench/results/index_speed[-conse].json and .png.

    python bench/index_speed.py                              # random vectors, 10k and 100k items
    python bench/index_speed.py --vectors conse --sizes 100000
"""

from __future__ import annotations

import argparse
import itertools
import json
import platform
import shutil
import statistics
import tempfile
import time
from dataclasses import asdict
from functools import partial
from pathlib import Path

import numpy as np
from provenance import provenance
from tqdm import tqdm

from retrieval.encoders import load_encoder
from retrieval.encoders.registry import default_cache_dir
from retrieval.index import DEFAULT_HNSW, TUNED_HNSW, HnswSettings, MediaIndex
from retrieval.items import MediaItem

RESULTS = Path(__file__).parent / "results"
DIM = 384
N_QUERIES = 200
QUERY_TEXTS = ["a red bird", "a musical instrument", "something to eat", "a fast car", "a frog"]


def conse_like_vectors(n: int, seed: int, encoder) -> np.ndarray:
    """Vectors shaped like the default encoder's image vectors (a random main class)."""
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((n, 1000)).astype(np.float32) * 1.5
    logits[np.arange(n), rng.integers(0, 1000, n)] += rng.uniform(3, 9, n).astype(np.float32)
    return np.concatenate(
        [encoder.encode_logits(logits[i : i + 10_000]) for i in range(0, n, 10_000)]
    )


def unit_vectors(n: int, seed: int) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def items(n: int, first: int = 0) -> list[MediaItem]:
    """``n`` bench items numbered from ``first`` (the id is the number in hex)."""
    return [
        MediaItem(
            id=f"{i:032x}",
            modality="image",
            uri=f"/library/{i}.png",
            caption=f"item {i}",
            source="bench",
            metadata={"n": i},
        )
        for i in range(first, first + n)
    ]


def build(
    root: Path,
    hnsw: HnswSettings,
    vectors: np.ndarray,
    add_batch: int,
    progress: list[tuple[int, float]] | None = None,
) -> tuple[MediaIndex, float]:
    """Add all vectors (content vectors only) and return the index and the add rate (vectors/s);
    ``progress`` receives (vectors added, seconds so far) after every add."""
    index = MediaIndex(root, encoder_name="bench", dim=vectors.shape[1], hnsw=hnsw, exact_limit=0)
    started = time.perf_counter()
    for start in tqdm(
        range(0, len(vectors), add_batch), desc=f"add batch={add_batch}", leave=False
    ):
        records = items(min(add_batch, len(vectors) - start), first=start)
        index.add(records, vectors[start : start + add_batch])
        if progress is not None:
            progress.append((start + len(records), time.perf_counter() - started))
    index.count()  # forces pending work to be applied before the clock stops
    return index, len(vectors) / (time.perf_counter() - started)


def exact_truth(vectors: np.ndarray, queries: np.ndarray, k: int = 10) -> np.ndarray:
    """The exact top-k rows for each query (cosine on unit vectors), in chunks of rows."""
    best_rows = np.zeros((len(queries), 0), dtype=np.int64)
    best_scores = np.zeros((len(queries), 0), dtype=np.float32)
    for start in range(0, len(vectors), 100_000):
        scores = queries @ vectors[start : start + 100_000].T
        top = np.argpartition(-scores, min(k, scores.shape[1] - 1), axis=1)[:, :k]
        best_rows = np.concatenate([best_rows, top + start], axis=1)
        best_scores = np.concatenate([best_scores, np.take_along_axis(scores, top, 1)], axis=1)
    order = np.argsort(-best_scores, axis=1)[:, :k]
    return np.take_along_axis(best_rows, order, 1)


def recall_against(index: MediaIndex, queries: np.ndarray, truth: np.ndarray) -> float:
    """Share of the exact top-10 (``truth`` rows, ids as ``items`` makes them) the index finds."""
    found = 0
    for query, rows in zip(queries, truth, strict=True):
        hits = index.query(query, k=10, kinds=("content",))
        found += len({int(h.item_id, 16) for h in hits} & set(rows.tolist()))
    return found / (10 * len(queries))


def recall_at_10(index: MediaIndex, vectors: np.ndarray, queries: np.ndarray) -> float:
    return recall_against(index, queries, exact_truth(vectors, queries))


def latency_ms(fn, repeats: int) -> dict[str, float]:
    fn()  # warm-up
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    quantiles = statistics.quantiles(samples, n=20)
    return {"p50": round(statistics.median(samples), 2), "p95": round(quantiles[18], 2)}


def exact_top10(vectors: np.ndarray, query: np.ndarray) -> np.ndarray:
    """Exact cosine top-10 by one matrix-vector product (the baseline)."""
    scores = vectors @ query
    top = np.argpartition(-scores, 10)[:10]
    return top[np.argsort(-scores[top])]


def query_latencies(search, probe: np.ndarray, encoder) -> dict[str, dict[str, float]]:
    """Search-only latency, and one text query end to end (encode + search + metadata)."""
    texts = itertools.cycle(QUERY_TEXTS)
    return {
        "search_ms": latency_ms(lambda: search(probe), 100),
        "text_query_end_to_end_ms": latency_ms(
            lambda: search(encoder.encode_texts([next(texts)])[0]), 100
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--vectors", choices=["random", "conse"], default="random")
    parser.add_argument(
        "--default-max",
        type=int,
        default=100_000,
        help="largest size built with Chroma's default settings (they are slow)",
    )
    args = parser.parse_args()
    encoder = load_encoder("default", cache_dir=default_cache_dir())
    report: dict = {
        "provenance": provenance(encoder.name),  # it encodes the text queries
        "machine": {"cpus": __import__("os").cpu_count(), "python": platform.python_version()},
        "vectors": f"{args.vectors}, {DIM}-d",
        "settings": {"default": asdict(DEFAULT_HNSW), "tuned": asdict(TUNED_HNSW)},
        "runs": [],
    }
    workdir = Path(tempfile.mkdtemp(prefix="crossmedia-bench-"))
    try:
        for size in args.sizes:
            if args.vectors == "random":
                vectors, queries = unit_vectors(size, seed=size), unit_vectors(N_QUERIES, seed=1)
            else:
                vectors = conse_like_vectors(size, size, encoder)
                queries = encoder.encode_texts([f"a picture of item {i}" for i in range(N_QUERIES)])
            runs = [("hnsw crossmedia (ef_search=800)", TUNED_HNSW, 1000)]
            if size <= args.default_max:
                runs = [
                    ("hnsw chroma default", DEFAULT_HNSW, 100),
                    ("hnsw chroma default", DEFAULT_HNSW, 1000),
                    *runs,
                ]
            for label, hnsw, add_batch in runs:
                root = workdir / f"{size}-{len(report['runs'])}"
                index, rate = build(root, hnsw, vectors, add_batch)
                run = {"size": size, "settings": label, "add_batch": add_batch}
                run["add_rate_per_s"] = round(rate, 1)
                run["recall@10_vs_exact"] = round(recall_at_10(index, vectors, queries), 4)
                run.update(query_latencies(partial(index.query, k=10), queries[0], encoder))
                report["runs"].append(run)
                print(json.dumps(run))
            started = time.perf_counter()
            in_memory = MediaIndex(root, encoder_name="bench", dim=DIM)  # exact search (default)
            in_memory.exact_vectors("content")
            run = {
                "size": size,
                "settings": "exact in memory (crossmedia default)",
                "load_s": round(time.perf_counter() - started, 2),
                "recall@10_vs_exact": round(recall_at_10(in_memory, vectors, queries), 4),
            }
            run.update(query_latencies(partial(in_memory.query, k=10), queries[0], encoder))
            report["runs"].append(run)
            print(json.dumps(run))
            del index, in_memory
            exact = {"size": size, "settings": "numpy exact (baseline)", "recall@10_vs_exact": 1.0}
            exact.update(query_latencies(partial(exact_top10, vectors), queries[0], encoder))
            report["runs"].append(exact)
            print(json.dumps(exact))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    summarise(report)
    RESULTS.mkdir(exist_ok=True)
    stem = "index_speed" + ("" if args.vectors == "random" else f"-{args.vectors}")
    (RESULTS / f"{stem}.json").write_text(json.dumps(report, indent=2))
    plot(report, RESULTS / f"{stem}.png")


def summarise(report: dict) -> None:
    """Add the ratio of each tuned run's add rate to the default rate at the same size."""
    baseline = {}
    for run in report["runs"]:
        if run["settings"] == "hnsw chroma default" and "add_rate_per_s" in run:
            baseline[run["size"]] = max(baseline.get(run["size"], 0), run["add_rate_per_s"])
    reference = baseline.get(min(baseline)) if baseline else None
    for run in report["runs"]:
        if "add_rate_per_s" in run and reference:
            base = baseline.get(run["size"], reference)
            run["add_rate_vs_default"] = round(run["add_rate_per_s"] / base, 2)
    report["default_add_rate_reference"] = baseline


def plot(report: dict, path: Path) -> None:
    from plotting import pyplot

    plt = pyplot()

    def label(run: dict) -> str:
        batch = f" b={run['add_batch']}" if "add_batch" in run else ""
        return f"{run['size'] // 1000}k {run['settings']}{batch}"

    built = [r for r in report["runs"] if "add_rate_per_s" in r]
    timed = [r for r in report["runs"] if "text_query_end_to_end_ms" in r]
    fig, (left, right) = plt.subplots(1, 2, figsize=(15, 5))
    left.barh([label(r) for r in built], [r["add_rate_per_s"] for r in built], color="tab:blue")
    left.set_xlabel("vectors added per second")
    left.set_title("Chroma add rate")
    names = [f"{label(r)} (R@10 {r['recall@10_vs_exact']:.2f})" for r in timed]
    p95 = [r["text_query_end_to_end_ms"]["p95"] for r in timed]
    p50 = [r["text_query_end_to_end_ms"]["p50"] for r in timed]
    right.barh(names, p95, color="tab:green", alpha=0.35, label="p95")
    right.barh(names, p50, color="tab:green", label="p50")
    right.set_xlabel("ms: encode one text query + search + metadata")
    right.set_title("one text query, end to end")
    right.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
