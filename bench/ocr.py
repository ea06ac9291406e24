"""Text in pictures, measured: OCR word recall, search by the words in a picture, and the cost.

Test set (seeded, retrieval/datasets/text_pictures.py): N real Tux Paint stamps on canvases
(480-1600 px; white, light or dark flat colour, gradient) with a phrase drawn on them (event
names, signs, word-list words; ten DejaVu faces, 16-115 px, level or turned up to 25 degrees,
on the picture, on a plate or outlined), plus N other stamps made the same way without text.

Reported:
- OCR word recall and precision (lower case, punctuation dropped, words matched as a
  multiset), with and without the gate, and broken down by size, angle, look and canvas;
- the gate: share of text pictures it passes, and of textless ones (false alarms), at its
  default and two other detection sizes;
- search R@10 for each phrase as a query among all 2N pictures (one positive, ties against
  the query), items scored by (a) the image vector, (b) the OCR text's vector, (c) the better
  of the two (how the index combines an item's vectors), OCR with and without the gate;
- cost per picture (medians, seconds): the gate, the read (detection + recognition), the
  whole OCR step with the gate and without, on pictures with and without text, next to the
  image tower on one picture (what ingest pays per picture today).

Writes bench/results/ocr.json.

    OPENBLAS_NUM_THREADS=1 python bench/ocr.py [--pictures 200] [--seed 20261129]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import time
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
from provenance import provenance
from tqdm import tqdm

from retrieval.datasets.text_pictures import TextPicture, iter_text_pictures
from retrieval.datasets.tuxpaint import stamps_dir
from retrieval.encoders.registry import default_cache_dir, load_encoder
from retrieval.metrics import first_relevant_ranks, rank_summary
from retrieval.ocr import TextReader

RESULTS = Path(__file__).parent / "results"
COMMAND = "OPENBLAS_NUM_THREADS=1 python bench/ocr.py"
OTHER_GATE_SIDES = (320, 640)


def words(text: str) -> list[str]:
    """The normaliser: lower case, letters and digits only."""
    return re.findall(r"[a-z0-9]+", text.lower())


def matched(truth: str, found: str) -> int:
    """Words of ``truth`` found in ``found``, each counted as often as it occurs in both."""
    return sum((Counter(words(truth)) & Counter(words(found))).values())


def timed(call, *args, **kwargs) -> tuple[object, float]:
    start = time.perf_counter()
    result = call(*args, **kwargs)
    return result, time.perf_counter() - start


def measure(pictures, reader: TextReader, gates: dict[int, TextReader], encoder) -> list[dict]:
    """One row per picture: the gate's answers, the read, its image vector, the timings."""
    rows = []
    for picture in tqdm(pictures, desc="pictures", unit="pic"):
        picture: TextPicture
        passed, gate_s = timed(reader.has_text, picture.image)
        found = reader.read(picture.image)
        vector, tower_s = timed(encoder.encode_images, [picture.image])
        style = picture.style
        rows.append(
            {
                "phrase": picture.phrase,
                "ocr": found.text,
                "gate": passed,
                "other_gates": {
                    side: timed(g.has_text, picture.image) for side, g in gates.items()
                },
                "gate_s": gate_s,
                "read_s": found.seconds,
                "tower_s": tower_s,
                "image_vector": vector[0],
                "size": style.size if style else None,
                "angle": abs(style.angle) if style else None,
                "look": look(picture) if style else None,
                "canvas": picture.canvas.split()[1],
                "font": style.font.stem if style else None,
            }
        )
    return rows


def look(picture: TextPicture) -> str:
    style = picture.style
    if style.outline:
        return "outlined"
    if style.plate:
        return "on a plate"
    return "light on the picture" if sum(style.fill) > 300 else "dark on the picture"


def ocr_quality(rows: list[dict], gated: bool) -> dict:
    """Word recall and precision on the text pictures, exact phrases, and text found in
    pictures without any."""
    texts = [r for r in rows if r["phrase"]]
    blank = [r for r in rows if not r["phrase"]]

    def found(r: dict) -> str:
        return r["ocr"] if (r["gate"] or not gated) else ""

    hits = sum(matched(r["phrase"], found(r)) for r in texts)
    truth = sum(len(words(r["phrase"])) for r in texts)
    said = sum(len(words(found(r))) for r in texts)
    return {
        "word_recall": round(hits / truth, 4),
        "word_precision": round(hits / said, 4) if said else None,
        "phrases_read_exactly": round(
            float(np.mean([words(found(r)) == words(r["phrase"]) for r in texts])), 4
        ),
        "textless_pictures_with_words_found": round(
            float(np.mean([bool(words(found(r))) for r in blank])), 4
        ),
        "words_found_in_textless_pictures": sum(len(words(found(r))) for r in blank),
    }


def breakdown(rows: list[dict], key: str) -> dict:
    """Word recall (no gate) and gate pass rate per value of ``key`` on the text pictures."""
    groups: dict = defaultdict(list)
    for r in rows:
        if r["phrase"]:
            groups[bucket(key, r[key])].append(r)
    return {
        name: {
            "pictures": len(group),
            "word_recall": round(
                sum(matched(r["phrase"], r["ocr"]) for r in group)
                / sum(len(words(r["phrase"])) for r in group),
                4,
            ),
            "gate_passes": round(float(np.mean([r["gate"] for r in group])), 4),
        }
        for name, group in sorted(groups.items())
    }


def bucket(key: str, value) -> str:
    if key == "size":
        return next(f"{lo}-{hi} px" for lo, hi in ((0, 23), (24, 39), (40, 63), (64, 999))
                    if lo <= value <= hi)  # fmt: skip
    if key == "angle":
        return {0: "level"}.get(value, "5-12 degrees" if value <= 12 else "25 degrees")
    return str(value)


def gate_quality(rows: list[dict]) -> dict:
    """Pass rates of the default gate and the others, with their median cost."""
    texts = [r for r in rows if r["phrase"]]
    blank = [r for r in rows if not r["phrase"]]
    readable = [r for r in texts if matched(r["phrase"], r["ocr"])]
    report = {
        "default": {
            "passes_text_pictures": round(float(np.mean([r["gate"] for r in texts])), 4),
            "passes_text_pictures_the_read_gets_a_word_of": round(
                float(np.mean([r["gate"] for r in readable])), 4
            ),
            "false_alarms_on_textless_pictures": round(
                float(np.mean([r["gate"] for r in blank])), 4
            ),
        }
    }
    report["default"]["median_seconds"] = round(statistics.median(r["gate_s"] for r in rows), 4)
    for side in OTHER_GATE_SIDES:
        report[f"gate_side {side}"] = {
            "passes_text_pictures": round(
                float(np.mean([r["other_gates"][side][0] for r in texts])), 4
            ),
            "false_alarms_on_textless_pictures": round(
                float(np.mean([r["other_gates"][side][0] for r in blank])), 4
            ),
            "median_seconds": round(statistics.median(r["other_gates"][side][1] for r in rows), 4),
        }
    return report


def costs(rows: list[dict]) -> dict:
    """Median seconds per picture. The whole step with the gate is the gate plus, where it
    passes, the read (exactly what ``read(image, gate=True)`` runs)."""

    def medians(group: list[dict]) -> dict:
        return {
            "gate": round(statistics.median(r["gate_s"] for r in group), 4),
            "read (detection + recognition)": round(
                statistics.median(r["read_s"] for r in group), 4
            ),
            "OCR step without the gate": round(statistics.median(r["read_s"] for r in group), 4),
            "OCR step with the gate": round(
                statistics.median(r["gate_s"] + (r["read_s"] if r["gate"] else 0) for r in group),
                4,
            ),
            "image tower, one picture": round(statistics.median(r["tower_s"] for r in group), 4),
        }

    texts = [r for r in rows if r["phrase"]]
    blank = [r for r in rows if not r["phrase"]]
    return {
        "pictures with text": medians(texts),
        "pictures without text": medians(blank),
        "all pictures (half with text)": medians(rows),
        "mean seconds per picture, all": {
            "OCR step without the gate": round(float(np.mean([r["read_s"] for r in rows])), 4),
            "OCR step with the gate": round(
                float(np.mean([r["gate_s"] + (r["read_s"] if r["gate"] else 0) for r in rows])),
                4,
            ),
            "image tower, one picture": round(float(np.mean([r["tower_s"] for r in rows])), 4),
        },
    }


def search(rows: list[dict], encoder) -> dict:
    """R@K of each phrase as a query among all pictures (one positive each, ties against)."""
    queries = [n for n, r in enumerate(rows) if r["phrase"]]
    query_vectors = encoder.encode_texts([rows[n]["phrase"] for n in queries])
    image_vectors = np.stack([r["image_vector"] for r in rows])
    relevant = np.zeros((len(queries), len(rows)), dtype=bool)
    relevant[np.arange(len(queries)), queries] = True
    image = query_vectors @ image_vectors.T
    report = {"image vector only": image}
    for label, gated in (("", False), (", gated", True)):
        texts = [r["ocr"] if (r["gate"] or not gated) else "" for r in rows]
        has = [n for n, t in enumerate(texts) if t]
        text_scores = np.full(image.shape, -np.inf)
        if has:
            text_scores[:, has] = query_vectors @ encoder.encode_texts([texts[n] for n in has]).T
        report[f"OCR text vector only{label}"] = text_scores
        report[f"best of image or OCR text{label}"] = np.maximum(image, text_scores)
    return {
        name: rank_summary(first_relevant_ranks(scores, relevant, ties_against=True))
        for name, scores in report.items()
    }


def examples(rows: list[dict]) -> list[dict]:
    """The first dozen text pictures and the first textless ones where words were found."""
    shown = [{"phrase": r["phrase"], "ocr": r["ocr"], "gate": r["gate"]} for r in rows[:12]]
    wrong = [r for r in rows if not r["phrase"] and r["ocr"]][:8]
    return shown + [{"phrase": None, "ocr": r["ocr"], "gate": r["gate"]} for r in wrong]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pictures", type=int, default=200, help="with text, and as many without")
    parser.add_argument("--seed", type=int, default=20261129)
    args = parser.parse_args()

    stamps = sorted(stamps_dir().rglob("*.png"))
    pictures = iter_text_pictures(stamps, args.pictures, args.pictures, seed=args.seed)
    encoder = load_encoder("default", default_cache_dir())
    reader = TextReader()
    gates = {side: TextReader(gate_side=side) for side in OTHER_GATE_SIDES}
    for r in (reader, *gates.values()):
        r.load()
    encoder.encode_images([next(iter_text_pictures(stamps, 1, 0, seed=1)).image])  # warm up
    load_before = os.getloadavg()
    rows = measure(pictures, reader, gates, encoder)
    load_after = os.getloadavg()

    report = {
        "provenance": provenance(encoder.name, COMMAND),
        "test_set": {
            "pictures_with_text": args.pictures,
            "pictures_without_text": args.pictures,
            "seed": args.seed,
            "stamps": str(stamps_dir()),
        },
        "reader": {
            "min_score": reader.min_score,
            "max_side": reader.max_side,
            "det_side": reader.det_side,
            "gate_side": reader.gate_side,
            "gate_score": reader.gate_score,
            "gate_aspect": reader.gate_aspect,
            "threads": reader.threads,
        },
        "machine": {
            "cpus": os.cpu_count(),
            "load_average_1min_before_and_after": [
                round(load_before[0], 2),
                round(load_after[0], 2),
            ],
        },
        "ocr": {
            "without the gate": ocr_quality(rows, False),
            "with the gate": ocr_quality(rows, True),
        },
        "ocr_by": {
            key: breakdown(rows, key) for key in ("size", "angle", "look", "canvas", "font")
        },
        "gate": gate_quality(rows),
        "search_text_to_picture": search(rows, encoder),
        "seconds_per_picture": costs(rows),
        "examples": examples(rows),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "ocr.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    for name, summary in report["search_text_to_picture"].items():
        print(f"{name:40s} R@1 {summary['R@1']:6.2f}  R@10 {summary['R@10']:6.2f}")
    print(json.dumps({k: report[k] for k in ("ocr", "gate", "seconds_per_picture")}, indent=1))


if __name__ == "__main__":
    main()
