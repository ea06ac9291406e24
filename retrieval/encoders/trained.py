"""TrainedEncoder: ConSE's frozen towers with trained AlignedHeads on top (``trained:<dir>``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from retrieval.encoders.conse import ConSEEncoder
from retrieval.encoders.multilingual import STUDENT_FILE, MultilingualText, StudentMap
from retrieval.encoders.registry import trained_encoder_name
from retrieval.training.fusion_training import load_fusion
from retrieval.training.model import AlignedHeads


class TrainedEncoder:
    """Images: tower features + ConSE vector through the image head; texts: the sentence
    embedding through the text head. Same space, same dim as ConSE."""

    def __init__(
        self, conse: ConSEEncoder, heads_dir: str | Path, cache_dir: str | Path | None = None
    ):
        self.conse = conse
        self.heads = AlignedHeads.load(heads_dir)
        self.fusion = load_fusion(heads_dir)
        self.name = trained_encoder_name(heads_dir)
        self.dim = conse.dim
        student = Path(heads_dir) / STUDENT_FILE  # the multilingual text side, where trained
        self.multilingual = None
        if student.is_file():
            self.multilingual = MultilingualText(
                StudentMap.load(student), cache_dir=Path(cache_dir) if cache_dir else None
            )

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        """Sentence embeddings through the text head (text the English tower does not
        understand through the multilingual student first, where there is one)."""
        return self.encode_texts_in(texts, None)

    @torch.inference_mode()
    def encode_texts_in(self, texts: Sequence[str], language: str | None) -> np.ndarray:
        """``encode_texts`` for texts known to be in ``language`` (None: identified per text)."""
        sentences = self.conse.text_tower.embed(texts)
        if self.multilingual is not None:
            sentences = self.multilingual.route(
                sentences, texts, self.conse.text_tower.embed, language
            )
        base = torch.from_numpy(self.conse.centre_texts(sentences))
        return self.heads.texts(base).numpy() if len(base) else base.numpy()

    def encode_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        """Tower features and ConSE vectors through the image head."""
        return self.encode_and_describe(images)[0]

    @torch.inference_mode()
    def encode_and_describe(
        self, images: Sequence[Image.Image], top: int = 3
    ) -> tuple[np.ndarray, list[list[tuple[str, float]]]]:
        """Image vectors and, from the same tower pass, the top ImageNet labels of each."""
        output = self.conse.image_tower.forward(images)
        base = torch.from_numpy(self.conse.encode_logits(output.logits))
        if not len(base):
            return base.numpy(), []
        vectors = self.heads.images(torch.from_numpy(output.features), base).numpy()
        return vectors, self.conse.describe_logits(output.logits, top)

    @torch.inference_mode()
    def fuse(self, content: np.ndarray, captions: np.ndarray) -> np.ndarray | None:
        """One vector per item from its content vector and caption vector (rows of zeros where
        an item has no caption), by the gated fusion trained beside the heads; None without one."""
        if self.fusion is None:
            return None
        content_t = torch.as_tensor(content, dtype=torch.float32)
        captions_t = torch.as_tensor(captions, dtype=torch.float32)
        present = torch.stack([torch.ones(len(content_t), dtype=torch.bool), captions_t.any(1)], 1)
        fused, _ = self.fusion(torch.stack([content_t, captions_t], dim=1), present)
        return fused.numpy()
