"""Accuracy floors on the Tux Paint test split of the grouped protocol (whole stamp folders on
one side, so the shipped heads never saw these kinds of things; retrieval/datasets/tuxpaint.py).

bench/alignment_ablation.py: ConSE 45.0 / 42.8, the shipped default 55.8 / 53.0 text->image /
image->text R@10; chance is about 3%."""

import numpy as np

from retrieval.datasets.pairs import PairSet
from retrieval.datasets.tuxpaint import load_tuxpaint
from retrieval.encoders import load_encoder
from retrieval.encoders.conse import ConSEConfig
from retrieval.encoders.registry import build_conse
from retrieval.training.features import pair_features
from retrieval.training.trainer import embed_features, evaluate_embeddings


def test_shipped_default_beats_conse_and_random_does_not(default_encoder, model_cache):
    test = pair_features(
        load_tuxpaint("test", grouping="folder"),
        build_conse(ConSEConfig(), model_cache),
        None,
        progress=False,
    )
    assert len(test.kept) == len(test.image_base)  # every stamp is readable
    conse = evaluate_embeddings(test.image_base, test.text_base, test)
    shipped = evaluate_embeddings(*embed_features(default_encoder.heads, test), test)
    assert shipped["text_to_image"]["R@10"] >= conse["text_to_image"]["R@10"] + 5
    assert shipped["image_to_text"]["R@10"] >= conse["image_to_text"]["R@10"]
    assert shipped["text_to_image"]["median_rank"] <= 15
    assert conse["text_to_image"]["R@10"] >= 38.0

    rng = np.random.default_rng(0)
    chance = evaluate_embeddings(
        rng.standard_normal(test.image_base.shape), rng.standard_normal(test.text_base.shape), test
    )
    assert chance["text_to_image"]["R@10"] < 10.0


def test_the_encoder_on_raw_inputs_is_the_heads_on_cached_features(default_encoder, model_cache):
    """What the index uses (pictures and texts in) equals what the bench measures (features)."""
    from retrieval.images import load_image

    pairs = load_tuxpaint("test", grouping="folder")
    conse = build_conse(ConSEConfig(), model_cache)
    few = PairSet.from_pairs(pairs.pairs()[:6])
    features = pair_features(few, conse, None, progress=False)
    images, texts = embed_features(default_encoder.heads, features)
    raw_images = default_encoder.encode_images([load_image(few.images[i]) for i in features.kept])
    assert np.allclose(raw_images, images, atol=1e-4)
    assert np.allclose(default_encoder.encode_texts(few.captions), texts, atol=1e-4)
    assert load_encoder("conse", model_cache).name != default_encoder.name
