import json

import numpy as np
import pytest
from PIL import Image

from retrieval.datasets.tuxpaint import captioned_stamps
from retrieval.encoders import Encoder, load_encoder
from retrieval.encoders.conse import conse_vectors
from retrieval.errors import EncoderError
from retrieval.images import load_image

CONCEPTS = {
    "frog": "a frog",
    "guitar": "a guitar",
    "sports car": "a fast car",
    "banana": "a banana",
}


def _unit_rows(array: np.ndarray) -> bool:
    return array.dtype == np.float32 and np.allclose(np.linalg.norm(array, axis=1), 1, atol=1e-5)


def test_default_encoder_follows_the_protocol(default_encoder):
    assert isinstance(default_encoder, Encoder)
    assert default_encoder.dim == 384
    texts = default_encoder.encode_texts(["a red bird", "a blue car"])
    images = default_encoder.encode_images([Image.new("RGB", (80, 60), "red")])
    assert texts.shape == (2, 384) and images.shape == (1, 384)
    assert _unit_rows(texts) and _unit_rows(images)
    assert default_encoder.encode_texts([]).shape == (0, 384)
    again = default_encoder.encode_texts(["a red bird"])
    np.testing.assert_allclose(again[0], texts[0], atol=1e-5)


MIXED_LENGTHS = [
    "a frog",
    "a long red bus with two decks driving through a rainy city street at night",
    "a cat",
    "an old wooden sailing ship with white sails on a calm blue sea",
    "a guitar",
]


def test_texts_of_mixed_lengths_keep_their_order(default_encoder):
    """Texts are embedded longest first (less padding per batch); each row must still be its own
    text's vector, as when embedded alone."""
    together = default_encoder.encode_texts(MIXED_LENGTHS)
    alone = np.concatenate([default_encoder.encode_texts([t]) for t in MIXED_LENGTHS])
    np.testing.assert_allclose(together, alone, atol=1e-5)


def test_default_encoder_matches_pictures_to_their_words(default_encoder, stamps_root):
    stamps = captioned_stamps(stamps_root)
    chosen = []
    for keyword in CONCEPTS:
        path = next(p for p, c in stamps if keyword in c.lower() and p.suffix == ".png")
        chosen.append(load_image(path))
    images = default_encoder.encode_images(chosen)
    texts = default_encoder.encode_texts(list(CONCEPTS.values()))
    similarity = texts @ images.T
    assert similarity.argmax(axis=1).tolist() == list(range(len(CONCEPTS)))  # text -> image
    assert similarity.argmax(axis=0).tolist() == list(range(len(CONCEPTS)))  # image -> text


def test_conse_weights_top_classes_by_probability():
    classes = np.eye(4, dtype=np.float32)
    logits = np.log(np.array([[0.5, 0.3, 0.15, 0.05]]))
    top2 = conse_vectors(logits, classes, top_t=2, temperature=1.0)
    np.testing.assert_allclose(top2[0], [0.625, 0.375, 0, 0], atol=1e-6)
    sharp = conse_vectors(logits, classes, top_t=4, temperature=0.01)
    np.testing.assert_allclose(sharp[0], [1, 0, 0, 0], atol=1e-6)


def test_unknown_encoder_names_are_refused():
    with pytest.raises(EncoderError, match="unknown encoder"):
        load_encoder("no-such-encoder")
    with pytest.raises(EncoderError, match="dimension"):
        load_encoder("random:abc")


def test_random_encoder_is_deterministic():
    encoder = load_encoder("random:32")
    a, b = encoder.encode_texts(["x", "y"]), encoder.encode_texts(["x", "y"])
    np.testing.assert_array_equal(a, b)
    assert _unit_rows(a) and abs(float(a[0] @ a[1])) < 0.9


@pytest.fixture(scope="module")
def tiny_clip_dir(tmp_path_factory):
    """A randomly initialised tiny CLIP with a character-level tokenizer, saved like a hub model."""
    from transformers import CLIPConfig, CLIPImageProcessorPil, CLIPModel, CLIPTokenizer

    folder = tmp_path_factory.mktemp("tiny-clip")
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for suffix in ("", "</w>"):
        for char in "abcdefghijklmnopqrstuvwxyz":
            vocab[char + suffix] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt")).save_pretrained(folder)
    small = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2)
    config = CLIPConfig(
        text_config=dict(
            small,
            vocab_size=len(vocab),
            max_position_embeddings=32,
            bos_token_id=0,
            eos_token_id=1,
            pad_token_id=1,
        ),
        vision_config=dict(small, image_size=32, patch_size=8),
        projection_dim=16,
    )
    CLIPModel(config).save_pretrained(folder)
    CLIPImageProcessorPil(
        size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}
    ).save_pretrained(folder)
    return folder


def test_hf_clip_loader_on_a_tiny_saved_model(tiny_clip_dir):
    encoder = load_encoder(f"hf:{tiny_clip_dir}")
    assert encoder.dim == 16 and encoder.name == f"clip-{tiny_clip_dir.name}"
    texts = encoder.encode_texts(["a red ball", "a dog", "a red ball"])
    images = encoder.encode_images(
        [Image.new("RGB", (50, 40), "red"), Image.new("RGB", (20, 30), "blue")]
    )
    assert texts.shape == (3, 16) and images.shape == (2, 16)
    assert _unit_rows(texts) and _unit_rows(images)
    np.testing.assert_allclose(texts[0], texts[2], atol=1e-5)
    assert not np.allclose(images[0], images[1])
    together = encoder.encode_texts(MIXED_LENGTHS)
    alone = np.concatenate([encoder.encode_texts([t]) for t in MIXED_LENGTHS])
    np.testing.assert_allclose(together, alone, atol=1e-5)


def test_hf_clip_missing_model_gives_an_actionable_error(tmp_path):
    with pytest.raises(EncoderError, match="local directory"):
        load_encoder(f"hf:{tmp_path / 'nothing-here'}")
