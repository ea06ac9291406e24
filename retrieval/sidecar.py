"""Sidecar captions: ``NAME.txt`` beside ``NAME.png``, first line English, then translations as
``xx.utf8=...`` lines (the Tux Paint layout)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

MAX_CAPTION_CHARS = 2000

# Tux Paint's recorded descriptions: NAME_desc.ogg (English), NAME_desc_fr.ogg, NAME_desc_pt_BR.ogg
_SPOKEN_DESCRIPTION = re.compile(r"^(?P<stem>.+)_desc(?:_(?P<lang>[a-z]{2,3})(?:_[A-Z]{2})?)?$")


@dataclass(frozen=True)
class SpokenDescription:
    """A recording of a stamp's description (``frog_desc_fr.ogg`` beside ``frog.txt``): what is
    said (the sidecar's line in that language, else its English line), in which language it
    is spoken and in which the caption is written."""

    caption: str
    language: str
    translations: dict[str, str]
    caption_language: str


def spoken_description(audio_path: Path) -> SpokenDescription | None:
    """The description ``audio_path`` says aloud, when its name and a ``NAME.txt`` beside it
    follow Tux Paint's layout; None otherwise."""
    match = _SPOKEN_DESCRIPTION.match(audio_path.stem)
    if match is None:
        return None
    described = audio_path.with_name(match["stem"] + ".txt")
    english = sidecar_caption(described)
    if not english:
        return None
    language = match["lang"] or "en"
    translations = sidecar_translations(described)
    if language in translations:
        return SpokenDescription(translations[language], language, translations, language)
    return SpokenDescription(english, language, translations, "en")


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
