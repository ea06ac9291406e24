"""TrainedEncoder: ConSE's frozen towers with trained AlignedHeads on top (``trained:<dir>``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from retrieval.encoders.conse import ConSEEncoder
from retrieval.encoders.multilingual import MultilingualText, StudentMap
from retrieval.encoders.registry import default_cache_dir, trained_encoder_name
from retrieval.encoders.students import DEFAULT_STUDENT, load_student, student_file
from retrieval.errors import EncoderError
from retrieval.training.fusion_training import load_fusion
from retrieval.training.model import AlignedHeads


class TrainedEncoder:
    """Images: tower features + ConSE vector through the image head; texts: the sentence
    embedding through the text head. Same space, same dim as ConSE."""

    def __init__(
        self,
        conse: ConSEEncoder,
        heads_dir: str | Path,
        cache_dir: str | Path | None = None,
        student: str = DEFAULT_STUDENT,
    ):
        """``student``: the multilingual sentence model (retrieval/encoders/students.py) whose
        map the heads folder holds; its vectors replace the English tower's for other
        languages. Images and English texts are the same whichever it is, so is the name."""
        self.conse = conse
        self.heads = AlignedHeads.load(heads_dir)
        self.fusion = load_fusion(heads_dir)
        self.name = trained_encoder_name(heads_dir)
        self.dim = conse.dim
        self.multilingual = multilingual_side(heads_dir, student, cache_dir)

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


def multilingual_side(
    heads_dir: str | Path, student: str = DEFAULT_STUDENT, cache_dir: str | Path | None = None
) -> MultilingualText | None:
    """The multilingual text side of a heads folder on the sentence model ``student``: None for
    the default student where the folder holds no map (heads trained before it), an
    EncoderError for another student without its map or its model."""
    fitted = Path(heads_dir) / student_file(student)
    if not fitted.is_file():
        if student == DEFAULT_STUDENT:
            return None
        raise EncoderError(
            f"{heads_dir} holds no map for the {student} student ({fitted.name}): fit one "
            f"with python -m retrieval.training.multilingual --student {student}"
        )
    cache = Path(cache_dir) if cache_dir else None
    model = load_student(student, str(cache or default_cache_dir()))
    return MultilingualText(StudentMap.load(fitted), model, cache)
