"""A deterministic random encoder: the chance baseline for benchmarks and a fast stand-in for tests
of the index (each input hashes to its own fixed random unit vector)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
from PIL import Image

from retrieval.encoders.base import l2_normalise


class RandomEncoder:
    """Same input -> same vector; unrelated inputs -> near-orthogonal vectors."""

    def __init__(self, dim: int = 384):
        self.dim = dim
        self.name = f"random-{dim}"

    def _vector(self, data: bytes) -> np.ndarray:
        seed = int.from_bytes(hashlib.sha256(data).digest()[:8], "little")
        return np.random.default_rng(seed).standard_normal(self.dim)

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        """One pseudo-random vector per text."""
        return l2_normalise(
            np.array([self._vector(t.encode()) for t in texts]).reshape(-1, self.dim)
        )

    def encode_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        """One pseudo-random vector per image content."""
        return l2_normalise(
            np.array([self._vector(im.tobytes()) for im in images]).reshape(-1, self.dim)
        )
