"""RetrievalEvaluator: encode a PairSet with any encoder and report bidirectional metrics."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
from PIL import Image
from tqdm import tqdm

from retrieval.datasets.pairs import PairSet
from retrieval.encoders.base import Encoder, batched
from retrieval.errors import MediaError
from retrieval.images import load_image
from retrieval.metrics import answerable_metrics, per_pair_metrics

log = logging.getLogger(__name__)
Protocol = Literal["merged", "clip_benchmark"]


@dataclass
class RetrievalEvaluator:
    """Evaluates an encoder on one PairSet; images that cannot be read are dropped and counted."""

    pairs: PairSet
    batch_size: int = 32
    progress: bool = True
    image_loader: Callable[[object], Image.Image] = load_image

    def encode_images(self, encoder: Encoder) -> tuple[np.ndarray, list[int]]:
        """Encode every readable image; returns the vectors and the indices that were kept."""
        vectors, kept = [], []
        indices = list(range(len(self.pairs.images)))
        bar = tqdm(
            total=len(indices), desc="encoding images", disable=not self.progress, unit="img"
        )
        for chunk in batched(indices, self.batch_size):
            images = []
            for i in chunk:
                try:
                    images.append(self.image_loader(self.pairs.images[i]))
                    kept.append(i)
                except MediaError as exc:
                    log.warning("skipping unreadable image: %s", exc)
            if images:
                vectors.append(encoder.encode_images(images))
            bar.update(len(chunk))
        bar.close()
        return np.concatenate(vectors) if vectors else np.zeros((0, encoder.dim), np.float32), kept

    def run(self, encoder: Encoder, protocol: Protocol = "merged") -> dict:
        """Return ``{"text_to_image": {...}, "image_to_text": {...}, "n_images", "n_captions"}``
        under ``protocol`` (see ``score``)."""
        image_vectors, kept = self.encode_images(encoder)
        text_vectors = encoder.encode_texts(self.pairs.captions)
        return self.score(text_vectors, image_vectors, kept, protocol)

    def score(
        self,
        text_vectors: np.ndarray,
        image_vectors: np.ndarray,
        kept: list[int],
        protocol: Protocol = "merged",
    ) -> dict:
        """Metrics from precomputed vectors (captions in PairSet order, images as ``kept``).
        ``merged``: identical caption texts are one query, right for any of their images, ties
        go to the query; ``clip_benchmark``: every caption of every image is its own query
        with one positive, and ties count against it (``per_pair_metrics``)."""
        relevant = self.pairs.relevance_matrix()[:, kept]
        if protocol == "clip_benchmark":
            position = {image: n for n, image in enumerate(kept)}
            links = [(c, position[i]) for c, rel in enumerate(self.pairs.relevant)
                     for i in rel if i in position]  # fmt: skip
            result: dict = per_pair_metrics(text_vectors, image_vectors, links)
            result["n_captions"] = len(links)
        else:
            result = answerable_metrics(text_vectors @ image_vectors.T, relevant)
            result["n_captions"] = int(relevant.any(axis=1).sum())
        result["protocol"] = protocol
        result["n_images"] = len(kept)
        result["n_unreadable"] = len(self.pairs.images) - len(kept)
        return result
