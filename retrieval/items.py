"""MediaItem: one image, audio clip, video or text document with its caption and metadata;
ItemPart: a piece of an item with its own vector (a keyframe, a stretch of speech, a text)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Modality = Literal["image", "audio", "text", "video"]
MODALITIES: tuple[Modality, ...] = ("image", "audio", "text", "video")
PartKind = Literal["keyframe", "speech", "ocr"]
PICTURE_TEXT_KEY = "picture_text"  # metadata: the words read in a picture (OCR)
CAPTION_LANGUAGE_KEY = "caption_language"  # metadata: the caption's language, where known ("en")
TRANSCRIPT_LANGUAGE_KEY = "transcript_language"  # metadata: the language a sound was heard in
COLOURS_KEY = "colours"  # metadata: a picture's basic colours, the largest first ("yellow white")
# The languages besides English whose caption an item may carry in its metadata, under
# ``caption_<language>`` (a sidecar's translations, or a manifest's caption_fr column): the
# languages the assistant answers in, which then names the item in the asker's language.
CAPTION_LANGUAGES = ("zh", "es", "fr", "de", "ru", "ja")
MetadataValue = str | int | float | bool
AUDIO_SUFFIXES = frozenset(
    {".wav", ".mp3", ".ogg", ".oga", ".opus", ".flac", ".webm", ".m4a", ".aac"}
)


def caption_key(language: str) -> str:
    """The metadata key of an item's caption in ``language`` ("caption_fr")."""
    return f"caption_{language}"


def translated_captions(metadata: dict[str, MetadataValue]) -> dict[str, str]:
    """An item's captions in other languages, by language, from its metadata."""
    found = {lang: metadata.get(caption_key(lang)) for lang in CAPTION_LANGUAGES}
    return {
        lang: text.strip() for lang, text in found.items() if isinstance(text, str) and text.strip()
    }


def caption_language(item: MediaItem) -> str | None:
    """The ISO 639 code of the language an item's caption is written in, where its source gave
    it (``caption_language``: "en", "fr_FR" -> "fr"); None where unknown or not a code."""
    value = item.metadata.get(CAPTION_LANGUAGE_KEY)
    if not isinstance(value, str):
        return None
    code = value.strip().lower().replace("-", "_").split("_")[0]
    return code if 2 <= len(code) <= 3 and code.isascii() and code.isalpha() else None


def is_audio_path(path: str | Path) -> bool:
    """True when the file name has an audio suffix crossmedia reads."""
    return Path(path).suffix.lower() in AUDIO_SUFFIXES


def label_from_filename(path: Path) -> str:
    """A readable label from a file name: ``dog_barking-2.ogg`` -> ``dog barking 2``."""
    return " ".join(path.stem.replace("_", " ").replace("-", " ").split())


def content_id(data: bytes, modality: Modality) -> str:
    """Stable item id: the SHA-256 of the content (prefixed by modality), 32 hex digits."""
    return _content_digest(modality, [data])


def file_content_id(path: Path, modality: Modality, chunk: int = 1 << 20) -> str:
    """``content_id`` of a file read in chunks (a video too large to hold in memory at once)."""
    with path.open("rb") as handle:
        return _content_digest(modality, iter(lambda: handle.read(chunk), b""))


def _content_digest(modality: Modality, blocks: Iterable[bytes]) -> str:
    digest = hashlib.sha256(modality.encode() + b"\0")
    for block in blocks:
        digest.update(block)
    return digest.hexdigest()[:32]


@dataclass(frozen=True)
class MediaItem:
    """A piece of media in the library.

    ``uri`` points at the file (empty for a pure text document), ``caption`` is the
    human-readable description used for text search and citations, ``source`` names the
    library or manifest it came from, and ``metadata`` holds free scalar fields.
    """

    id: str
    modality: Modality
    uri: str
    caption: str = ""
    source: str = ""
    metadata: dict[str, MetadataValue] = field(default_factory=dict)

    @classmethod
    def from_file(
        cls,
        path: Path,
        modality: Modality,
        data: bytes,
        caption: str = "",
        source: str = "",
        metadata: dict[str, MetadataValue] | None = None,
    ) -> MediaItem:
        """Build an item for a file whose bytes were already read (the id hashes them)."""
        return cls(
            id=content_id(data, modality),
            modality=modality,
            uri=str(path.resolve()),
            caption=caption,
            source=source,
            metadata=dict(metadata or {}),
        )

    @classmethod
    def from_text(
        cls,
        text: str,
        source: str = "",
        metadata: dict[str, MetadataValue] | None = None,
        caption: str = "",
    ) -> MediaItem:
        """Build a text-document item. Its caption is the given one (the text is then kept in
        ``metadata["text"]``), else the text itself."""
        extra = {"text": text} if caption and caption != text else {}
        return cls(
            id=content_id(text.encode("utf-8"), "text"),
            modality="text",
            uri="",
            caption=caption or text,
            source=source,
            metadata={**(metadata or {}), **extra},
        )


@dataclass(frozen=True)
class ItemPart:
    """A piece of an item searched by its own vector: a video's keyframe or a stretch of its
    speech (``time``: seconds from the start), or the text read in a picture. ``text`` is what
    the part says, shown beside a hit it made."""

    kind: PartKind
    text: str = ""
    time: float | None = None
