"""Generated descriptions for uncaptioned pictures, measured on the Tux Paint stamps with the
shipped default encoder.

1. Calibration of the concept floor (TRAIN+DEV splits of the grouped protocol): for each of a
   picture's top-3 ImageNet concepts, does it match the human caption (a word of the concept's
   name or of one of its WordNet synonyms is a word of the caption, plurals folded)? Precision
   per probability bin and at or above each candidate floor.
2. Retrieval (TEST split, grouped; CLIP_benchmark protocol: each caption its own query with one
   positive, ties against the query): text->image when the pictures' captions are removed and
   they are searched (a) by their image vectors alone, (b) by the better of the image vector and
   the generated description's text vector (the index combines an item's vectors by max), (c) as
   (b) plus the fused vector fuse(image, description), (d) the image and the fused vector only
   (the description never matched alone); each for the description sentence, the sentence from
   the concepts only (no folder name), and the description's bare words (``search_text``;
   (d) with these is what ``retrieval.describe.describe_batch`` gives the index).

Writes bench/results/describe.json.

    OPENBLAS_NUM_THREADS=1 python bench/describe.py
"""

from __future__ import annotations

import itertools
import json
import re
import time
from pathlib import Path

import numpy as np
from provenance import provenance
from tqdm import tqdm

from retrieval.datasets.pairs import PairSet
from retrieval.datasets.tuxpaint import load_tuxpaint, stamps_dir
from retrieval.describe import (
    CONCEPT_FLOOR,
    describe,
    encode_and_label,
    fused_with_descriptions,
)
from retrieval.encoders.base import batched
from retrieval.encoders.class_names import imagenet_class_texts
from retrieval.encoders.registry import default_cache_dir, load_encoder
from retrieval.images import load_image
from retrieval.metrics import first_relevant_ranks, rank_summary

RESULTS = Path(__file__).parent / "results"
COMMAND = "OPENBLAS_NUM_THREADS=1 python bench/describe.py"
FLOORS = (0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5)
BINS = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5, 1.01)
TARGET_PRECISION = 0.5  # the floor chosen: the lowest at which most named concepts match
STOP = frozenset({"a", "an", "the", "of", "and", "or", "with", "in", "on", "for", "to", "its"})


def words(text: str) -> set[str]:
    """Lower-case content words with a plural 's' folded ("Two ducks." -> {"two", "duck"})."""
    found = set()
    for word in re.findall(r"[a-z]+", text.lower()):
        if word in STOP or len(word) < 3:
            continue
        found.add(word[:-1] if word.endswith("s") and not word.endswith("ss") else word)
    return found


def synonym_words() -> dict[str, set[str]]:
    """Clean ImageNet class name -> the words of all its WordNet synonyms."""
    clean = [t[0] for t in imagenet_class_texts("clean")]
    synonyms = imagenet_class_texts("synonyms")
    return {
        name: set().union(*(words(s) for s in group))
        for name, group in zip(clean, synonyms, strict=True)
    }


def label_split(encoder, pairs: PairSet, desc: str) -> tuple[np.ndarray, list, list[int]]:
    """Image vectors and top-3 labels of every readable picture of a split (one tower pass)."""
    vectors, labels, kept = [], [], []
    for chunk in tqdm(list(batched(list(range(len(pairs.images))), 32)), desc=desc, unit="batch"):
        images = []
        for i in chunk:
            try:
                images.append(load_image(pairs.images[i]))
                kept.append(i)
            except Exception:  # an unreadable stamp is left out, as the evaluator does
                continue
        v, rows = encode_and_label(encoder, images)
        vectors.append(v)
        labels.extend(rows)
    return np.concatenate(vectors), labels, kept


def calibration(pairs: PairSet, labels: list, kept: list[int]) -> dict:
    """Precision of named concepts against the human captions, by probability."""
    synonyms = synonym_words()
    captions_of: dict[int, set[str]] = {}
    for caption, images in zip(pairs.captions, pairs.relevant, strict=True):
        for image in images:
            captions_of.setdefault(image, set()).update(words(caption))
    observations = [
        (p, bool(synonyms.get(name, words(name)) & captions_of.get(image, set())))
        for image, row in zip(kept, labels, strict=True)
        for name, p in row
    ]
    probability = np.array([p for p, _ in observations])
    matched = np.array([m for _, m in observations])
    by_bin = []
    for low, high in itertools.pairwise(BINS):
        inside = (probability >= low) & (probability < high)
        by_bin.append(
            {
                "probability": f"[{low:g}, {min(high, 1):g})",
                "concepts": int(inside.sum()),
                "match_rate": round(float(matched[inside].mean()), 3) if inside.any() else None,
            }
        )
    at_floor = []
    for floor in FLOORS:
        above = probability >= floor
        named = sum(any(p >= floor for _, p in row) for row in labels)
        at_floor.append(
            {
                "floor": floor,
                "precision": round(float(matched[above].mean()), 3) if above.any() else None,
                "concepts_named": int(above.sum()),
                "pictures_with_a_concept": round(named / len(kept), 3),
            }
        )
    chosen = min(
        (row["floor"] for row in at_floor if (row["precision"] or 0) >= TARGET_PRECISION),
        default=max(FLOORS),
    )
    below = probability < chosen
    return {
        "split": pairs.name,
        "pictures": len(kept),
        "concepts_seen": len(observations),
        "match": "a word of the concept or of a WordNet synonym is a word of the caption",
        "by_probability": by_bin,
        "at_floor": at_floor,
        "rule": f"the lowest floor at which at least {TARGET_PRECISION:.0%} of concepts match",
        "chosen_floor": chosen,
        "floor_in_code": CONCEPT_FLOOR,
        "match_rate_below_floor": round(float(matched[below].mean()), 3) if below.any() else None,
    }


def text_to_image(pairs: PairSet, kept: list[int], queries: np.ndarray, scores: np.ndarray) -> dict:
    """CLIP_benchmark text->image metrics of a (captions, kept images) score matrix."""
    position = {image: n for n, image in enumerate(kept)}
    links = [(c, position[i]) for c, rel in enumerate(pairs.relevant) for i in rel if i in position]
    rows = scores[[c for c, _ in links]]
    relevant = np.zeros(rows.shape, dtype=bool)
    relevant[np.arange(len(links)), [i for _, i in links]] = True
    result = rank_summary(first_relevant_ranks(rows, relevant, ties_against=True))
    result["queries"] = len(links)
    return result


def retrieval(
    encoder, pairs: PairSet, vectors: np.ndarray, labels: list, kept: list[int], floor: float
) -> dict:
    """Text->image with captions removed: image vectors alone vs with generated descriptions."""
    root = stamps_dir()
    folders = [str(Path(pairs.images[i]).parent.relative_to(root)) for i in kept]
    with_folder = [describe(r, folder=f, floor=floor) for r, f in zip(labels, folders, strict=True)]
    concepts_only = [describe(row, floor=floor) for row in labels]
    queries = encoder.encode_texts(pairs.captions)
    image = queries @ vectors.T
    zero = np.zeros_like(vectors)
    conditions = {
        "(a) image vectors alone": image,
        "(a') image and fused(image, no caption), as the index holds an uncaptioned item": (
            np.maximum(image, queries @ encoder.fuse(vectors, zero).T)
        ),
    }
    examples = {}
    variants = {
        "sentence (concepts + folder)": [d.text for d in with_folder],
        "sentence (concepts only)": [d.text for d in concepts_only],
        "search words (concepts + folder)": [d.search_text for d in with_folder],
    }
    for name, texts in variants.items():
        described = [n for n, t in enumerate(texts) if t]
        text_vectors = zero.copy()
        text_vectors[described] = encoder.encode_texts([texts[n] for n in described])
        description = np.where([bool(t) for t in texts], queries @ text_vectors.T, -np.inf)
        if name.startswith("search words"):  # what retrieval.describe stores: the same
            fused = queries @ fused_with_descriptions(encoder, vectors, with_folder).T
        else:
            fused = queries @ encoder.fuse(vectors, text_vectors).T
        conditions[f"(b) max(image, description) — {name}"] = np.maximum(image, description)
        conditions[f"(c) max(image, description, fused(image, description)) — {name}"] = (
            np.maximum.reduce([image, description, fused])
        )
        conditions[f"(d) max(image, fused(image, description)) — {name}"] = np.maximum(image, fused)
        examples[name] = {
            "described_share": round(len(described) / len(texts), 3),
            "examples": [
                {"image": Path(pairs.images[kept[n]]).name, "description": texts[n]}
                for n in range(0, len(texts), max(1, len(texts) // 8))
            ][:8],
        }
    return {
        "split": pairs.name,
        "protocol": "clip_benchmark (each caption its own query, one positive, ties against)",
        "pictures": len(kept),
        "floor": floor,
        "text_to_image": {
            name: text_to_image(pairs, kept, queries, scores) for name, scores in conditions.items()
        },
        "descriptions": examples,
    }


def main() -> None:
    encoder = load_encoder("default", default_cache_dir())
    started = time.perf_counter()
    calibrate = PairSet.from_pairs(
        load_tuxpaint("train", grouping="folder").pairs()
        + load_tuxpaint("dev", grouping="folder").pairs(),
        name="tuxpaint-train+dev-grouped",
    )
    _, train_labels, train_kept = label_split(encoder, calibrate, "calibration pictures")
    test = load_tuxpaint("test", grouping="folder")
    vectors, labels, kept = label_split(encoder, test, "test pictures")
    calibrated = calibration(calibrate, train_labels, train_kept)
    floor = calibrated["chosen_floor"]
    report = {
        "provenance": provenance(encoder.name, COMMAND),
        "encoder": encoder.name,
        "calibration": calibrated,
        "retrieval_captions_removed": retrieval(encoder, test, vectors, labels, kept, floor),
        "seconds": round(time.perf_counter() - started, 1),
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "describe.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    print(json.dumps(calibrated["at_floor"], indent=1), "chosen floor", floor)
    print(json.dumps(report["retrieval_captions_removed"]["text_to_image"], indent=1))


if __name__ == "__main__":
    main()
