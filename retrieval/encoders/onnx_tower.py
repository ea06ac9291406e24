"""The image tower's forward pass in ONNX Runtime: the same network, several times faster on
a small CPU than PyTorch eager (bench/ingest_speed.py), and steady when other work shares the
cores, where PyTorch's spinning threads collapse.

The PyTorch tower stays the reference: its graph is exported once with ``torch.onnx.export``
into the model cache (named by a digest of the weights, the export settings and torch's version)
and the vectors are checked equal within float tolerance (tests/test_ingest_pipeline.py). The
``onnx`` package is needed only to export: a cached graph runs with ONNX Runtime alone. When
an export is needed and ``onnx`` is missing, or the export fails, the tower keeps running in
PyTorch and a warning says how to get the faster path.
"""

from __future__ import annotations

import hashlib
import logging
import warnings
from pathlib import Path

import numpy as np
import torch
from filelock import FileLock

log = logging.getLogger(__name__)
OPSET = 17
THREADS = 1  # one intra-op thread: ingest's reader thread uses the other core
INSTALL_HINT = "pip install onnx==1.23.2 (crossmedia[onnx]) for the faster image tower"


class _Pooled(torch.nn.Module):
    """Pooled penultimate features and logits of an EfficientNet, as one graph."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pooled = self.model.extract_features(batch).mean(dim=(2, 3))
        return pooled, self.model._fc(pooled)


class OnnxTower:
    """Runs an exported EfficientNet-Lite graph: (N, 3, S, S) float32 -> (features, logits)."""

    def __init__(self, path: Path, threads: int = THREADS) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.path = path
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def __call__(self, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        features, logits = self.session.run(None, {"pixels": np.ascontiguousarray(batch)})
        return features, logits


def export_path(model: torch.nn.Module, name: str, weights: Path, cache_dir: Path) -> Path:
    """Where the exported graph of these weights lives in the cache."""
    digest = hashlib.sha1()
    digest.update(f"{name}|{torch.__version__}|opset{OPSET}".encode())
    with weights.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return Path(cache_dir) / "models" / f"{name}-{digest.hexdigest()[:12]}.onnx"


def export(model: torch.nn.Module, side: int, target: Path) -> Path:
    """Export the tower to ``target`` once (other processes wait for the first)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target) + ".lock"):
        if target.is_file():
            return target
        partial = target.with_name(target.name + ".partial")
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the exporter's deprecation and folding notes
            torch.onnx.export(
                _Pooled(model).eval(),
                (torch.zeros(1, 3, side, side),),
                str(partial),
                input_names=["pixels"],
                output_names=["features", "logits"],
                dynamic_axes={"pixels": {0: "n"}, "features": {0: "n"}, "logits": {0: "n"}},
                opset_version=OPSET,
                dynamo=False,
            )
        partial.replace(target)
    return target


def load_onnx_tower(
    model: torch.nn.Module, name: str, side: int, weights: Path, cache_dir: Path
) -> OnnxTower | None:
    """The ONNX Runtime runner of this tower (exported on first use), or None (with a warning)
    where it cannot be made; the caller then keeps PyTorch."""
    target = export_path(model, name, weights, cache_dir)  # 16 ms for lite2's 25 MB
    try:
        import onnxruntime  # noqa: F401

        if not target.is_file():
            import onnx  # noqa: F401  (only the export needs it)
    except ImportError:
        log.warning("the image tower runs in PyTorch (slower): %s", INSTALL_HINT)
        return None
    try:
        return OnnxTower(export(model, side, target))
    except Exception as exc:  # an exporter or runtime failure only costs speed
        log.warning("the image tower runs in PyTorch: ONNX export failed (%s)", exc)
        return None
