"""TrainedEncoder: ConSE's frozen towers with trained AlignedHeads on top (``trained:<dir>``)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from retrieval.encoders.conse import ConSEEncoder
from retrieval.training.model import WEIGHTS_FILE, AlignedHeads


class TrainedEncoder:
    """Images: tower features + ConSE vector through the image head; texts: the sentence
    embedding through the text head. Same space, same dim as ConSE."""

    def __init__(self, conse: ConSEEncoder, heads_dir: str | Path):
        self.conse = conse
        self.heads = AlignedHeads.load(heads_dir)
        digest = hashlib.sha1((Path(heads_dir) / WEIGHTS_FILE).read_bytes()).hexdigest()[:8]
        self.name = f"trained-{digest}"
        self.dim = conse.dim

    @torch.inference_mode()
    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Sentence embeddings through the text head."""
        base = torch.from_numpy(self.conse.encode_texts(texts))
        return self.heads.texts(base).numpy() if len(base) else base.numpy()

    @torch.inference_mode()
    def encode_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        """Tower features and ConSE vectors through the image head."""
        output = self.conse.image_tower.forward(images)
        base = torch.from_numpy(self.conse.encode_logits(output.logits))
        if not len(base):
            return base.numpy()
        return self.heads.images(torch.from_numpy(output.features), base).numpy()
