"""Retrieval metrics: Recall@K, median and mean rank, in both directions."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

DEFAULT_KS = (1, 5, 10)


def first_relevant_ranks(
    scores: np.ndarray, relevant: np.ndarray, ties_against: bool = False
) -> np.ndarray:
    """1-based rank of the best-scored relevant column for each row of ``scores``.

    ``scores`` and ``relevant`` are (queries, candidates); a row with no relevant column is an
    error. Ties with non-relevant candidates are broken in the query's favour, or, with
    ``ties_against`` (CLIP_benchmark / open_clip's headline protocol), against it.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.shape != relevant.shape:
        raise ValueError(f"scores {scores.shape} and relevance {relevant.shape} differ in shape")
    if not relevant.any(axis=1).all():
        raise ValueError("every query needs at least one relevant candidate")
    best_relevant = np.where(relevant, scores, -np.inf).max(axis=1, keepdims=True)
    beaten = scores >= best_relevant if ties_against else scores > best_relevant
    beaten_by = (beaten & ~relevant).sum(axis=1)
    return beaten_by + 1


def rank_summary(ranks: np.ndarray, ks: Sequence[int] = DEFAULT_KS) -> dict[str, float]:
    """Recall@K in percent, median rank and mean rank of a rank vector."""
    ranks = np.asarray(ranks)
    summary = {f"R@{k}": round(float((ranks <= k).mean() * 100), 2) for k in ks}
    summary["median_rank"] = float(np.median(ranks))
    summary["mean_rank"] = round(float(ranks.mean()), 2)
    return summary


def rsum(metrics: dict[str, dict[str, float]], ks: Sequence[int] = DEFAULT_KS) -> float:
    """Sum of the recalls at ``ks`` in both directions: one number for model selection."""
    return round(
        sum(metrics[d][f"R@{k}"] for d in ("text_to_image", "image_to_text") for k in ks), 2
    )


def relevance_matrix(relevant: Sequence[Sequence[int]], n_candidates: int) -> np.ndarray:
    """Boolean (queries, candidates) matrix from each query's list of relevant candidates."""
    matrix = np.zeros((len(relevant), n_candidates), dtype=bool)
    for query, candidates in enumerate(relevant):
        matrix[query, list(candidates)] = True
    return matrix


def answerable_metrics(similarity: np.ndarray, relevant: np.ndarray) -> dict[str, dict[str, float]]:
    """``bidirectional_metrics`` over the queries that have a relevant candidate at all (a
    caption whose images could not be read is left out instead of failing)."""
    keep = relevant.any(axis=1)
    return bidirectional_metrics(similarity[keep], relevant[keep])


def bidirectional_metrics(
    similarity: np.ndarray, relevant: np.ndarray, ks: Sequence[int] = DEFAULT_KS
) -> dict[str, dict[str, float]]:
    """Metrics for a (captions, images) similarity matrix: text->image and image->text."""
    return {
        "text_to_image": rank_summary(first_relevant_ranks(similarity, relevant), ks),
        "image_to_text": rank_summary(first_relevant_ranks(similarity.T, relevant.T), ks),
    }


def per_pair_metrics(
    text_vectors: np.ndarray,
    image_vectors: np.ndarray,
    links: Sequence[tuple[int, int]],
    ks: Sequence[int] = DEFAULT_KS,
) -> dict[str, dict[str, float]]:
    """CLIP_benchmark / open_clip's protocol: every (caption, image) link is its own text query
    with its own image as the one positive, and every link is a caption candidate for the image
    queries (an image is right when any of its captions is in the top K); ties count against
    the query. ``links``: (row of ``text_vectors``, row of ``image_vectors``) pairs."""
    captions = np.array([c for c, _ in links])
    images = np.array([i for _, i in links])
    scores = text_vectors[captions] @ image_vectors.T  # links x images
    text_relevant = np.zeros(scores.shape, dtype=bool)
    text_relevant[np.arange(len(links)), images] = True
    queried = np.unique(images)
    image_relevant = text_relevant.T[queried]
    return {
        "text_to_image": rank_summary(first_relevant_ranks(scores, text_relevant, True), ks),
        "image_to_text": rank_summary(
            first_relevant_ranks(scores.T[queried], image_relevant, True), ks
        ),
    }
