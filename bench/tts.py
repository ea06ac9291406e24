"""Spoken replies: how long espeak-ng takes to speak an answer, what a replay from the cache
costs, and whether Whisper hears the words back (round-trip WER/CER). Writes
bench/results/tts.json.

Answers are built the way the template writes them (assistant/locales.py's fixed sentences
around Tux Paint captions, with citation markers): 40 English answers of one to three cited
items, and in each of the 7 answer languages three sentences of its own words (so the voice
reads its own language; Japanese sentences with kanji are refused, as the app does). Round
trip: English through the packaged Whisper tiny.en (the default transcriber), every language
through the packaged multilingual base told the language.

    OPENBLAS_NUM_THREADS=1 python bench/tts.py
"""

from __future__ import annotations

import json
import random
import statistics
import tempfile
import time
from pathlib import Path

from provenance import provenance

from assistant.errors import SpeechError
from assistant.locales import LANGUAGES, phrases, quoted
from assistant.speech import load_transcriber
from assistant.speech.scoring import error_rates
from assistant.speech.tts import Speaker, voice_for
from retrieval.datasets.tuxpaint import captioned_stamps

RESULTS = Path(__file__).parent / "results"
ENGLISH_ANSWERS = 40
FROG = {"en": "frog", "es": "rana", "fr": "grenouille", "de": "Frosch", "ru": "лягушка",
        "zh": "青蛙", "ja": "カエル"}  # fmt: skip


def _phrase(caption: str) -> str:
    """A caption as the template puts it in a sentence: "A green frog." -> "a green frog"."""
    text = caption.strip().rstrip(".")
    return text[:1].lower() + text[1:]


def english_answers(count: int, seed: int = 0) -> list[str]:
    """Template-style English answers citing one to three Tux Paint stamps."""
    words = phrases("en")
    captions = sorted({_phrase(c) for _, c in captioned_stamps() if len(c) < 80})
    rng = random.Random(seed)
    answers = []
    for n in range(count):
        cited = rng.sample(captions, 1 + n % 3)
        if len(cited) == 1:
            answers.append(f"{words.found[n % 3]}{cited[0]} [1]{words.stop}")
        else:
            listed = [f"{c} [{i}]" for i, c in enumerate(cited, start=1)]
            body = ", ".join(listed[:-1]) + words.and_ + listed[-1]
            answers.append(f"{words.category[0]}{body}{words.stop}")
    return answers


def own_words(language: str) -> list[str]:
    """Three of a language's fixed sentences about a frog, with a citation marker."""
    words, frog = phrases(language), FROG[language]
    return [
        f"{words.found[0]}{frog} [1]{words.stop}",
        words.not_found.format(q=quoted(frog, language)),
        words.not_found_image,
    ]


def timed_speech(speaker: Speaker, answers: list[tuple[str, str]]) -> tuple[list, dict]:
    """Speak each (language, answer) into an empty cache, then replay it; the timings."""
    spoken, rows, refused = [], [], []
    for language, answer in answers:
        try:
            said = speaker.speak(answer, language)
        except SpeechError as exc:  # a text the voice cannot read (Japanese kanji)
            refused.append({"language": language, "text": answer, "why": str(exc)})
            continue
        started = time.perf_counter()
        again = speaker.speak(answer, language)
        replay = time.perf_counter() - started
        assert again.cached
        spoken.append((language, said))
        rows.append((len(said.text), said.seconds_taken, said.audio_seconds, replay))
    taken = [r[1] for r in rows]
    summary = {
        "answers": len(rows),
        "chars_median": statistics.median(r[0] for r in rows),
        "audio_s_median": round(statistics.median(r[2] for r in rows), 2),
        "synthesis_s_median": round(statistics.median(taken), 4),
        "synthesis_s_p95": round(sorted(taken)[int(0.95 * (len(taken) - 1))], 4),
        "synthesis_s_max": round(max(taken), 4),
        "real_time_factor": round(sum(taken) / sum(r[2] for r in rows), 4),
        "replay_s_median": round(statistics.median(r[3] for r in rows), 5),
        "refused": refused,
    }
    return spoken, summary


def round_trip(spoken: list, model: str) -> dict:
    """Whisper's transcripts of the spoken answers against what was said."""
    transcriber = load_transcriber("faster-whisper", model)
    by_language: dict[str, tuple[list[str], list[str]]] = {}
    for language, said in spoken:
        heard = transcriber.transcribe(said.path, language=language).text
        references, hypotheses = by_language.setdefault(language, ([], []))
        references.append(said.text)
        hypotheses.append(heard)
    scores = {}
    for language, (refs, hyps) in by_language.items():
        examples = [{"said": r, "heard": h} for r, h in zip(refs[:2], hyps[:2], strict=True)]
        scores[language] = {"clips": len(refs), **error_rates(refs, hyps, language),
                            "examples": examples}  # fmt: skip
    return scores


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="crossmedia-tts-"))
    english = [("en", a) for a in english_answers(ENGLISH_ANSWERS)]
    languages = [(lang, s) for lang in LANGUAGES for s in own_words(lang)]
    spoken_en, speed_en = timed_speech(Speaker(folder / "en"), english)
    spoken_all, speed_all = timed_speech(Speaker(folder / "all"), languages)
    report = {
        "provenance": provenance("none", "OPENBLAS_NUM_THREADS=1 python bench/tts.py"),
        "voices": {lang: voice_for(lang) for lang in LANGUAGES},
        "synthesis": {"english_answers": speed_en, "seven_languages": speed_all},
        "round_trip": {
            "tiny.en (English answers)": round_trip(spoken_en, "tiny.en"),
            "multilingual base (each language)": round_trip(spoken_all, "multilingual"),
        },
    }
    print(json.dumps(report, indent=2, ensure_ascii=False))
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "tts.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
