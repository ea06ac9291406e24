"""Word and character error rates with Whisper's text normalisation (case, punctuation,
spelled-out numbers, "mr" -> "mister", ...), so "Mr. Dashwood" matches "mister dashwood"."""

from __future__ import annotations

import functools
from collections.abc import Sequence


@functools.lru_cache(maxsize=2)
def _normaliser(english: bool):
    from transformers.models.whisper.english_normalizer import (
        BasicTextNormalizer,
        EnglishTextNormalizer,
    )

    return EnglishTextNormalizer({}) if english else BasicTextNormalizer()


def normalise(text: str, english: bool = True) -> str:
    """Whisper's evaluation normalisation (English rules, or the basic multilingual ones)."""
    return " ".join(_normaliser(english)(text).split())


def error_rates(
    references: Sequence[str], hypotheses: Sequence[str], english: bool = True
) -> dict[str, float]:
    """Corpus WER and CER over normalised texts (pairs whose reference is empty are skipped)."""
    import jiwer

    pairs = [
        (normalise(r, english), normalise(h, english))
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
