"""Top-K ranking metrics: precision, recall, nDCG, MAP at K, and catalogue coverage."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the k best finite scores per row, best first (rows with fewer get -1 padding)."""
    k = min(k, scores.shape[1])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    order = np.take_along_axis(-scores, part, axis=1).argsort(axis=1, kind="stable")
    ranked = np.take_along_axis(part, order, axis=1)
    finite = np.isfinite(np.take_along_axis(scores, ranked, axis=1))
    return np.where(finite, ranked, -1)


def ranking_metrics(
    scores: np.ndarray, relevant: Sequence[set[int]], k: int = 10, n_candidates: int | None = None
) -> dict[str, float]:
    """Mean precision@k, recall@k, nDCG@k and MAP@k over users (rows), and coverage@k.

    ``relevant[u]`` holds the column indices user u should find; users with none are skipped.
    Coverage is the share of the ``n_candidates`` items that appear in anyone's top k.
    """
    ranked = top_k(scores, k)
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    precision, recall, ndcg, average_precision = [], [], [], []
    for row, truth in zip(ranked, relevant, strict=True):
        if not truth:
            continue
        hits = np.array([item in truth for item in row], dtype=float)
        precision.append(hits.sum() / k)
        recall.append(hits.sum() / len(truth))
        ideal = discounts[: min(len(truth), k)].sum()
        ndcg.append(float(hits @ discounts[: len(hits)]) / ideal)
        cumulative = np.cumsum(hits) / np.arange(1, len(hits) + 1)
        average_precision.append(float((cumulative * hits).sum()) / min(len(truth), k))
    recommended = np.unique(ranked[ranked >= 0])
    total = n_candidates if n_candidates is not None else scores.shape[1]
    return {
        f"precision@{k}": round(float(np.mean(precision)), 4) if precision else 0.0,
        f"recall@{k}": round(float(np.mean(recall)), 4) if recall else 0.0,
        f"ndcg@{k}": round(float(np.mean(ndcg)), 4) if ndcg else 0.0,
        f"map@{k}": round(float(np.mean(average_precision)), 4) if average_precision else 0.0,
        f"coverage@{k}": round(len(recommended) / max(1, total), 4),
        "users": len(precision),
    }
