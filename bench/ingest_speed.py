"""How fast the demo's first ingest runs, the old pipeline against the new one on the same items.

The items are the demo's: the Tux Paint stamps with their sounds (``audio="paired"``, gated OCR,
descriptions, Whisper for the sounds), or a seeded sample of them. Each repeat ingests them
into a fresh embedded index once with each pipeline, interleaved (their order rotated every
repeat) so that a busy machine slows all alike; figures are medians over the repeats.

- ``baseline``: the code before this change: every stage in turn in one thread, the image
  tower in PyTorch in batches of 32, every caption encoded, Whisper with its temperature
  fallback, SVGs rasterised to a PNG that Pillow decodes again.
- ``pipelined, 1 reader``: reading (decode, SVG, OCR, Whisper) runs two chunks ahead of the
  encoders in a thread, the image tower in ONNX Runtime (one thread) in its default batches,
  OCR with one thread (was two), each distinct caption encoded once, Whisper decoding once at
  temperature 0, SVG pixels taken straight from cairo's surface;
- ``pipelined`` (the default now): the same with two reader threads, each staging whole
  chunks on its own set of OCR models, four chunks ahead.

Per stage it reports the seconds spent inside it (busy time: in the pipelined run stages
overlap, so they add up to more than the wall time). The ceiling is the image tower's own
forward rate on preprocessed tensors (PyTorch and ONNX Runtime, several batch sizes); items/s
is also given as a share of ONNX Runtime's best. Writes bench/results/ingest_speed.json and
ingest_speed.png.

    OPENBLAS_NUM_THREADS=1 python bench/ingest_speed.py [--items 1178 --repeats 3]
"""

from __future__ import annotations

import argparse
import functools
import io
import json
import random
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from plotting import pyplot
from provenance import provenance

import retrieval.images as images
import retrieval.ingest as ingest
from assistant.speech import load_transcriber
from assistant.speech.faster import WHISPER_FALLBACK, FasterWhisperTranscriber
from retrieval.datasets.tuxpaint import stamps_dir
from retrieval.discovery import discover
from retrieval.encoders import load_encoder
from retrieval.encoders.image_tower import EfficientNetLiteTower
from retrieval.encoders.text_tower import SentenceTextTower
from retrieval.index import MediaIndex
from retrieval.library import INGEST_OCR_THREADS, INGEST_READ_AHEAD, INGEST_READERS
from retrieval.ocr import TextReader

RESULTS = Path(__file__).parent / "results"
BASELINE_TOWER_BATCH = 32  # the tower's batch before this change
TOWER_BATCHES = (1, 2, 4, 8, 16, 32)


@dataclass(frozen=True)
class Pipeline:
    """One way to run the ingest."""

    prefetch: int
    tower_batch: int
    cache_captions: bool
    onnx: bool
    readers: int = 1
    whisper_fallback: bool = False  # Whisper decodes again, hotter, when a decode looks failed
    svg_through_png: bool = False  # SVGs rasterised to a PNG and decoded again


class StageClock:
    """Seconds spent inside named functions, from any thread."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self._lock = threading.Lock()
        self._undo: list = []

    def time(self, owner: object, attribute: str, stage: str) -> None:
        original = getattr(owner, attribute)

        @functools.wraps(original)
        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                with self._lock:
                    self.seconds[stage] += time.perf_counter() - started
                    self.calls[stage] += 1

        self._undo.append((owner, attribute, owner.__dict__[attribute]))
        setattr(owner, attribute, timed)

    def reset(self) -> None:
        self.seconds.clear()
        self.calls.clear()

    def restore(self) -> None:
        for owner, attribute, original in reversed(self._undo):
            setattr(owner, attribute, original)


def render_svg_through_png(data: bytes, label: str) -> Image.Image:
    """The SVG rasteriser before this change: CairoSVG writes a PNG, Pillow decodes it (the
    same pixels as ``retrieval.images``' render straight from cairo's surface)."""
    import cairosvg

    png = cairosvg.svg2png(
        bytestring=images._inline_internal_entities(data),
        output_width=images.SVG_RENDER_SIDE,
        background_color="white",
        unsafe=False,
    )
    return Image.open(io.BytesIO(png)).convert("RGB")


def install(clock: StageClock) -> None:
    """Time each stage of the ingest (the functions each stage runs)."""
    clock.time(ingest, "read_limited", "read file")
    clock.time(images, "_decode_raster", "decode raster")
    clock.time(images, "_render_svg", "rasterise SVG (cairo)")
    clock.time(TextReader, "read", "OCR (gate + read)")
    clock.time(EfficientNetLiteTower, "forward", "image tower (preprocess + forward)")
    clock.time(SentenceTextTower, "embed", "text tower")
    clock.time(MediaIndex, "add", "Chroma writes")
    clock.time(MediaIndex, "existing", "Chroma lookups")


def tower_ceiling(tower: EfficientNetLiteTower, repeats: int) -> dict[str, dict[str, float]]:
    """Images/s of the tower's forward pass on preprocessed tensors, per runtime (PyTorch with
    its default threads, ONNX Runtime as ingest runs it) and batch size."""
    side = tower.image_size
    pixels = np.random.default_rng(0).uniform(-1, 1, (32, 3, side, side)).astype(np.float32)
    batch = torch.from_numpy(pixels)

    def torch_forward(start: int, size: int) -> None:
        tower.model._fc(tower.model.extract_features(batch[start : start + size]).mean((2, 3)))

    def onnx_forward(start: int, size: int) -> None:
        tower.onnx(pixels[start : start + size])  # type: ignore[misc]

    runtimes = {"pytorch": torch_forward, "onnx": onnx_forward}
    rates = {name: {str(size): [] for size in TOWER_BATCHES} for name in runtimes}
    with torch.inference_mode():
        for forward in runtimes.values():
            forward(0, 2)
        for _ in range(repeats):
            for size in TOWER_BATCHES:
                for name, forward in runtimes.items():
                    started = time.perf_counter()
                    for start in range(0, len(pixels), size):
                        forward(start, size)
                    rates[name][str(size)].append(len(pixels) / (time.perf_counter() - started))
    return {
        name: {size: round(float(np.median(r)), 2) for size, r in by_size.items()}
        for name, by_size in rates.items()
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=0, help="a seeded sample (0: all)")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    encoder = load_encoder("default")
    tower: EfficientNetLiteTower = encoder.conse.image_tower  # type: ignore[attr-defined]
    pipelines = {
        "baseline": Pipeline(
            0,
            BASELINE_TOWER_BATCH,
            cache_captions=False,
            onnx=False,
            whisper_fallback=True,
            svg_through_png=True,
        ),
        "pipelined, 1 reader": Pipeline(2, tower.batch_size, cache_captions=True, onnx=True),
        "pipelined": Pipeline(
            INGEST_READ_AHEAD, tower.batch_size, True, onnx=True, readers=INGEST_READERS
        ),
    }
    runner = tower.onnx
    if runner is None:
        raise SystemExit("the ONNX image tower is not available: pip install onnx==1.23.2")
    readers = {
        "before": TextReader(),
        "now": TextReader(threads=INGEST_OCR_THREADS, engines=INGEST_READERS),
    }
    for reader in readers.values():
        reader.load()
    speech = load_transcriber()
    speech_before = FasterWhisperTranscriber(temperature=WHISPER_FALLBACK)
    records = discover(stamps_dir(), audio="paired")
    if 0 < args.items < len(records):
        records = random.Random(0).sample(records, args.items)
    render = images._render_svg
    svg_through_png = [False]  # whether the running pipeline renders SVGs the old way
    images._render_svg = lambda data, label: (
        render_svg_through_png if svg_through_png[0] else render
    )(data, label)
    clock = StageClock()
    install(clock)
    clock.time(FasterWhisperTranscriber, "transcribe", "Whisper")
    runs: dict[str, list[dict]] = {name: [] for name in pipelines}
    vectors: dict[str, tuple[list[str], np.ndarray]] = {}
    try:
        for repeat in range(args.repeats):
            order = (
                list(pipelines)[repeat % len(pipelines) :]
                + list(pipelines)[: repeat % len(pipelines)]
            )
            for name in order:
                pipeline = pipelines[name]
                tower.batch_size = pipeline.tower_batch
                tower.onnx = runner if pipeline.onnx else None
                svg_through_png[0] = pipeline.svg_through_png
                clock.reset()
                with tempfile.TemporaryDirectory() as work:
                    index = MediaIndex(work, encoder_name=encoder.name, dim=encoder.dim)
                    ingestor = ingest.Ingestor(
                        index,
                        encoder,
                        transcribe=(
                            speech_before if pipeline.whisper_fallback else speech
                        ).transcribe,
                        read_text=readers["now" if pipeline.prefetch else "before"],
                        prefetch=pipeline.prefetch,
                        readers=pipeline.readers,
                        cache_captions=pipeline.cache_captions,
                    )
                    started = time.perf_counter()
                    report = ingestor.ingest(records, progress=False)
                    seconds = time.perf_counter() - started
                    vectors[name] = index.vectors("content")
                run = {
                    "seconds": round(seconds, 2),
                    "items_per_second": round(len(records) / seconds, 3),
                    "added": report.added,
                    "refused": len(report.refused),
                    "stages": {k: round(v, 2) for k, v in sorted(clock.seconds.items())},
                    "calls": dict(clock.calls),
                }
                runs[name].append(run)
                print(repeat, name, run["seconds"], "s", run["items_per_second"], "items/s")
                print("   ", run["stages"], flush=True)
    finally:
        clock.restore()
        images._render_svg = render
        tower.batch_size = pipelines["pipelined"].tower_batch
        tower.onnx = runner
    ceiling = tower_ceiling(tower, args.repeats)
    best = max(ceiling["onnx"].values())
    rows = {}
    for name, done in runs.items():
        rate = float(np.median([r["items_per_second"] for r in done]))
        stages = {k: round(float(np.median([r["stages"].get(k, 0.0) for r in done])), 2)
                  for k in done[0]["stages"]}  # fmt: skip
        rows[name] = {
            "pipeline": pipelines[name].__dict__,
            "median_seconds": round(float(np.median([r["seconds"] for r in done])), 2),
            "median_items_per_second": round(rate, 3),
            "share_of_tower_ceiling": round(rate / best, 3),
            "speedup_over_baseline": None,
            "median_stage_seconds": stages,
            "runs": done,
        }
    for row in rows.values():
        row["speedup_over_baseline"] = round(
            row["median_items_per_second"] / rows["baseline"]["median_items_per_second"], 2
        )
    ratio = rows["pipelined"]["speedup_over_baseline"]
    ids_b, vec_b = vectors["baseline"]
    ids_p, vec_p = vectors["pipelined"]
    order = {item_id: n for n, item_id in enumerate(ids_p)}
    same_ids = sorted(ids_b) == sorted(ids_p)
    max_diff = float(np.abs(vec_b - vec_p[[order[i] for i in ids_b]]).max()) if same_ids else None
    command = "OPENBLAS_NUM_THREADS=1 python bench/ingest_speed.py"
    result = {
        "provenance": provenance(encoder.name, command),
        "items": f"{len(records)} records of the demo's library (Tux Paint stamps, sounds "
        "paired; gated OCR, descriptions, Whisper tiny.en), fresh embedded index per run",
        "torch_threads": torch.get_num_threads(),
        "repeats": args.repeats,
        "speedup": round(ratio, 2),
        "same_ids": same_ids,
        "max_abs_content_vector_difference": max_diff,
        "tower_ceiling_images_per_second": ceiling,
        "rows": rows,
    }
    print(json.dumps({k: v for k, v in result.items() if k != "rows"}, indent=2))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "ingest_speed.json").write_text(json.dumps(result, indent=2) + "\n")
    plot(rows, RESULTS / "ingest_speed.png")
    return 0


def plot(rows: dict, target: Path) -> None:
    """Busy seconds per stage, baseline beside pipelined, with each one's wall time."""
    plt = pyplot()
    stages = sorted({s for row in rows.values() for s in row["median_stage_seconds"]})
    fig, ax = plt.subplots(figsize=(8, 5.5))
    width = 0.8 / len(rows)
    for n, (name, row) in enumerate(rows.items()):
        values = [row["median_stage_seconds"].get(s, 0.0) for s in stages]
        ax.barh(
            [y + n * width for y in range(len(stages))],
            values,
            width,
            label=f"{name}: {row['median_seconds']} s wall, "
            f"{row['median_items_per_second']} items/s",
        )
    ax.set_yticks([y + width * (len(rows) - 1) / 2 for y in range(len(stages))], stages)
    ax.set_xlabel("busy seconds in the stage (median over repeats)")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(target, dpi=120)


if __name__ == "__main__":
    sys.exit(main())
