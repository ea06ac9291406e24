"""Spoken search in other languages: Tux Paint's recorded stamp descriptions (``NAME_desc.ogg``
in English, ``NAME_desc_LANG.ogg`` in French, Spanish, Russian, Romanian, Catalan, Bulgarian)
of the grouped TEST folders, each transcribed by Whisper and searched as text among the 304 TEST
pictures: a hit when the recording's own picture is in the top 10 (ties against). Rows:

- ``tiny.en`` (the English default) and ``multilingual`` (the packaged Whisper base): the
  transcript embedded as it is (the encoder guesses its language);
- ``multilingual, as the assistant routes it``: the language Whisper is sure it heard (else the
  transcript's own), its request phrasing stripped, read in that language (its dictionary
  translation beside the student), as a voice turn in the chat is;
- ``multilingual, told the language``: the same with the recording's language given to Whisper
  and the encoder, as for a user who set their language.

Each row is scored twice: against the pictures alone (``top10``: the hard, cross-modal case) and
against the stamps as the demo's library holds them (``top10_library``: a stamp is found by its
picture or by its English caption, as the index searches both its content and caption vectors).

Writes bench/results/spoken_search.json (``--rows`` reruns some rows and keeps the others).

    OPENBLAS_NUM_THREADS=1 python bench/spoken_search.py [--clips 40] [--rows told]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from provenance import provenance

from assistant.locales import question_language
from assistant.router import search_phrase
from assistant.service import heard_language
from assistant.speech import load_transcriber
from retrieval.datasets.tuxpaint import load_tuxpaint
from retrieval.encoders import load_encoder
from retrieval.evaluate import RetrievalEvaluator
from retrieval.library import text_vector
from retrieval.metrics import first_relevant_ranks

RESULTS = Path(__file__).parent / "results"
LANGUAGES = ("en", "fr", "es", "ru", "ro", "ca", "bg")
ROWS = {  # row: (Whisper model, how the transcript is read)
    "tiny.en": ("tiny.en", "as is"),
    "multilingual": ("multilingual", "as is"),
    "multilingual, as the assistant routes it": ("multilingual", "routed"),
    "multilingual, told the language": ("multilingual", "told"),
}


def query_vectors(encoder, heard: list, how: str, told: str) -> np.ndarray:
    """The transcripts' query vectors, read as ``how`` says (see the module docstring)."""
    if how == "as is":
        return encoder.encode_texts([h.text or "(nothing)" for h in heard])
    rows = []
    for h in heard:
        text = h.text or "(nothing)"
        language = (
            told
            if how == "told"
            else (heard_language(h.language, h.language_probability) or question_language(text))
        )
        phrase = search_phrase(text, language)  # English as the assistant reads it: no language
        rows.append(text_vector(encoder, phrase, None if language == "en" else language))
    return np.stack(rows)


def recordings(images: list[Path], language: str, most: int) -> list[tuple[Path, int]]:
    """(clip, its picture's index) for up to ``most`` pictures that have one, evenly spread."""
    suffix = "_desc.ogg" if language == "en" else f"_desc_{language}.ogg"
    found = [
        (image.with_name(image.stem + suffix), n)
        for n, image in enumerate(images)
        if image.with_name(image.stem + suffix).is_file()
    ]
    step = max(1, len(found) // most)
    return found[::step][:most]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=40, help="recordings per language")
    parser.add_argument(
        "--rows", nargs="*", default=list(ROWS), help="rows to run (a word of each suffices)"
    )
    args = parser.parse_args()
    chosen = {row: ROWS[row] for row in ROWS if any(word in row for word in args.rows)}
    started = time.perf_counter()
    encoder = load_encoder("default")
    test = load_tuxpaint("test", grouping="folder")
    image_vectors, kept = RetrievalEvaluator(test, progress=False).encode_images(encoder)
    images = [test.images[i] for i in kept]
    caption_of: dict[int, str] = {}  # each picture's (first) English caption
    for caption, found in zip(test.captions, test.relevant, strict=True):
        for image in found:
            caption_of.setdefault(image, caption)
    caption_vectors = encoder.encode_texts([caption_of[i] for i in kept])
    target = RESULTS / "spoken_search.json"
    old = json.loads(target.read_text())["rows"] if target.is_file() else {}
    rows: dict[str, dict[str, dict]] = {row: old.get(row, {}) for row in ROWS}
    for row, (model, how) in chosen.items():
        transcriber = load_transcriber(model=model)
        for language in LANGUAGES:
            clips = recordings(images, language, args.clips)
            if not clips:
                continue
            told = language if how == "told" and model != "tiny.en" else None
            heard = [transcriber.transcribe(clip, language=told) for clip, _ in clips]
            vectors = query_vectors(encoder, heard, how, language)
            relevant = np.zeros((len(clips), len(images)), dtype=bool)
            relevant[np.arange(len(clips)), [n for _, n in clips]] = True
            pictures = vectors @ image_vectors.T
            ranks = first_relevant_ranks(pictures, relevant, ties_against=True)
            stamps = np.maximum(pictures, vectors @ caption_vectors.T)
            library = first_relevant_ranks(stamps, relevant, ties_against=True)
            rows[row][language] = {
                "clips": len(clips),
                "top10": round(float((ranks <= 10).mean()), 3),
                "top10_library": round(float((library <= 10).mean()), 3),
                "median_rank": float(np.median(ranks)),
                "language_heard_right": round(
                    float(np.mean([h.language == language for h in heard])), 3
                ),
                "transcribe_s_p50": round(float(np.median([h.seconds for h in heard])), 3),
                "examples": [h.text for h in heard[:3]],
            }
            print(
                row,
                language,
                {k: v for k, v in rows[row][language].items() if k != "examples"},
                flush=True,
            )
    command = "OPENBLAS_NUM_THREADS=1 python bench/spoken_search.py"
    report = {
        "provenance": provenance(encoder.name, command),
        "split": f"Tux Paint grouped TEST ({len(images)} pictures)",
        "protocol": "each recording transcribed, searched as text; hit = its picture in the top 10 "
        "(ties against)",
        "encoder": encoder.name,
        "rows": rows,
        "seconds": round(time.perf_counter() - started, 1),
        "command": command,
    }
    RESULTS.mkdir(exist_ok=True)
    target.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
