"""Accuracy floors on the Tux Paint test split (the protocol is in retrieval/datasets/tuxpaint.py).

ConSE lands at about 46% text->image R@10 (bench/retrieval_quality.py); chance is about 3%."""

import numpy as np

from retrieval.datasets.tuxpaint import load_tuxpaint
from retrieval.encoders import load_encoder
from retrieval.evaluate import RetrievalEvaluator


def test_default_encoder_clears_the_floor_and_random_does_not(default_encoder, stamps_root):
    evaluator = RetrievalEvaluator(load_tuxpaint("test", stamps_root), progress=False)
    image_vectors, kept = evaluator.encode_images(default_encoder)
    assert len(kept) == len(evaluator.pairs.images)  # every stamp is readable
    result = evaluator.score(
        default_encoder.encode_texts(evaluator.pairs.captions), image_vectors, kept
    )
    assert result["text_to_image"]["R@10"] >= 38.0
    assert result["image_to_text"]["R@10"] >= 35.0
    assert result["text_to_image"]["median_rank"] <= 40

    random = load_encoder("random:384")
    chance = evaluator.score(
        random.encode_texts(evaluator.pairs.captions),
        random.encode_texts([str(p) for p in evaluator.pairs.images]),
        kept,
    )
    assert chance["text_to_image"]["R@10"] < 10.0
    assert np.isfinite(chance["image_to_text"]["mean_rank"])
