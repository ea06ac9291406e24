"""Text in pictures (OCR) with rapidocr's PP-OCR ONNX models, which ship inside its wheel.

``TextReader`` loads the models once, lazily, from the installed wheel (never from the
network). ``has_text`` is the cheap gate: the detection model alone on the picture shrunk to
``gate_side`` pixels, answering yes when it finds a box shaped like a line of text (wider
than ``gate_aspect`` times its height). ``read`` runs detection, direction classification and
recognition on the picture (detection on it shrunk to ``det_side``, recognition on lines cut
out of it at up to ``max_side``) and keeps the lines scored
at least ``min_score`` with at least two letters or digits, in reading order.

    reader = TextReader()
    if reader.has_text(image):
        found = reader.read(image)   # found.text, found.lines, found.seconds
    # or, the same in one call:
    found = reader.read(image, gate=True)
"""

from __future__ import annotations

import copy
import logging
import queue
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from retrieval.cpus import default_threads
from retrieval.errors import MediaError, OCRError, OCRUnavailableError
from retrieval.images import flatten, load_image

RAPIDOCR_VERSION = "3.10.0"
MODEL_FILES = {
    "Det": "PP-OCRv6_det_small.onnx",
    "Cls": "ch_ppocr_mobile_v2.0_cls_mobile.onnx",
    "Rec": "PP-OCRv6_rec_small.onnx",
}
MIN_SIDE = 8  # pixels: below this nothing is legible and the models are not run
MIN_CHARS = 2  # letters or digits in a kept line: lone characters are mostly misread drawing
INSTALL_HINT = f"pip install rapidocr=={RAPIDOCR_VERSION} (its models ship inside the wheel)"

Box = tuple[tuple[float, float], ...]


@dataclass(frozen=True)
class TextLine:
    """One line of text: what it says, the recogniser's confidence (0-1) and its four corners
    (x, y) in the given picture's pixels, clockwise from the top left."""

    text: str
    score: float
    box: Box


@dataclass(frozen=True)
class PictureText:
    """The text found in a picture: ``text`` is the lines joined by newlines in reading order
    (top to bottom, then left to right); ``seconds`` is the time the call took; ``skipped``
    says that the gate found no text, so recognition did not run."""

    text: str
    lines: tuple[TextLine, ...]
    seconds: float
    skipped: bool = False

    def __bool__(self) -> bool:
        return bool(self.text)


@dataclass(frozen=True)
class _Models:
    """One set of the reader's models: rapidocr's engine and the gate's detector. A set runs
    one picture at a time (rapidocr keeps per-call state in its objects)."""

    engine: Any
    gate: Any


class TextReader:
    """Reads text in pictures. Construct once and share: the models load on first use. Up to
    ``engines`` calls run at once from different threads, each on its own set of models
    (about 50 MB each, made when first needed); further calls wait for a free set."""

    def __init__(
        self,
        *,
        min_score: float = 0.8,
        max_side: int = 2000,
        det_side: int = 960,
        gate_side: int = 480,
        gate_score: float = 0.3,
        gate_aspect: float = 2.5,
        threads: int | None = None,
        engines: int = 1,
    ) -> None:
        if not 0.0 <= min_score <= 1.0:
            raise ValueError(f"min_score must be between 0 and 1, not {min_score}")
        if min(max_side, det_side, gate_side) < 32:
            raise ValueError("max_side, det_side and gate_side must be at least 32 pixels")
        if engines < 1:
            raise ValueError(f"engines must be at least 1, not {engines}")
        self.min_score = min_score
        self.max_side = max_side
        self.det_side = det_side
        self.gate_side = gate_side
        self.gate_score = gate_score
        self.gate_aspect = gate_aspect
        self.threads = threads or default_threads()
        self.engines = engines
        self._idle: queue.LifoQueue[_Models] = queue.LifoQueue()
        self._made = 0
        self._lock = threading.Lock()  # guards _made

    def load(self) -> None:
        """Load one set of models now (otherwise the first call does): 1-2 s."""
        with self._models():
            pass

    def has_text(self, image: Image.Image) -> bool:
        """The cheap gate: does the picture seem to hold a line of text worth reading?"""
        pixels = as_bgr(image, self.gate_side)
        if pixels is None:
            return False
        found = self._run("gate", pixels, "the text detector")
        boxes = found.boxes if found.boxes is not None else []
        scores = found.scores or []
        return any(
            score >= self.gate_score and aspect_ratio(box) >= self.gate_aspect
            for box, score in zip(boxes, scores, strict=False)
        )

    def read(self, image: Image.Image, *, gate: bool = False) -> PictureText:
        """The text in the picture; with ``gate``, only when ``has_text`` says there is some
        (otherwise an empty result with ``skipped`` set, at the gate's cost)."""
        start = time.perf_counter()
        if gate and not self.has_text(image):
            return PictureText("", (), time.perf_counter() - start, skipped=True)
        pixels = as_bgr(image, self.max_side)
        if pixels is None:
            return PictureText("", (), time.perf_counter() - start)
        scale = max(image.size) / max(pixels.shape[:2])
        result = self._run("engine", pixels, "text recognition")
        lines = tuple(
            TextLine(
                text.strip(),
                round(float(score), 4),
                tuple((float(x) * scale, float(y) * scale) for x, y in box),
            )
            for text, score, box in _triples(result)
            if score >= self.min_score and sum(ch.isalnum() for ch in text) >= MIN_CHARS
        )
        return PictureText(
            "\n".join(line.text for line in lines), lines, time.perf_counter() - start
        )

    def _run(self, model: str, pixels: np.ndarray, what: str) -> Any:
        """One model (``gate`` or ``engine``) on the pixels, on a free set of models;
        OCRError if it fails."""
        with self._models() as models:
            try:
                return (models.gate if model == "gate" else models.engine)(pixels)
            except Exception as exc:
                raise OCRError(
                    f"{what} failed on this picture ({exc}); skip its text, or re-save the "
                    "picture as PNG or JPEG and try again"
                ) from exc

    @contextmanager
    def _models(self) -> Iterator[_Models]:
        """A set of models for this call alone: an idle one, a new one while fewer than
        ``engines`` exist, else the next to come free."""
        try:
            models = self._idle.get_nowait()
        except queue.Empty:
            with self._lock:
                make = self._made < self.engines
                self._made += make
            if make:
                try:
                    models = self._load()
                except BaseException:
                    with self._lock:
                        self._made -= 1
                    raise
            else:
                models = self._idle.get()
        try:
            yield models
        finally:
            self._idle.put(models)

    def read_file(self, path: str | Path, *, gate: bool = False) -> PictureText:
        """``read`` on an image file, loaded safely (MediaError for a bad file)."""
        return self.read(load_image(path), gate=gate)

    def _load(self) -> _Models:
        """Build a set of models: rapidocr's engine and the gate's detector."""
        rapidocr, models = _rapidocr_and_models()
        from rapidocr.ch_ppocr_det import TextDetector

        params: dict[str, Any] = {
            "Global.log_level": "error",
            "Global.text_score": 0.0,  # filtered here, so each line keeps its score
            "Global.max_side_len": self.max_side,
            # Detection on the picture shrunk to det_side (rapidocr's default instead enlarges
            # the short side to 736, so a 1600x1200 photo is detected at full size); lines are
            # still cut out of the picture at up to max_side for recognition.
            "Det.limit_type": "max",
            "Det.limit_side_len": self.det_side,
            "EngineConfig.onnxruntime.intra_op_num_threads": self.threads,
            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
        }
        # An explicit model path for every stage: rapidocr then never looks for (or
        # downloads) a model; the recogniser's character list is inside its ONNX file.
        params.update({f"{stage}.model_path": str(models / f) for stage, f in MODEL_FILES.items()})
        try:
            engine = rapidocr.RapidOCR(params=params)
            engine._load_det_model()
            engine._load_cls_model()
            engine._load_rec_model()
            gate_cfg = copy.deepcopy(engine.cfg.Det)
            gate_cfg.limit_type = "max"
            gate_cfg.limit_side_len = self.gate_side
            gate_cfg.box_thresh = self.gate_score
            gate = TextDetector(gate_cfg)
        except Exception as exc:
            raise OCRUnavailableError(
                f"rapidocr could not load its models from {models} ({exc}); reinstall: "
                f"pip install --force-reinstall rapidocr=={RAPIDOCR_VERSION}"
            ) from exc
        logging.getLogger("RapidOCR").setLevel(logging.ERROR)
        return _Models(engine, gate)


def _rapidocr_and_models() -> tuple[Any, Path]:
    """The rapidocr module and the folder of its packaged models, or an OCRUnavailableError
    saying how to install them."""
    try:
        import rapidocr
    except ImportError as exc:
        raise OCRUnavailableError(
            f"reading text in pictures needs rapidocr: {INSTALL_HINT}"
        ) from exc
    version = metadata.version("rapidocr")
    models = Path(rapidocr.__file__).parent / "models"
    missing = [f for f in MODEL_FILES.values() if not (models / f).is_file()]
    if missing:
        raise OCRUnavailableError(
            f"rapidocr {version} at {models} lacks {', '.join(missing)}: {INSTALL_HINT}"
        )
    return rapidocr, models


def _triples(result: Any) -> list[tuple[str, float, np.ndarray]]:
    """(text, score, box) of each line of a rapidocr result (which lacks fields when empty)."""
    texts, scores, boxes = (getattr(result, name, None) for name in ("txts", "scores", "boxes"))
    if texts is None or scores is None or boxes is None:
        return []
    return list(zip(texts, scores, boxes, strict=True))


def aspect_ratio(box: np.ndarray) -> float:
    """Long side over short side of a detected (possibly rotated) quadrilateral."""
    corners = np.asarray(box, dtype=np.float64)
    sides = np.linalg.norm(corners - np.roll(corners, -1, axis=0), axis=1)
    long_side = max(sides[0] + sides[2], sides[1] + sides[3]) / 2
    short_side = min(sides[0] + sides[2], sides[1] + sides[3]) / 2
    return float(long_side / max(short_side, 1.0))


def as_bgr(image: Image.Image, max_side: int) -> np.ndarray | None:
    """The picture as the BGR uint8 array rapidocr expects, shrunk to ``max_side`` pixels at
    most; transparency is flattened onto black or white, whichever contrasts with the opaque
    pixels. ``None`` for a picture too small to hold legible text."""
    if not isinstance(image, Image.Image):
        raise MediaError(
            f"expected a PIL image, got {type(image).__name__}: load files with "
            "retrieval.images.load_image or TextReader.read_file"
        )
    try:
        image.load()
    except (OSError, SyntaxError, ValueError) as exc:
        raise MediaError(
            f"the picture cannot be decoded ({exc}): re-save or re-export it"
        ) from None
    if min(image.size) < MIN_SIDE:
        return None
    if max(image.size) > max_side:
        ratio = max_side / max(image.size)
        size = (max(1, round(image.width * ratio)), max(1, round(image.height * ratio)))
        if min(size) < MIN_SIDE:
            return None
        image = _eight_bit(image).resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
    rgb = flatten(_eight_bit(image), "contrast")
    return np.ascontiguousarray(np.asarray(rgb)[:, :, ::-1])


def _eight_bit(image: Image.Image) -> Image.Image:
    """32-bit integer and float pictures (scans, 16-bit PNGs) stretched to 8-bit grey."""
    if image.mode not in ("I", "I;16", "I;16B", "I;16L", "F"):
        return image
    values = np.asarray(image, dtype=np.float64)
    low, high = float(values.min()), float(values.max())
    scaled = (values - low) * (255.0 / (high - low)) if high > low else np.zeros_like(values)
    return Image.fromarray(scaled.astype(np.uint8), "L")
