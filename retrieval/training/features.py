"""Frozen-tower features, computed once and cached, so training on this 2-core machine takes
minutes: per image the tower's pooled features and ImageNet logits, per text the sentence
embedding. Cached under ``cache_dir/features`` keyed by the content of the inputs."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from retrieval.datasets.pairs import PairSet
from retrieval.encoders.conse import ConSEEncoder
from retrieval.evaluate import RetrievalEvaluator
from retrieval.metrics import relevance_matrix

log = logging.getLogger(__name__)


@dataclass
class PairFeatures:
    """Everything training needs about a PairSet, as arrays aligned with the PairSet."""

    image_features: np.ndarray  # (images, 1280) pooled tower features
    image_base: np.ndarray  # (images, dim) ConSE vectors
    text_base: np.ndarray  # (captions, dim) sentence embeddings (centred like ConSE's)
    relevant: list[list[int]]  # caption -> images (indices into the kept images)
    kept: list[int]  # PairSet image indices that could be read

    def relevance_matrix(self) -> np.ndarray:
        """Boolean (captions, images) matrix of correct matches."""
        return relevance_matrix(self.relevant, len(self.image_base))


def _key(pairs: PairSet, encoder: ConSEEncoder) -> str:
    digest = hashlib.sha256(encoder.name.encode())
    for path in pairs.images:
        digest.update(str(path).encode())
        try:
            stat = Path(path).stat()
            digest.update(f"{stat.st_size}:{stat.st_mtime_ns}".encode())
        except OSError:
            digest.update(b"missing")
    for caption in pairs.captions:
        digest.update(caption.encode())
    return digest.hexdigest()[:24]


def pair_features(
    pairs: PairSet, encoder: ConSEEncoder, cache_dir: Path | None, progress: bool = True
) -> PairFeatures:
    """Tower outputs for a PairSet (cached on disk when ``cache_dir`` is given)."""
    cache_file = Path(cache_dir) / "features" / f"{_key(pairs, encoder)}.npz" if cache_dir else None
    if cache_file is not None and cache_file.exists():
        data = np.load(cache_file, allow_pickle=False)
        features, logits, kept = data["features"], data["logits"], data["kept"].tolist()
    else:
        tower = encoder.image_tower

        class TowerOnly:  # the evaluator's encoder interface, keeping both tower outputs
            dim = 1280 + 1000

            def encode_images(self, images):
                out = tower.forward(images)
                return np.concatenate([out.features, out.logits], axis=1)

        stacked, kept = RetrievalEvaluator(pairs, progress=progress).encode_images(TowerOnly())
        features, logits = stacked[:, :1280], stacked[:, 1280:]
        if cache_file is not None:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            partial = cache_file.with_suffix(".partial.npz")
            np.savez(partial, features=features, logits=logits, kept=np.array(kept))
            partial.replace(cache_file)
    relevant = pairs.relevant_among(kept)
    return PairFeatures(
        image_features=features.astype(np.float32),
        image_base=encoder.encode_logits(logits),
        text_base=encoder.encode_texts(pairs.captions),
        relevant=relevant,
        kept=kept,
    )


def concat_features(parts: list[PairFeatures]) -> PairFeatures:
    """One feature set from several (image indices are shifted; ``kept`` loses its meaning)."""
    relevant, offset = [], 0
    for part in parts:
        relevant.extend([[i + offset for i in rel] for rel in part.relevant])
        offset += len(part.image_base)
    return PairFeatures(
        image_features=np.concatenate([p.image_features for p in parts]),
        image_base=np.concatenate([p.image_base for p in parts]),
        text_base=np.concatenate([p.text_base for p in parts]),
        relevant=relevant,
        kept=list(range(offset)),
    )
