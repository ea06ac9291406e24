"""Recommender speed on MovieLens-100k (warm protocol's training matrix): fit time of each
model (the two-tower model on 2 torch threads, 75 epochs) and the time to recommend top-10 for
every user (score all items, drop seen, take top 10), medians of repeated runs. Writes
bench/results/recsys_speed.json.

    OPENBLAS_NUM_THREADS=1 python bench/recsys_speed.py
"""

from __future__ import annotations

import json
import os
import statistics
import time
from pathlib import Path

import numpy as np
from provenance import provenance

from recsys.datasets import load_movielens_100k, tag_matrix
from recsys.metrics import top_k
from recsys.models import make_model
from recsys.protocols import Protocol, temporal_split

RESULTS = Path(__file__).parent / "results"
REPEATS = 5
TWOTOWER_EPOCHS = 75  # the middle of the epochs chosen on validation (bench/recsys_compare.py)


def timed(fn) -> float:
    started = time.perf_counter()
    fn()
    return time.perf_counter() - started


def main() -> None:
    dataset = load_movielens_100k()
    users = sorted({r.user for r in dataset.ratings})
    split = temporal_split(dataset.ratings, users, dataset.items, Protocol())
    matrix = split.train.matrix
    positions = np.arange(matrix.shape[0])
    report = {
        "provenance": provenance("none", "OPENBLAS_NUM_THREADS=1 python bench/recsys_speed.py"),
        "dataset": "ml-100k, warm-protocol training matrix "
        "(rating >= 4, last 20% per user held out)",
        "matrix": {"users": matrix.shape[0], "items": matrix.shape[1], "nonzeros": int(matrix.nnz)},
        "machine": {
            "cpus": os.cpu_count(),
            "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS"),
        },
        "repeats": REPEATS,
        "models": {},
    }
    # the two-tower model learns from item features: the genre and decade tags here (the
    # content vector's principal components would add a few columns; the cost is the epochs)
    tags, _ = tag_matrix(dataset.items, dataset.item_tags)
    options = {"twotower": {"item_features": tags, "epochs": TWOTOWER_EPOCHS}}
    for name in ("popularity", "itemknn", "als", "bpr", "twotower"):
        fits, recommends = [], []
        for seed in range(REPEATS):
            model = make_model(name, seed, **options.get(name, {}))
            fits.append(timed(lambda model=model: model.fit(split.train)))

            def recommend_all(model=model) -> None:
                scores = model.scores(matrix, positions)
                rows, cols = matrix.nonzero()
                scores[rows, cols] = -np.inf
                top_k(scores, 10)

            recommends.append(timed(recommend_all))
        report["models"][name] = {
            "fit_s_median": round(statistics.median(fits), 3),
            "recommend_all_users_s_median": round(statistics.median(recommends), 3),
        }
        print(name, report["models"][name])
    report["twotower_epochs"] = TWOTOWER_EPOCHS
    als = report["models"]["als"]
    report["als_vs_itemknn_fit_ratio"] = round(
        als["fit_s_median"] / report["models"]["itemknn"]["fit_s_median"], 2
    )
    report["targets"] = {
        "als_fit_under_2s": als["fit_s_median"] < 2.0,
        "recommend_all_under_1s": als["recommend_all_users_s_median"] < 1.0,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "recsys_speed.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
