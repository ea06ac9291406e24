"""Sidecar captions: ``NAME.txt`` beside ``NAME.png``, first line English, then translations as
``xx.utf8=...`` lines (the Tux Paint layout)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

MAX_CAPTION_CHARS = 2000

# Tux Paint's recorded descriptions: NAME_desc.ogg (English), NAME_desc_fr.ogg, NAME_desc_pt_BR.ogg
_SPOKEN_DESCRIPTION = re.compile(r"^(?P<stem>.+)_desc(?:_(?P<lang>[a-z]{2,3})(?:_[A-Z]{2})?)?$")


@dataclass(frozen=True)
class Sidecar:
    """What a ``NAME.txt`` says: its untagged first line (English, in Tux Paint's layout; "" where
    the first line is a translation) and its translations by ISO 639 code."""

    caption: str = ""
    translations: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SpokenDescription:
    """A recording of a stamp's description (``frog_desc_fr.ogg`` beside ``frog.txt``): what is
    said (the sidecar's line in that language, else its English line), in which language it
    is spoken, and the sidecar's translations."""

    caption: str
    language: str
    translations: dict[str, str]

    @property
    def caption_language(self) -> str:
        """The language the caption is written in: the one spoken where the sidecar has a line
        for it, else English."""
        return self.language if self.language in self.translations else "en"


def spoken_description(audio_path: Path) -> SpokenDescription | None:
    """The description ``audio_path`` says aloud, when its name and a ``NAME.txt`` beside it
    follow Tux Paint's layout; None otherwise."""
    match = _SPOKEN_DESCRIPTION.match(audio_path.stem)
    if match is None:
        return None
    described = read_sidecar(audio_path.with_name(match["stem"] + ".txt"))
    if not described.caption:
        return None
    language = match["lang"] or "en"
    caption = described.translations.get(language, described.caption)
    return SpokenDescription(caption, language, described.translations)


def read_sidecar(media_path: Path) -> Sidecar:
    """The media file's ``.txt`` sidecar, read once; an empty one where there is none or it
    cannot be read. The caption is the first non-empty line unless that is a translation
    (``xx.utf8=...``). Translations: ``zh_CN.utf8=青蛙。`` is ``zh``; the first line of each
    language wins (zh_CN before zh_TW); regional English, variants such as ``ca@valencia`` and
    empty ones are left out."""
    sidecar = media_path.with_suffix(".txt")
    if not sidecar.is_file():
        return Sidecar()
    caption: str | None = None
    found: dict[str, str] = {}
    try:
        with sidecar.open(encoding="utf-8", errors="replace") as handle:
            for line in handle:
                line = line.strip()
                if line and caption is None:
                    tagged = ".utf8=" in line.split(" ")[0]
                    caption = "" if tagged else line[:MAX_CAPTION_CHARS]
                locale, marker, text = line.partition(".utf8=")
                language = locale.split("_")[0]
                text = text.strip().rstrip("|").strip()
                if (
                    marker
                    and "@" not in locale
                    and language.isalpha()
                    and language != "en"
                    and text
                ):
                    found.setdefault(language, text[:MAX_CAPTION_CHARS])
    except OSError:
        return Sidecar()
    return Sidecar(caption or "", found)


def _translation(line: str) -> tuple[str, str] | None:
    """(language, text) of a sidecar line ``fr.utf8=Une grenouille.``; None for any other line,
    regional English, a variant (``ca@valencia``) or an empty translation."""
    locale, marker, text = line.partition(".utf8=")
    language = locale.split("_")[0]
    text = text.strip().rstrip("|").strip()
    if not marker or "@" in locale or not language.isalpha() or language == "en" or not text:
        return None
    return language, text[:MAX_CAPTION_CHARS]


def sidecar_caption(media_path: Path) -> str:
    """The caption of the media file's ``.txt`` sidecar (``read_sidecar``), or ``""``."""
    return read_sidecar(media_path).caption


def sidecar_translations(media_path: Path) -> dict[str, str]:
    """The translations of the media file's ``.txt`` sidecar by ISO 639 code (``read_sidecar``)."""
    return read_sidecar(media_path).translations
