"""Spoken search in other languages: Tux Paint's recorded stamp descriptions (``NAME_desc.ogg``
in English, ``NAME_desc_LANG.ogg`` in French, Spanish, Russian, Romanian, Catalan, Bulgarian)
of the grouped TEST folders, each transcribed by Whisper and searched as text among the 304 TEST
pictures: a hit when the recording's own picture is in the top 10 (ties against). Rows:

- ``tiny.en`` (the English default) and ``multilingual`` (the packaged Whisper base): the
  transcript embedded as it is (the encoder guesses its language);
- ``multilingual, as the assistant routes it``: Whisper tells the language among the answer
  languages and those the library's recordings are said in (``Assistant.expected_languages``);
  the language it is sure it heard (else the transcript's own), its request phrasing stripped,
  read in that language (its dictionary translation beside the student), as a voice turn in the
  chat is;
- ``multilingual, among the browser's languages``: the same, told among the recording's
  language and English, as for a user whose browser asks pages in that language (its
  Accept-Language) and who chose none in the settings;
- ``multilingual, told the language``: the same with the recording's language given to Whisper
  and the encoder, as for a user who set their language.

Each row is scored three times: against the pictures alone (``top10``: the hard, cross-modal
case); against the stamps by picture or English caption (``top10_library_vectors``: the index's
content and caption vectors); and against the stamps as the demo's library holds them
(``top10_library``: those vectors plus the word match of the transcript with the stamp's caption
in the transcript's language, which the library keeps from its sidecar: retrieval.caption_words;
only in the languages the library keeps captions in, and only where the language is known).

``--split dev`` runs the DEV folders instead, and scores the word match at several weights
(``word_weight_sweep``): that is where ``WORD_MATCH_WEIGHT`` was chosen.

Writes bench/results/spoken_search.json (``--rows`` reruns some rows and keeps the others), or
spoken_search-dev.json.

    OPENBLAS_NUM_THREADS=1 python bench/spoken_search.py [--clips 40] [--rows told] [--split dev]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from provenance import provenance

from assistant.locales import LANGUAGES as ANSWER_LANGUAGES
from assistant.locales import question_language
from assistant.router import search_phrase
from assistant.service import heard_language
from assistant.speech import load_transcriber
from retrieval.caption_words import WORD_MATCH_WEIGHT, CaptionWords, with_word_match
from retrieval.datasets.tuxpaint import load_tuxpaint, stamps_dir
from retrieval.encoders import load_encoder
from retrieval.evaluate import RetrievalEvaluator
from retrieval.items import CAPTION_LANGUAGES
from retrieval.library import text_vector
from retrieval.metrics import first_relevant_ranks
from retrieval.sidecar import sidecar_translations

RESULTS = Path(__file__).parent / "results"
LANGUAGES = ("en", "fr", "es", "ru", "ro", "ca", "bg")
ROWS = {  # row: (Whisper model, how the transcript is read)
    "tiny.en": ("tiny.en", "as is"),
    "multilingual": ("multilingual", "as is"),
    "multilingual, as the assistant routes it": ("multilingual", "routed"),
    "multilingual, among the browser's languages": ("multilingual", "browser"),
    "multilingual, told the language": ("multilingual", "told"),
}
WEIGHT_SWEEP = (0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.6)  # --split dev: the word match's weight


def read_as(heard: list, how: str, told: str) -> list[tuple[str, str | None]]:
    """Each transcript's search text and its language (None: left to the encoder), read as
    ``how`` says (see the module docstring)."""
    read: list[tuple[str, str | None]] = []
    for h in heard:
        text = h.text or "(nothing)"
        if how == "as is":
            read.append((text, None))
            continue
        language = (
            told
            if how == "told"
            else (heard_language(h.language, h.language_probability) or question_language(text))
        )
        phrase = search_phrase(text, language)  # English as the assistant reads it: no language
        read.append((phrase, None if language == "en" else language))
    return read


def query_vectors(encoder, read: list[tuple[str, str | None]]) -> np.ndarray:
    """The search texts' query vectors, each in its language where known."""
    return np.stack([text_vector(encoder, text, language) for text, language in read])


def word_matches(
    read: list[tuple[str, str | None]], captions: dict[str, CaptionWords], count: int
) -> np.ndarray:
    """(clips x stamps) word match of each search text with the stamps' captions in its
    language (zero where the language is unknown, English, or not one the library keeps)."""
    matches = np.zeros((len(read), count), dtype=np.float32)
    for row, (text, language) in enumerate(read):
        if language in captions:
            for stamp, match in captions[language].match(text, top=count).items():
                matches[row, int(stamp)] = match
    return matches


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
    parser.add_argument("--split", choices=("test", "dev"), default="test")
    args = parser.parse_args()
    chosen = {row: ROWS[row] for row in ROWS if any(word in row for word in args.rows)}
    started = time.perf_counter()
    encoder = load_encoder("default")
    test = load_tuxpaint(args.split, grouping="folder")
    image_vectors, kept = RetrievalEvaluator(test, progress=False).encode_images(encoder)
    images = [test.images[i] for i in kept]
    caption_of: dict[int, str] = {}  # each picture's (first) English caption
    for caption, found in zip(test.captions, test.relevant, strict=True):
        for image in found:
            caption_of.setdefault(image, caption)
    caption_vectors = encoder.encode_texts([caption_of[i] for i in kept])
    translations = [sidecar_translations(image) for image in images]
    captions = {  # the stamps' captions in each language the library keeps, by stamp number
        language: CaptionWords(
            [str(n) for n, t in enumerate(translations) if language in t],
            [t[language] for t in translations if language in t],
            language,
        )
        for language in CAPTION_LANGUAGES
    }
    # as the assistant tells a recording's language in the demo's library: among the answer
    # languages and those its recorded descriptions are said in
    said_in = {p.stem.rsplit("_desc_", 1)[1] for p in stamps_dir().rglob("*_desc_*.ogg")}
    in_library = tuple(dict.fromkeys([*ANSWER_LANGUAGES, *sorted(said_in)]))
    target = RESULTS / ("spoken_search.json" if args.split == "test" else "spoken_search-dev.json")
    old = json.loads(target.read_text())["rows"] if target.is_file() else {}
    rows: dict[str, dict[str, dict]] = {row: old.get(row, {}) for row in ROWS}
    for row, (model, how) in chosen.items():
        transcriber = load_transcriber(model=model)
        for language in LANGUAGES:
            clips = recordings(images, language, args.clips)
            if not clips:
                continue
            told = language if how == "told" and model != "tiny.en" else None
            expected = {"routed": in_library, "browser": (language, "en")}.get(how, ())
            heard = [
                transcriber.transcribe(clip, language=told, expected=expected) for clip, _ in clips
            ]
            read = read_as(heard, how, language)
            vectors = query_vectors(encoder, read)
            matches = word_matches(read, captions, len(images))
            relevant = np.zeros((len(clips), len(images)), dtype=bool)
            relevant[np.arange(len(clips)), [n for _, n in clips]] = True
            pictures = vectors @ image_vectors.T
            ranks = first_relevant_ranks(pictures, relevant, ties_against=True)
            stamps = np.maximum(pictures, vectors @ caption_vectors.T)
            by_vectors = first_relevant_ranks(stamps, relevant, ties_against=True)
            library = first_relevant_ranks(
                with_word_match(stamps, matches), relevant, ties_against=True
            )
            rows[row][language] = {
                "clips": len(clips),
                "top10": round(float((ranks <= 10).mean()), 3),
                "top10_library_vectors": round(float((by_vectors <= 10).mean()), 3),
                "top10_library": round(float((library <= 10).mean()), 3),
                "median_rank": float(np.median(ranks)),
                "language_heard_right": round(
                    float(np.mean([h.language == language for h in heard])), 3
                ),
                "transcribe_s_p50": round(float(np.median([h.seconds for h in heard])), 3),
                "examples": [h.text for h in heard[:3]],
            }
            if args.split == "dev":  # where the weight is chosen
                rows[row][language]["word_weight_sweep"] = {
                    str(weight): round(
                        float(
                            (
                                first_relevant_ranks(
                                    stamps + weight * matches, relevant, ties_against=True
                                )
                                <= 10
                            ).mean()
                        ),
                        3,
                    )
                    for weight in WEIGHT_SWEEP
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
        "split": f"Tux Paint grouped {args.split.upper()} ({len(images)} pictures)",
        "word_match_weight": WORD_MATCH_WEIGHT,
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
