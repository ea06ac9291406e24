from pathlib import Path

import numpy as np
import pytest

from retrieval.metrics import bidirectional_metrics, first_relevant_ranks, rank_summary


def test_ranks_by_construction():
    scores = np.array([[0.9, 0.1, 0.5], [0.2, 0.3, 0.8], [0.7, 0.6, 0.1]])
    relevant = np.eye(3, dtype=bool)
    # row 0: own item best -> 1; row 1: 0.3 beaten by 0.8 -> 2; row 2: 0.1 beaten by both -> 3
    assert first_relevant_ranks(scores, relevant).tolist() == [1, 2, 3]


def test_several_relevant_items_count_the_best_one():
    scores = np.array([[0.1, 0.9, 0.5]])
    relevant = np.array([[True, False, True]])
    assert first_relevant_ranks(scores, relevant).tolist() == [2]


def test_summary_values():
    summary = rank_summary(np.array([1, 2, 6, 20]))
    assert summary == {
        "R@1": 25.0,
        "R@5": 50.0,
        "R@10": 75.0,
        "median_rank": 4.0,
        "mean_rank": 7.25,
    }


def test_bidirectional_uses_transpose_for_image_to_text():
    # two captions for image 0, one for image 1; caption 2 (image 1) prefers image 0
    similarity = np.array([[0.9, 0.1], [0.8, 0.2], [0.7, 0.4]])
    relevant = np.array([[True, False], [True, False], [False, True]])
    result = bidirectional_metrics(similarity, relevant)
    assert result["text_to_image"]["R@1"] == pytest.approx(200 / 3, abs=0.01)
    # per image column: image 0's captions score 0.9/0.8 (first), image 1's caption 0.4 (first)
    assert result["image_to_text"]["R@1"] == 100.0


def test_query_without_relevant_item_is_an_error():
    with pytest.raises(ValueError, match="relevant"):
        first_relevant_ranks(np.zeros((1, 2)), np.zeros((1, 2), dtype=bool))


def test_random_scores_give_chance_recall():
    rng = np.random.default_rng(0)
    n = 400
    result = bidirectional_metrics(rng.standard_normal((n, n)), np.eye(n, dtype=bool))
    assert 0 < result["text_to_image"]["R@10"] < 6  # chance is 2.5%
    assert 150 < result["text_to_image"]["median_rank"] < 250


def test_clip_benchmark_protocol_counts_duplicate_captions_apart_and_ties_against():
    """The same similarity matrix through both protocols: two pictures share "A frog." and
    look alike; merged, the shared caption is one query right for either (R@1 100); per pair,
    each link is its own query and the twin's equal score counts against it."""
    from retrieval.datasets.pairs import PairSet
    from retrieval.evaluate import RetrievalEvaluator

    pairs = PairSet.from_pairs(
        [(Path("frog-1.png"), "A frog."), (Path("frog-2.png"), "A frog."),
         (Path("toad.png"), "A toad.")]
    )  # fmt: skip
    texts = np.array([[1.0, 0.0], [0.0, 1.0]])  # "A frog.", "A toad."
    images = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    evaluator = RetrievalEvaluator(pairs, progress=False)
    merged = evaluator.score(texts, images, [0, 1, 2], "merged")
    per_pair = evaluator.score(texts, images, [0, 1, 2], "clip_benchmark")
    assert merged["text_to_image"]["R@1"] == 100.0 and merged["n_captions"] == 2
    assert per_pair["n_captions"] == 3 and per_pair["protocol"] == "clip_benchmark"
    assert per_pair["text_to_image"]["R@1"] == 33.33  # only the toad's link is first
    assert per_pair["text_to_image"]["R@5"] == 100.0
    assert per_pair["image_to_text"]["R@1"] == 33.33  # a twin's tied caption beats each frog
