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
