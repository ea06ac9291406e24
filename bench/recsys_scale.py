"""Recommender at scale: ALS fit time and memory on a large synthetic power-law interaction
matrix, the snapshot's size and save/load time (recsys.snapshots, what `crossmedia recommend
fit` writes and every app process loads), fold-in latency per user (a user's current events
turned into factors without a refit, as every request does), and recommend latency (the CF
scores alone, and the whole hybrid blend with content vectors, explanations included).
Writes bench/results/recsys_scale.json.

The matrix: item popularity follows a Zipf law (exponent 0.9: a few hits, a long tail), user
activity a log-normal (most users a few events, some thousands), each user drawn mostly from one
of 50 taste clusters so that the factors have something to find. Duplicate (user, item) events
add up to one cell's confidence.

    OPENBLAS_NUM_THREADS=1 python bench/recsys_scale.py                 # 100k x 50k, 5M events
    OPENBLAS_NUM_THREADS=1 python bench/recsys_scale.py --users 10000 --items 5000 --events 500000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import psutil
from provenance import provenance
from scipy.sparse import csr_matrix
from tqdm import tqdm

from recsys.hybrid import HybridRecommender
from recsys.matrix import UserItems
from recsys.metrics import top_k
from recsys.models import gpu_available, make_model
from recsys.service import LIVE_BLEND
from recsys.snapshots import load_latest, save_snapshot

RESULTS = Path(__file__).parent / "results"
CLUSTERS = 50
IN_CLUSTER = 0.8  # share of a user's events drawn from their own taste cluster
CONTENT_DIM = 384  # the default encoder's (index_speed.DIM)
SAMPLED_USERS = 300


def power_law_matrix(users: int, items: int, events: int, seed: int) -> csr_matrix:
    """users x items confidences: Zipf item popularity, log-normal activity, taste clusters."""
    rng = np.random.default_rng(seed)
    activity = rng.lognormal(0.0, 1.2, users)
    user_of = rng.choice(users, size=events, p=activity / activity.sum())
    popularity = 1.0 / np.arange(1, items + 1) ** 0.9
    rank_of = rng.choice(items, size=events, p=popularity / popularity.sum())
    # a cluster owns every CLUSTERS-th rank: in-cluster events move the rank into the user's
    permutation = rng.permutation(items)  # ranks -> item ids, so popular items are spread
    cluster = user_of % CLUSTERS
    own = rng.random(events) < IN_CLUSTER
    rank_of[own] = (rank_of[own] // CLUSTERS) * CLUSTERS + cluster[own]
    rank_of = np.minimum(rank_of, items - 1)
    matrix = csr_matrix(
        (np.ones(events, np.float32), (user_of, permutation[rank_of])), shape=(users, items)
    )
    matrix.sum_duplicates()
    return matrix


def peak_allocated_mb(fn) -> float:
    """The peak of memory allocated by Python and numpy while ``fn`` runs (tracemalloc: the
    process's resident size would hide it among pages freed earlier and kept by the allocator)."""
    tracemalloc.start()
    try:
        fn()
        return round(tracemalloc.get_traced_memory()[1] / 2**20, 1)
    finally:
        tracemalloc.stop()


def quantiles_ms(samples: list[float]) -> dict[str, float]:
    ms = sorted(s * 1000 for s in samples)
    return {
        "p50": round(statistics.median(ms), 3),
        "p95": round(ms[min(len(ms) - 1, int(0.95 * len(ms)))], 3),
    }


def timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--items", type=int, default=50_000)
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--factors", type=int, default=64)
    parser.add_argument("--iterations", type=int, default=15)
    parser.add_argument("--gpu", action="store_true", help="fit on the GPU (implicit with CUDA)")
    parser.add_argument("--out", default=str(RESULTS / "recsys_scale.json"))
    args = parser.parse_args()
    started = time.perf_counter()
    matrix = power_law_matrix(args.users, args.items, args.events, seed=0)
    generate_s = time.perf_counter() - started
    user_ids = [f"u{n}" for n in range(args.users)]
    item_ids = [f"i{n}" for n in range(args.items)]
    data = UserItems(matrix, user_ids, item_ids)
    per_user = np.diff(matrix.indptr)
    report: dict = {
        "provenance": provenance("none", "OPENBLAS_NUM_THREADS=1 python bench/recsys_scale.py"),
        "machine": {
            "cpus": os.cpu_count(),
            "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
            "python": platform.python_version(),
            "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS"),
            "cuda_in_implicit": gpu_available(),
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        },
        "matrix": {
            "users": args.users,
            "items": args.items,
            "events": args.events,
            "nonzeros": int(matrix.nnz),
            "csr_mb": round(
                (matrix.data.nbytes + matrix.indices.nbytes + matrix.indptr.nbytes) / 2**20, 1
            ),
            "events_per_user_p50_p99_max": [
                int(np.median(per_user)),
                int(np.quantile(per_user, 0.99)),
                int(per_user.max()),
            ],
            "items_with_events": int((np.diff(matrix.tocsc().indptr) > 0).sum()),
            "generated_s": round(generate_s, 1),
        },
        "als": {"factors": args.factors, "iterations": args.iterations, "device": "cpu"},
    }
    print(json.dumps(report["matrix"]))

    model = make_model("als", 0, factors=args.factors, iterations=args.iterations, gpu=args.gpu)
    report["als"]["device"] = "gpu" if model.gpu else "cpu"
    fit_s = timed(lambda: model.fit(data))
    # memory does not grow with iterations: one iteration under tracemalloc shows the peak
    one = make_model("als", 0, factors=args.factors, iterations=1, gpu=args.gpu)
    report["als"].update(
        fit_s=round(fit_s, 2),
        fit_s_per_iteration=round(fit_s / args.iterations, 3),
        fit_peak_allocated_mb=peak_allocated_mb(lambda: one.fit(data)),
        factors_mb=round((model.user_factors.nbytes + model.item_factors.nbytes) / 2**20, 1),
    )
    print(json.dumps(report["als"]))

    with tempfile.TemporaryDirectory(prefix="crossmedia-recsys-scale-") as folder:
        info = {"users": args.users, "items": args.items, "nonzeros": int(matrix.nnz)}
        info |= {"device": report["als"]["device"], "fit_s": fit_s}
        save_s = timed(lambda: save_snapshot(folder, model, data, info))
        size = sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file())
        loaded: list = []
        load_s = timed(lambda: loaded.append(load_latest(folder)))
        report["snapshot"] = {
            "disk_mb": round(size / 2**20, 1),
            "save_s": round(save_s, 2),
            "load_s": round(load_s, 2),
            "load_peak_allocated_mb": peak_allocated_mb(lambda: load_latest(folder)),
        }
    print(json.dumps(report["snapshot"]))
    served = loaded[0].model  # what a serving process has: factors from disk, no solver yet

    rng = np.random.default_rng(1)
    sample = rng.choice(np.flatnonzero(per_user > 0), size=SAMPLED_USERS, replace=False)
    served.fold_in(matrix[sample[:1]])  # builds the solver and Y'Y once, as the first request
    fold = [timed(lambda u=u: served.fold_in(matrix[u : u + 1])) for u in tqdm(sample, "fold")]
    batch_s = timed(lambda: served.fold_in(matrix[sample]))

    def cf_recommend(u: int) -> None:
        row = matrix[u : u + 1]
        scores = served.scores(row, np.array([-1]))  # folded in, scored over every item
        scores[0, row.indices] = -np.inf
        top_k(scores, 10)

    cf = [timed(lambda u=u: cf_recommend(u)) for u in tqdm(sample, "cf recommend")]
    content = rng.standard_normal((args.items, CONTENT_DIM)).astype(np.float32)
    hybrid = HybridRecommender(item_ids, content, served, LIVE_BLEND).use_fitted(served, data)

    def hybrid_recommend(u: int) -> None:
        row = matrix[u : u + 1]
        context = hybrid.context_for(((item_ids[i], 1.0) for i in row.indices), user_ids[u])
        context.position = -1  # as the service does: fold the current history in
        hybrid.recommend(context, 10)

    blended = [timed(lambda u=u: hybrid_recommend(u)) for u in tqdm(sample, "hybrid recommend")]
    # the reasons cache each liked item's closeness floor: a user's next request is cheaper
    again = [timed(lambda u=u: hybrid_recommend(u)) for u in tqdm(sample, "hybrid again")]
    history = per_user[sample]
    report["serving"] = {
        "users_sampled": SAMPLED_USERS,
        "sampled_history_p50_max": [int(np.median(history)), int(history.max())],
        "fold_in_one_user_ms": quantiles_ms(fold),
        "fold_in_users_per_s_batched": round(SAMPLED_USERS / batch_s),
        "cf_recommend_top10_ms": quantiles_ms(cf),
        "hybrid_recommend_top10_ms": quantiles_ms(blended),
        "hybrid_recommend_top10_again_ms": quantiles_ms(again),
        "content_dim": CONTENT_DIM,
    }
    print(json.dumps(report["serving"]))
    report["total_s"] = round(time.perf_counter() - started, 1)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
