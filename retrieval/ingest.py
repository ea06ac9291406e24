"""Ingestion: a folder or a manifest of media becomes items in the index.

A folder yields every image (caption from a ``NAME.txt`` sidecar when present). A manifest is
JSONL or CSV with an ``image``, ``text`` or ``audio`` column, an optional ``caption`` and any
further scalar columns kept as metadata. Work is batched; a bad file is refused with a reason
and never stops the run; ids are content hashes, so re-ingesting adds nothing.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
from tqdm import tqdm

from retrieval.encoders.base import Encoder, batched
from retrieval.errors import DatasetError, IndexStoreError, MediaError
from retrieval.images import is_image_path, load_image, read_limited
from retrieval.index import MediaIndex
from retrieval.items import MediaItem, MetadataValue, Modality, is_audio_path, label_from_filename
from retrieval.sidecar import sidecar_caption

log = logging.getLogger(__name__)
MANIFEST_SUFFIXES = frozenset({".jsonl", ".csv"})
MEDIA_COLUMNS: tuple[Modality, ...] = ("image", "text", "audio")
AudioMode = Literal["all", "paired", "none"]
# Speech to text for audio items: path -> transcript ("" when nothing was said); raises
# MediaError (e.g. AudioError) for a file that is not usable audio.
AudioTranscriber = Callable[[Path], str]


@dataclass(frozen=True)
class SourceRecord:
    """One thing to ingest: a file (or a text) with its caption and metadata."""

    modality: Modality
    path: Path | None
    text: str = ""
    caption: str = ""
    metadata: dict[str, MetadataValue] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return str(self.path) if self.path else repr(self.text[:40])


@dataclass
class IngestReport:
    """What one ingestion run did."""

    added: int = 0
    duplicates: int = 0
    refused: list[tuple[str, str]] = field(default_factory=list)
    added_ids: list[str] = field(default_factory=list)

    def summary(self) -> str:
        lines = [
            f"added {self.added}, skipped as duplicate {self.duplicates}, "
            f"refused {len(self.refused)}"
        ]
        lines += [f"  refused {where}: {why}" for where, why in self.refused]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {
            "added": self.added,
            "duplicates": self.duplicates,
            "refused": [{"source": s, "reason": r} for s, r in self.refused],
        }


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
        return [SourceRecord("image", path, caption=file_caption(path, "image"))]
    if path.is_file() and is_audio_path(path):
        return [SourceRecord("audio", path, caption=file_caption(path, "audio"))]
    if not path.exists():
        raise DatasetError(f"{path}: no such file or folder")
    raise DatasetError(f"{path}: give a folder, an image or audio file, or a .jsonl/.csv manifest")


def file_caption(file: Path, modality: Modality) -> str:
    """A file's caption when none is given: its sidecar ``NAME.txt``, else for a sound its
    name as a label ("rooster_crow.ogg" -> "rooster crow"); a picture without one has none."""
    caption = sidecar_caption(file)
    if not caption and modality == "audio":
        caption = label_from_filename(file)
    return caption


def _folder_records(root: Path, audio: AudioMode) -> Iterator[SourceRecord]:
    files = sorted(f for f in root.rglob("*") if f.is_file())
    picture_stems = {f.with_suffix("") for f in files if is_image_path(f)}
    for file in files:
        folder = {"folder": str(file.relative_to(root).parent)}
        if is_image_path(file):
            yield SourceRecord("image", file, caption=file_caption(file, "image"), metadata=folder)
        elif is_audio_path(file) and (
            audio == "all" or (audio == "paired" and file.with_suffix("") in picture_stems)
        ):
            yield SourceRecord("audio", file, caption=file_caption(file, "audio"), metadata=folder)


def _manifest_rows(path: Path) -> Iterator[tuple[int, dict]]:
    with path.open(encoding="utf-8", newline="") as handle:
        if path.suffix.lower() == ".csv":
            yield from enumerate(csv.DictReader(handle), 2)
            return
        for number, line in enumerate(handle, 1):
            if line.strip():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise DatasetError(f"{path}:{number}: not valid JSON ({exc.msg})") from None
                if not isinstance(row, dict):
                    raise DatasetError(f"{path}:{number}: each line must be a JSON object")
                yield number, row


def _manifest_records(path: Path) -> Iterator[SourceRecord]:
    for number, row in _manifest_rows(path):
        present = [c for c in MEDIA_COLUMNS if row.get(c)]
        if len(present) != 1:
            raise DatasetError(
                f"{path}:{number}: each row needs exactly one of 'image', 'text', 'audio' "
                f"(got {present})"
            )
        modality = present[0]
        value = str(row[modality])
        metadata = {
            k: v
            for k, v in row.items()
            if k not in (*MEDIA_COLUMNS, "caption")
            and isinstance(v, str | int | float | bool)
            and v != ""
        }
        caption = str(row.get("caption") or "")
        if modality == "text":
            yield SourceRecord(
                "text", None, text=value, caption=caption or value, metadata=metadata
            )
            continue
        file = Path(value)
        if not file.is_absolute():
            file = path.parent / file
        caption = caption or file_caption(file, modality)
        yield SourceRecord(modality, file, caption=caption, metadata=metadata)


class Ingestor:
    """Encodes records in batches and writes them to a MediaIndex."""

    def __init__(
        self,
        index: MediaIndex,
        encoder: Encoder,
        batch_size: int = 32,
        source: str = "",
        transcribe: AudioTranscriber | None = None,
    ):
        if encoder.dim != index.dim:
            raise ValueError(f"encoder gives {encoder.dim}-d vectors, index holds {index.dim}-d")
        self.index = index
        self.encoder = encoder
        self.batch_size = batch_size
        self.source = source
        self.transcribe = transcribe

    def ingest(self, records: Iterable[SourceRecord], progress: bool = True) -> IngestReport:
        """Ingest every record; returns counts of added, duplicate and refused items."""
        # Captioned records first: when two files hold the same bytes, the described one is kept.
        records = sorted(records, key=lambda r: not r.caption)
        report = IngestReport()
        seen: set[str] = set()
        with tqdm(total=len(records), desc="ingesting", unit="item", disable=not progress) as bar:
            for chunk in batched(records, self.batch_size):
                try:
                    self._ingest_batch(chunk, report, seen)
                except IndexStoreError as exc:
                    raise IndexStoreError(
                        f"{exc}. This run added {report.added} items before the failure; "
                        "they are kept, and running the same command again resumes"
                    ) from exc
                bar.update(len(chunk))
        log.info("ingest finished: %s", report.summary().splitlines()[0])
        return report

    def _ingest_batch(
        self, chunk: list[SourceRecord], report: IngestReport, seen: set[str]
    ) -> None:
        loaded: list[tuple[MediaItem, object]] = []
        for record in chunk:
            try:
                item, payload = self._load(record)
            except MediaError as exc:
                report.refused.append((record.label, str(exc).removeprefix(f"{record.label}: ")))
                continue
            if item.id in seen:
                report.duplicates += 1
                continue
            seen.add(item.id)
            loaded.append((item, payload))
        already = self.index.existing(item.id for item, _ in loaded)
        report.duplicates += len(already)
        fresh = [
            self._with_transcript(item, payload, report)
            if item.modality == "audio"
            else (item, payload)
            for item, payload in loaded
            if item.id not in already
        ]
        fresh = [entry for entry in fresh if entry is not None]
        if not fresh:
            return
        content = self._encode_content(fresh)
        captioned = [item for item, _ in fresh if item.caption]
        caption_vectors = dict(
            zip(
                (i.id for i in captioned),
                self.encoder.encode_texts([i.caption for i in captioned]),
                strict=True,
            )
        )
        self.index.add(
            [item for item, _ in fresh],
            content,
            caption_vectors,
            self._fuse(content, [caption_vectors.get(item.id) for item, _ in fresh]),
        )
        report.added += len(fresh)
        report.added_ids.extend(item.id for item, _ in fresh)

    def _fuse(self, content: np.ndarray, captions: list[np.ndarray | None]) -> np.ndarray | None:
        """Fused item vectors where the encoder has a fusion (zeros stand for no caption)."""
        fuse = getattr(self.encoder, "fuse", None)
        if fuse is None:
            return None
        stacked = np.stack([np.zeros(content.shape[1]) if c is None else c for c in captions])
        return fuse(content, stacked)

    def _load(self, record: SourceRecord) -> tuple[MediaItem, object]:
        """Read a record's bytes and decode it; raises MediaError for anything unusable."""
        source = self.source or (str(record.path.parent) if record.path else "")
        if record.modality == "text":
            if not record.text.strip():
                raise MediaError("empty text")
            return MediaItem.from_text(record.text, source, record.metadata), record.text
        data = read_limited(record.path)
        if record.modality == "audio":
            if self.transcribe is None:
                raise MediaError("audio needs a speech transcriber (use the crossmedia command)")
            item = MediaItem.from_file(
                record.path, "audio", data, record.caption, source, record.metadata
            )
            return item, record.path
        image = load_image(data, label=str(record.path))
        item = MediaItem.from_file(
            record.path, "image", data, record.caption, source, record.metadata
        )
        return item, image

    def _with_transcript(
        self, item: MediaItem, path: object, report: IngestReport
    ) -> tuple[MediaItem, str] | None:
        """Transcribe a new audio item; its content text is what was said, else its caption."""
        try:
            transcript = self.transcribe(Path(str(path))).strip()  # type: ignore[misc]
        except MediaError as exc:
            report.refused.append((str(path), str(exc).removeprefix(f"{path}: ")))
            return None
        text = transcript or item.caption
        if not text:
            report.refused.append((str(path), "no speech heard and no caption or label to index"))
            return None
        metadata = {**item.metadata, "transcript": transcript, "is_speech": bool(transcript)}
        return dataclasses.replace(item, metadata=metadata), text

    def _encode_content(self, fresh: list[tuple[MediaItem, object]]) -> np.ndarray:
        vectors = np.zeros((len(fresh), self.encoder.dim), dtype=np.float32)
        images = [(i, p) for i, (item, p) in enumerate(fresh) if item.modality == "image"]
        texts = [(i, p) for i, (item, p) in enumerate(fresh) if item.modality in ("text", "audio")]
        if images:
            vectors[[i for i, _ in images]] = self.encoder.encode_images([p for _, p in images])
        if texts:
            vectors[[i for i, _ in texts]] = self.encoder.encode_texts([p for _, p in texts])
        return vectors
