"""ConSE (Norouzi et al., 2014): a training-free bridge from an ImageNet classifier to a text space.

An image becomes the probability-weighted sum of the text embeddings of its top-T predicted
ImageNet classes, so it lands in the sentence-embedding space where captions and queries live.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from retrieval.encoders.base import l2_normalise
from retrieval.encoders.class_names import Wording, imagenet_class_texts
from retrieval.encoders.image_tower import EfficientNetLiteTower, Fit
from retrieval.encoders.text_tower import SentenceTextTower

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConSEConfig:
    """ConSE settings. The defaults were chosen on the Tux Paint DEV split (docs/conse.md)."""

    variant: str = "lite2"
    fit: Fit = "pad"
    wording: Wording = "description"
    top_t: int = 20
    temperature: float = 1.0
    centre: float = 0.5

    def slug(self) -> str:
        """Short stable name for this configuration (used in encoder and collection names)."""
        digest = hashlib.sha1(repr(sorted(asdict(self).items())).encode()).hexdigest()[:6]
        return f"conse-{self.variant}-{digest}"


def conse_vectors(
    logits: np.ndarray, class_embeddings: np.ndarray, top_t: int, temperature: float
) -> np.ndarray:
    """Softmax(logits / temperature) restricted to the top-T classes, renormalised, times the
    class embeddings: (N, C) x (C, D) -> (N, D), not yet normalised."""
    logits = np.asarray(logits, dtype=np.float64) / temperature
    top_t = max(1, min(top_t, logits.shape[1]))
    top = np.argpartition(-logits, top_t - 1, axis=1)[:, :top_t]
    top_logits = np.take_along_axis(logits, top, axis=1)
    weights = np.exp(top_logits - top_logits.max(axis=1, keepdims=True))
    weights /= weights.sum(axis=1, keepdims=True)
    return np.einsum("nt,ntd->nd", weights, class_embeddings[top]).astype(np.float32)


def class_embeddings(
    text_tower: SentenceTextTower, wording: Wording, cache_dir: Path | None
) -> np.ndarray:
    """Embed every ImageNet class (mean of its texts, normalised); cached on disk if possible."""
    cache_file = None
    if cache_dir is not None:
        cache_file = Path(cache_dir) / "conse" / f"classes-{wording}-{text_tower.name}.npy"
        if cache_file.exists():
            return np.load(cache_file)
    texts = imagenet_class_texts(wording)
    flat = [t for group in texts for t in group]
    log.info("embedding %d ImageNet class texts (%s wording)", len(flat), wording)
    vectors = text_tower.embed(flat)
    bounds = np.cumsum([0] + [len(g) for g in texts])
    means = np.stack([vectors[a:b].mean(axis=0) for a, b in itertools.pairwise(bounds)])
    result = l2_normalise(means)
    if cache_file is not None:
        try:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            partial = cache_file.with_suffix(".partial.npy")
            np.save(partial, result)
            partial.replace(cache_file)
        except OSError as exc:  # a read-only or full cache only costs time
            log.warning("could not cache class embeddings in %s: %s", cache_file, exc)
    return result


class ConSEEncoder:
    """Images through EfficientNet-Lite + ConSE, texts through the sentence tower; one space."""

    def __init__(
        self,
        text_tower: SentenceTextTower,
        image_tower: EfficientNetLiteTower,
        config: ConSEConfig = ConSEConfig(),
        cache_dir: Path | None = None,
    ):
        self.text_tower = text_tower
        self.image_tower = image_tower
        self.config = config
        self.classes = class_embeddings(text_tower, config.wording, cache_dir)
        self.centre_vector = config.centre * self.classes.mean(axis=0)
        self.dim = text_tower.dim
        self.name = config.slug()

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Sentence embeddings, centred like the image side."""
        return self.centre_texts(self.text_tower.embed(texts))

    def centre_texts(self, sentence_vectors: np.ndarray) -> np.ndarray:
        """The text tower's sentence vectors, centred like the image side."""
        return l2_normalise(sentence_vectors - self.centre_vector)

    def encode_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        """ConSE vectors of the images."""
        return self.encode_logits(self.image_tower.forward(images).logits)

    def encode_and_describe(
        self, images: Sequence[Image.Image], top: int = 3
    ) -> tuple[np.ndarray, list[list[tuple[str, float]]]]:
        """ConSE vectors and, from the same tower pass, the top ImageNet labels of each."""
        logits = self.image_tower.forward(images).logits
        if not len(logits):
            return np.zeros((0, self.dim), np.float32), []
        return self.encode_logits(logits), self.describe_logits(logits, top)

    def describe_logits(self, logits: np.ndarray, top: int = 3) -> list[list[tuple[str, float]]]:
        """What the image tower sees: per image the ``top`` ImageNet class names with their
        probabilities, as words a language model can use."""
        names = _clean_class_names()
        shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
        probabilities = shifted / shifted.sum(axis=1, keepdims=True)
        best = np.argsort(-probabilities, axis=1)[:, :top]
        return [
            [(names[c], round(float(p[c]), 3)) for c in row]
            for row, p in zip(best, probabilities, strict=True)
        ]

    def encode_logits(self, logits: np.ndarray) -> np.ndarray:
        """ConSE vectors from precomputed ImageNet logits (lets callers cache the tower)."""
        cfg = self.config
        vectors = conse_vectors(logits, self.classes, cfg.top_t, cfg.temperature)
        return l2_normalise(vectors - self.centre_vector)


@functools.lru_cache(maxsize=1)
def _clean_class_names() -> list[str]:
    return [texts[0] for texts in imagenet_class_texts("clean")]
