"""Sidecar captions: ``NAME.txt`` beside ``NAME.png``, first line English, then translations as
``xx.utf8=...`` lines (the Tux Paint layout)."""

from __future__ import annotations

from pathlib import Path

MAX_CAPTION_CHARS = 2000


def sidecar_caption(media_path: Path) -> str:
    """Return the first non-empty line of the media file's ``.txt`` sidecar, or ``""``.

    A sidecar whose first line is a translation (``xx.utf8=...``) yields ``""``.
    """
    sidecar = media_path.with_suffix(".txt")
    if not sidecar.is_file():
        return ""
    try:
        with sidecar.open(encoding="utf-8", errors="replace") as handle:
            for line in handle:
                line = line.strip()
                if line:
                    return "" if ".utf8=" in line.split(" ")[0] else line[:MAX_CAPTION_CHARS]
    except OSError:
        return ""
    return ""


def sidecar_translations(media_path: Path) -> dict[str, str]:
    """The sidecar's translations by ISO 639 language code (``zh_CN.utf8=青蛙。`` -> ``zh``):
    the first line of each language wins (zh_CN before zh_TW), regional English and variants
    such as ``ca@valencia`` are left out, and so are empty ones."""
    sidecar = media_path.with_suffix(".txt")
    found: dict[str, str] = {}
    try:
        lines = sidecar.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return found
    for line in lines:
        locale, marker, text = line.strip().partition(".utf8=")
        language = locale.split("_")[0]
        text = text.strip().rstrip("|").strip()
        if not marker or "@" in locale or not language.isalpha() or language == "en" or not text:
            continue
        found.setdefault(language, text[:MAX_CAPTION_CHARS])
    return found
