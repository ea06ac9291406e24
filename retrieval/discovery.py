"""Discovery: what an ingest will read from a folder, a file or a JSONL/CSV manifest.

A folder yields every image and video (caption from a ``NAME.txt`` sidecar when present) and its
sounds (a recorded description, ``NAME_desc_fr.ogg``, captioned by what ``NAME.txt`` says in that
language); a manifest row names exactly one ``image``, ``text``, ``audio`` or ``video`` with an
optional ``caption`` and further scalar columns kept as metadata. Anything unusable found here
(a bad row, a link that loops, a name that is not UTF-8) becomes a record with a ``problem``,
reported by the ingest and never fatal.
"""

from __future__ import annotations

import csv
import errno
import json
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from retrieval.errors import DatasetError
from retrieval.images import is_image_path
from retrieval.index import RESERVED_KEYS
from retrieval.items import (
    CAPTION_LANGUAGE_KEY,
    CAPTION_LANGUAGES,
    MetadataValue,
    Modality,
    caption_key,
    is_audio_path,
    label_from_filename,
)
from retrieval.sidecar import (
    MAX_CAPTION_CHARS,
    read_sidecar,
    spoken_description,
)
from retrieval.video import VIDEO_SUFFIXES, has_video_stream

MANIFEST_SUFFIXES = frozenset({".jsonl", ".csv"})
MEDIA_COLUMNS: tuple[Modality, ...] = ("image", "text", "audio", "video")
AudioMode = Literal["all", "paired", "none"]
MAX_TEXT_CHARS = 20_000  # one text item; longer documents are refused with a reason
MAX_CSV_FIELD = 4 * 1024 * 1024  # a CSV field past this is refused (not the whole manifest)


@dataclass(frozen=True)
class SourceRecord:
    """One thing to ingest: a file (or a text) with its caption and metadata. A record with a
    ``problem`` was refused when it was found (a bad row, a link that loops, ...): the ingest
    lists it among the refused with that reason. ``where`` names a manifest row."""

    modality: Modality
    path: Path | None
    text: str = ""
    caption: str = ""
    metadata: dict[str, MetadataValue] = field(default_factory=dict)
    problem: str = ""
    where: str = ""

    @property
    def label(self) -> str:
        if self.where:
            return self.where
        return printable(self.path) if self.path else repr(self.text[:40])


def printable(path: Path | str) -> str:
    """A path as text that can always be printed (undecodable bytes shown as escapes)."""
    return os.fsencode(str(path)).decode("utf-8", "backslashreplace")


def _is_valid_text(*values: object) -> bool:
    """False when a string holds bytes that were not valid UTF-8 (surrogate escapes)."""
    try:
        for value in values:
            if isinstance(value, str):
                value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def refusal(path: Path | None, problem: str, where: str = "") -> SourceRecord:
    """A record found to be unusable before any reading; reported with ``problem``."""
    return SourceRecord("image", path, problem=problem, where=where)


def discover(path: str | Path, audio: AudioMode = "all") -> list[SourceRecord]:
    """Records from a folder (recursively), a single image or audio file, or a JSONL/CSV manifest.

    ``audio`` chooses which audio files of a folder become items: ``all``, ``paired`` (only a
    sound that shares its name with a picture beside it, as Tux Paint's stamp sounds do) or
    ``none``. An audio item's caption is its sidecar caption, else its file name as a label.
    """
    path = Path(path)
    if path.is_dir():
        return list(_folder_records(path, audio))
    if path.is_file() and path.suffix.lower() in MANIFEST_SUFFIXES:
        return list(_manifest_records(path))
    if path.is_file() and is_image_path(path):
        return [file_record(path, "image")]
    if path.is_file() and is_video_path(path):
        return [file_record(path, "video")]
    if path.is_file() and is_audio_path(path):
        return [file_record(path, "audio")]
    if not path.exists():
        raise DatasetError(f"{path}: no such file or folder")
    raise DatasetError(
        f"{path}: give a folder, an image, audio or video file, or a .jsonl/.csv manifest"
    )


def is_video_path(path: Path) -> bool:
    """True for a video file: a video suffix, and for ``.webm`` (also used for sound) a video
    stream inside."""
    suffix = path.suffix.lower()
    if suffix not in VIDEO_SUFFIXES:
        return False
    return suffix != ".webm" or (path.is_file() and has_video_stream(path))


def file_record(
    file: Path, modality: Modality, metadata: dict[str, MetadataValue] | None = None
) -> SourceRecord:
    """A media file's record. Its caption is its sidecar ``NAME.txt``; else, for a recorded
    description (``frog_desc_fr.ogg``), what its stamp's sidecar says in that language; else,
    for a sound or a video, its name as a label ("rooster_crow.ogg" -> "rooster crow"); a
    picture without one has none. Beside the given metadata it carries the sidecar's
    translations of that caption and the caption's language where the source says it
    (``caption_metadata``)."""
    sidecar = read_sidecar(file)
    said = spoken_description(file) if modality == "audio" and not sidecar.caption else None
    if said is not None:
        spoken = {
            "spoken_language": said.language,
            CAPTION_LANGUAGE_KEY: said.caption_language,
            **answer_language_captions(said.translations),
        }
        return SourceRecord(
            modality, file, caption=said.caption, metadata={**spoken, **(metadata or {})}
        )
    caption = sidecar.caption
    if not caption and modality in ("audio", "video"):
        caption = label_from_filename(file)
    # the sidecar's own translations, for answers in the asker's language (given metadata,
    # such as a manifest's caption_fr column, wins)
    translated = caption_metadata(sidecar.translations) if caption else {}
    return SourceRecord(
        modality, file, caption=caption, metadata={**translated, **(metadata or {})}
    )


def caption_metadata(translated: dict[str, str]) -> dict[str, MetadataValue]:
    """A sidecar's ``translated`` captions in the languages answers are written in, as metadata
    (``{"caption_fr": "Une grenouille."}``), and, where there are translations (Tux Paint's
    layout: an untagged line, then ``xx.utf8=`` lines), that its caption is English
    (``caption_language``). A sidecar of one untagged line says nothing of its language:
    people write their own in theirs."""
    english = {CAPTION_LANGUAGE_KEY: "en"} if translated else {}
    return {**english, **answer_language_captions(translated)}


def answer_language_captions(translated: dict[str, str]) -> dict[str, MetadataValue]:
    """Those of a sidecar's ``translated`` captions in the languages answers are written in, as
    metadata (``{"caption_fr": "Une grenouille."}``)."""
    return {caption_key(lang): translated[lang] for lang in CAPTION_LANGUAGES if lang in translated}


def _folder_records(root: Path, audio: AudioMode) -> Iterator[SourceRecord]:
    entries = sorted(root.rglob("*"))
    files = [f for f in entries if f.is_file()]
    picture_stems = {f.with_suffix("") for f in files if is_image_path(f)}
    for entry in entries:
        if entry.is_dir():
            continue
        video = is_video_path(entry)
        wanted = (
            is_image_path(entry)
            or video
            or (
                is_audio_path(entry)
                and (
                    audio == "all" or (audio == "paired" and entry.with_suffix("") in picture_stems)
                )
            )
        )
        if not wanted:
            continue
        if not _is_valid_text(str(entry)):
            yield refusal(entry, "the file name is not valid UTF-8; rename the file")
            continue
        problem = _special_file_problem(entry)
        if problem:
            yield refusal(entry, problem)
            continue
        modality: Modality = "image" if is_image_path(entry) else "video" if video else "audio"
        yield file_record(entry, modality, {"folder": str(entry.relative_to(root).parent)})


def _special_file_problem(path: Path) -> str:
    """Why a path that is not a folder cannot be read as a media file ("" when it can)."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return "a link that points to nothing"
    except (OSError, RuntimeError) as exc:
        if isinstance(exc, OSError) and exc.errno not in (errno.ELOOP, None):
            return f"cannot be read ({exc.strerror})"
        return "a link that loops back on itself"
    if stat.S_ISDIR(mode):
        return "a folder, not a file"
    if not stat.S_ISREG(mode):
        return "not a regular file (a device, pipe or socket)"
    return ""


def _manifest_rows(path: Path) -> Iterator[tuple[str, dict | None, str]]:
    """(where, row, problem) for each row of a JSONL or CSV manifest; a row that cannot be
    read has ``row`` None and says why. A byte-order mark is read as UTF-8."""
    with path.open(encoding="utf-8-sig", errors="surrogateescape", newline="") as handle:
        if path.suffix.lower() == ".csv":
            yield from _csv_rows(path, handle)
            return
        for number, line in enumerate(handle, 1):
            where = f"{printable(path)}:{number}"
            if not line.strip():
                continue
            if not _is_valid_text(line):
                yield where, None, "not valid UTF-8 text; save the manifest as UTF-8"
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                yield where, None, f"not valid JSON ({exc.msg})"
                continue
            if not isinstance(row, dict):
                yield where, None, "each line must be a JSON object"
                continue
            yield where, row, ""


def _csv_rows(path: Path, handle) -> Iterator[tuple[str, dict | None, str]]:
    previous_limit = csv.field_size_limit(MAX_CSV_FIELD)
    try:
        reader = csv.DictReader(handle)
        while True:
            line = reader.line_num + 1
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                where = f"{printable(path)}:{line}"
                yield where, None, f"cannot be read as CSV ({exc}); fix or split that field"
                continue
            where = f"{printable(path)}:{line}"
            if not _is_valid_text(*row.keys(), *row.values()):
                yield where, None, "not valid UTF-8 text; save the manifest as UTF-8"
                continue
            yield where, row, ""
    finally:
        csv.field_size_limit(previous_limit)


def _manifest_records(path: Path) -> Iterator[SourceRecord]:
    for where, row, problem in _manifest_rows(path):
        yield refusal(None, problem, where) if row is None else _manifest_record(path, where, row)


def _manifest_record(path: Path, where: str, row: dict) -> SourceRecord:
    """One manifest row as a record, or as a refusal saying what to fix."""
    present = [c for c in MEDIA_COLUMNS if row.get(c)]
    if len(present) != 1:
        return refusal(
            None,
            f"each row needs exactly one of 'image', 'text', 'audio', 'video' (got {present})",
            where,
        )
    reserved = sorted(RESERVED_KEYS.intersection(row))
    if reserved:
        return refusal(
            None, f"the column {reserved[0]!r} is reserved by the index; rename it", where
        )
    if not _is_valid_text(*row.keys(), *(v for v in row.values() if isinstance(v, str))):
        return refusal(None, "not valid UTF-8 text", where)
    modality = present[0]
    value = str(row[modality])
    metadata = {
        str(k): v
        for k, v in row.items()
        if k not in (*MEDIA_COLUMNS, "caption")
        and isinstance(v, str | int | float | bool)
        and v != ""
    }
    caption = str(row.get("caption") or "")
    if len(caption) > MAX_CAPTION_CHARS:
        return refusal(
            None, f"the caption is {len(caption):,} characters, over {MAX_CAPTION_CHARS:,}", where
        )
    if modality == "text":
        if len(value) > MAX_TEXT_CHARS:
            return refusal(
                None,
                f"the text is {len(value):,} characters, over the {MAX_TEXT_CHARS:,} limit; "
                "split it into smaller documents",
                where,
            )
        return SourceRecord("text", None, text=value, caption=caption or value, metadata=metadata)
    file = Path(value)
    if not file.is_absolute():
        file = path.parent / file
    if not caption:  # the sidecar's caption, with its translations
        return file_record(file, modality, metadata)
    return SourceRecord(modality, file, caption=caption, metadata=metadata)
