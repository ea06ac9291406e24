"""Hugging Face CLIP encoder (``transformers.CLIPModel``) from a hub id or a local directory."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from retrieval.encoders.base import batched, by_length, l2_normalise, tokenized_batches
from retrieval.errors import EncoderError


class HFClipEncoder:
    """Real CLIP checkpoints (e.g. ``openai/clip-vit-base-patch32``) for users with the internet."""

    def __init__(self, model_id_or_dir: str | Path, batch_size: int = 32):
        from transformers import AutoTokenizer, CLIPImageProcessorPil, CLIPModel

        source = str(model_id_or_dir)
        try:
            self.model = CLIPModel.from_pretrained(source).eval()
            self.tokenizer = AutoTokenizer.from_pretrained(source)
            self.image_processor = CLIPImageProcessorPil.from_pretrained(source)
        except (OSError, ValueError) as exc:
            raise EncoderError(
                f"cannot load a CLIP model from {source!r}: {exc}. Offline, pass a local "
                "directory holding config.json, the weights, the tokenizer and "
                "preprocessor_config.json"
            ) from exc
        self.dim = int(self.model.config.projection_dim)
        self.name = "clip-" + Path(source.rstrip("/")).name
        self.batch_size = batch_size
        self.max_length = int(self.model.config.text_config.max_position_embeddings)

    @torch.inference_mode()
    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        """CLIP text embeddings, L2-normalised."""
        ordered, back = by_length(texts)
        out = []
        for tokens in tokenized_batches(self.tokenizer, ordered, self.batch_size, self.max_length):
            features = self.model.get_text_features(
                input_ids=tokens["input_ids"], attention_mask=tokens["attention_mask"]
            )
            out.append(_as_array(features))
        if not out:
            return np.zeros((0, self.dim), np.float32)
        return l2_normalise(np.concatenate(out)[back])

    @torch.inference_mode()
    def encode_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        """CLIP image embeddings, L2-normalised."""
        out = []
        for chunk in batched(list(images), self.batch_size):
            pixels = self.image_processor(
                images=[im.convert("RGB") for im in chunk], return_tensors="pt"
            )
            out.append(
                _as_array(self.model.get_image_features(pixel_values=pixels["pixel_values"]))
            )
        return l2_normalise(np.concatenate(out)) if out else np.zeros((0, self.dim), np.float32)


def _as_array(features: object) -> np.ndarray:
    """transformers 5 returns a model output whose ``pooler_output`` is the projected embedding;
    older releases return the tensor itself."""
    if not isinstance(features, torch.Tensor):
        features = features.pooler_output
    return features.float().numpy()
