"""Ingestion: the records discovered in a folder or a manifest (retrieval.discovery) become
items in the index: read, transcribed (sounds, videos' speech), enriched (text in pictures,
descriptions; retrieval.enrich), encoded and written. Work is batched; a bad file is refused
with a reason and never stops the run; ids are content hashes, so re-ingesting adds nothing.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

import numpy as np
from tqdm import tqdm

from retrieval.colours import picture_colours
from retrieval.discovery import SourceRecord
from retrieval.encoders.base import Encoder, batched, l2_normalise, texts_in_language
from retrieval.enrich import PictureEnricher
from retrieval.errors import IndexStoreError, MediaError
from retrieval.images import load_image, read_limited
from retrieval.index import MediaIndex
from retrieval.items import (
    CAPTION_LANGUAGES,
    COLOURS_KEY,
    TRANSCRIPT_LANGUAGE_KEY,
    ItemPart,
    MediaItem,
    caption_key,
    caption_language,
    file_content_id,
)
from retrieval.prefetch import ordered_map
from retrieval.video import Keyframe, keyframes, probe_video

if TYPE_CHECKING:
    from retrieval.ocr import TextReader

log = logging.getLogger(__name__)
OcrMode = Literal["gated", "all", "off"]
CAPTION_CACHE_LIMIT = 8192  # distinct captions' vectors kept by one ingestor (~12 MB)
MAX_TRANSCRIPT_CHARS = 4000  # of a video's speech kept in its metadata (all of it is searched)


class HeardSegment(Protocol):
    """A stretch of speech with its start and end (seconds)."""

    start: float
    end: float
    text: str


class HeardSpeech(Protocol):
    """What a transcriber heard: the text, its timed segments and the language it heard."""

    text: str
    segments: Sequence[HeardSegment]
    language: str


# Speech to text for audio items and videos' sound: path -> what was heard ("" when nothing
# was said); raises MediaError (e.g. AudioError) for a file that is not usable audio.
AudioTranscriber = Callable[[Path], HeardSpeech]


@dataclass
class VideoPayload:
    """A video being ingested: its keyframes and, once transcribed, its speech."""

    frames: list[Keyframe]
    speech: list[tuple[float, str]] = field(default_factory=list)
    language: str | None = None  # the language the transcriber heard the speech in


@dataclass
class StagedBatch:
    """A chunk of records read and made ready to encode: its new items with their payloads,
    what it refused and how many it found to be duplicates; ``size``: records in the chunk."""

    size: int
    fresh: list[tuple[MediaItem, object]] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)
    duplicates: int = 0


@dataclass
class IngestReport:
    """What one ingestion run did."""

    added: int = 0
    duplicates: int = 0
    refused: list[tuple[str, str]] = field(default_factory=list)
    added_ids: list[str] = field(default_factory=list)
    _seen: set[str] = field(default_factory=set, repr=False, compare=False)  # merge's index

    def summary(self) -> str:
        lines = [
            f"added {self.added}, skipped as duplicate {self.duplicates}, "
            f"refused {len(self.refused)}"
        ]
        lines += [f"  refused {where}: {why}" for where, why in self.refused]
        return "\n".join(lines)

    def merge(self, other: IngestReport) -> None:
        """Add the counts of another part of the same run (one batch of a Ray worker). An id
        that two parts both added (the same bytes in two batches written at once) is counted
        once, the second time as a duplicate, as one process would have counted it."""
        if len(self._seen) != len(self.added_ids):  # ids added before the first merge
            self._seen.update(self.added_ids)
        fresh = [i for i in dict.fromkeys(other.added_ids) if i not in self._seen]
        self._seen.update(fresh)
        self.added += len(fresh)
        self.duplicates += other.duplicates + len(other.added_ids) - len(fresh)
        self.refused.extend(other.refused)
        self.added_ids.extend(fresh)

    def to_dict(self) -> dict:
        return {
            "added": self.added,
            "duplicates": self.duplicates,
            "refused": [{"source": s, "reason": r} for s, r in self.refused],
        }


class _Claims:
    """Which chunk of a run first holds each content id. Chunks are staged out of order on
    several threads but written in order, so an id belongs to the earliest chunk that holds
    it: a later chunk that saw it first keeps its copy, which the index then refuses as
    already stored when the earlier chunk's is written first (captioned records come first,
    so the described copy is the one kept, as in a serial run)."""

    def __init__(self) -> None:
        self._owner: dict[str, int] = {}  # content id -> the earliest chunk holding it
        self._lock = threading.Lock()

    def claim(self, item_id: str, chunk: int) -> bool:
        """True when chunk ``chunk`` is the first (so far) to hold ``item_id``; False for a
        duplicate within the same or an earlier chunk."""
        with self._lock:
            owner = self._owner.get(item_id)
            if owner is not None and owner <= chunk:
                return False
            self._owner[item_id] = chunk
            return True


class Ingestor:
    """Encodes records in batches and writes them to a MediaIndex.

    Reading runs ``prefetch`` chunks ahead of the encoders on ``readers`` threads (decoding,
    SVG rasterising, OCR, transcription overlap the towers); ``prefetch=0`` runs every stage in
    turn in the caller's thread, as ingest did before (the same ids, vectors and report).
    """

    def __init__(
        self,
        index: MediaIndex,
        encoder: Encoder,
        batch_size: int = 32,
        source: str = "",
        transcribe: AudioTranscriber | None = None,
        read_text: TextReader | None = None,
        describe: bool = True,
        ocr_gate: bool = True,
        prefetch: int = 2,
        readers: int = 1,
        cache_captions: bool = True,
    ):
        """``transcribe``: speech to text for sounds and videos; ``read_text``: OCR for pictures
        (None: none), only where its detector sees text unless ``ocr_gate`` is False;
        ``describe``: generate descriptions for pictures without a caption; ``prefetch``:
        chunks read ahead of the encoders (0: none, all in one thread) by ``readers``
        threads, each staging whole chunks (give ``read_text`` as many OCR engines: the
        library's ingest uses two of each, docs/deployment-ingest.md); ``cache_captions``:
        encode each distinct caption once per run."""
        if encoder.dim != index.dim:
            raise ValueError(f"encoder gives {encoder.dim}-d vectors, index holds {index.dim}-d")
        self.index = index
        self.encoder = encoder
        self.batch_size = batch_size
        self.source = source
        self.transcribe = transcribe
        self.pictures = PictureEnricher(encoder, read_text, describe, ocr_gate)
        self.prefetch = prefetch
        self.readers = readers
        self.cache_captions = cache_captions
        self._caption_cache: dict[tuple[str | None, str], np.ndarray] = {}
        self._index_lock = threading.Lock()  # the reader thread asks what exists; we write
        # One transcription at a time (the model loads on first use; Whisper runs one clip at
        # a time anyway): a sound is heard beside a picture's OCR, not beside another sound.
        self._speech_lock = threading.Lock()

    def ingest(self, records: Iterable[SourceRecord], progress: bool = True) -> IngestReport:
        """Ingest every record; returns counts of added, duplicate and refused items."""
        # Captioned records first: when two files hold the same bytes, the described one is kept.
        records = sorted(records, key=lambda r: not r.caption)
        report = IngestReport()
        claims = _Claims()
        staged = ordered_map(
            lambda numbered: self._stage(numbered[1], claims, numbered[0]),
            enumerate(batched(records, self.batch_size)),
            workers=self.readers,
            ahead=max(self.prefetch, self.readers) if self.prefetch else 0,
            name="ingest-read",
        )
        bar = tqdm(total=len(records), desc="ingesting", unit="item", disable=not progress)
        with bar, closing(staged):  # closing: a failure stops the read-ahead at once
            try:
                for batch in staged:
                    report.refused += batch.refused
                    report.duplicates += batch.duplicates
                    self._write(batch.fresh, report)
                    bar.update(batch.size)
            except IndexStoreError as exc:
                raise IndexStoreError(
                    f"{exc}. This run added {report.added} items before the failure; "
                    "they are kept, and running the same command again resumes"
                ) from exc
        log.info("ingest finished: %s", report.summary().splitlines()[0])
        return report

    def _stage(self, chunk: list[SourceRecord], claims: _Claims, number: int) -> StagedBatch:
        """Read, decode and de-duplicate chunk ``number``, then make its new records ready to
        encode (OCR, transcription, keyframes): everything before the encoders, so it can run
        ahead of them, several chunks at once on ``readers`` threads."""
        staged = StagedBatch(size=len(chunk))
        loaded: list[tuple[MediaItem, object]] = []
        for record in chunk:
            outcome = self._load_or_refuse(record)
            if isinstance(outcome, str):
                staged.refused.append((record.label, outcome))
                continue
            item, payload = outcome
            if not claims.claim(item.id, number):
                staged.duplicates += 1
                continue
            loaded.append((item, payload))
        with self._index_lock:
            already = self.index.existing(item.id for item, _ in loaded)
            self._update_stored([item for item, _ in loaded if item.id in already])
        staged.duplicates += len(already)
        for entry in loaded:
            if entry[0].id in already:
                continue
            prepared, refused = self._prepare_or_refuse(entry)
            staged.refused += refused
            if prepared is not None:
                staged.fresh.append(prepared)
        return staged

    def _update_stored(self, stored: list[MediaItem]) -> None:
        """Items already in the index take their record's captions in other languages and
        their picture's colours where the index has others or none (an index made before they
        were kept, or a sidecar whose translations changed): a question in those languages, or
        about a colour, finds and names them."""
        keys = [caption_key(language) for language in CAPTION_LANGUAGES] + [COLOURS_KEY]
        wanted = {
            item.id: {key: item.metadata[key] for key in keys if key in item.metadata}
            for item in stored
        }
        wanted = {item_id: captions for item_id, captions in wanted.items() if captions}
        if not wanted:  # nothing to compare: no read of the index
            return
        known = self.index.get_many(list(wanted))
        changes = {
            item_id: captions
            for item_id, captions in wanted.items()
            if item_id in known
            and any(known[item_id].metadata.get(k) != text for k, text in captions.items())
        }
        if changes:
            self.index.update_metadata(changes)
            log.info(
                "gave %d stored items their captions in other languages or colours", len(changes)
            )

    def _load_or_refuse(self, record: SourceRecord) -> tuple[MediaItem, object] | str:
        """``_load``, or the reason the record is refused."""
        if record.problem:
            return record.problem
        try:
            return self._load(record)
        except MediaError as exc:
            return str(exc).removeprefix(f"{record.path}: ").removeprefix(f"{record.label}: ")

    def _prepare_or_refuse(
        self, entry: tuple[MediaItem, object]
    ) -> tuple[tuple[MediaItem, object] | None, list[tuple[str, str]]]:
        """``_prepare`` with the refusals it made."""
        refused: list[tuple[str, str]] = []
        return self._prepare(*entry, refused), refused

    def _write(self, fresh: list[tuple[MediaItem, object]], report: IngestReport) -> None:
        """Encode a staged batch's new items and write them to the index."""
        if not fresh:
            return
        items, content, parts, described = self._encode_content(fresh)
        captioned = [item for item in items if item.caption]
        caption_vectors = dict(
            zip((i.id for i in captioned), self._encode_captions(captioned), strict=True)
        )
        fused = self._fuse(content, [caption_vectors.get(item.id) for item in items])
        if fused is not None:
            for row, vector in described.items():
                fused[row] = vector
        with self._index_lock:
            new_ids = self.index.add(items, content, caption_vectors, fused, parts)
        report.added += len(new_ids)
        report.duplicates += len(fresh) - len(new_ids)  # another writer stored them first
        report.added_ids.extend(new_ids)

    def _encode_captions(self, items: list[MediaItem]) -> np.ndarray:
        """The items' caption vectors, each read in its language where the source gave it
        (``caption_language``) and each distinct caption encoded once in this run (stamp
        libraries repeat captions: every colour of a crayon says the same)."""
        keys = [(caption_language(item), item.caption) for item in items]
        if not keys:
            return np.zeros((0, self.encoder.dim), dtype=np.float32)
        if not self.cache_captions:
            return encode_in_languages(self.encoder, keys)
        new = list(dict.fromkeys(k for k in keys if k not in self._caption_cache))
        if len(self._caption_cache) + len(new) > CAPTION_CACHE_LIMIT:
            self._caption_cache.clear()  # bounded: an ingestor may live for a whole cluster run
            new = list(dict.fromkeys(keys))
        if new:
            self._caption_cache.update(
                zip(new, encode_in_languages(self.encoder, new), strict=True)
            )
        return np.stack([self._caption_cache[k] for k in keys])

    def _fuse(self, content: np.ndarray, captions: list[np.ndarray | None]) -> np.ndarray | None:
        """Fused item vectors where the encoder has a fusion (zeros stand for no caption)."""
        fuse = getattr(self.encoder, "fuse", None)
        if fuse is None:
            return None
        stacked = np.stack([np.zeros(content.shape[1]) if c is None else c for c in captions])
        return fuse(content, stacked)

    def _load(self, record: SourceRecord) -> tuple[MediaItem, object]:
        """Read a record's bytes and decode it (a video is only probed: its frames are read
        once it is known to be new); raises MediaError for anything unusable."""
        source = self.source or (str(record.path.parent) if record.path else "")
        if record.modality == "text":
            if not record.text.strip():
                raise MediaError("empty text")
            item = MediaItem.from_text(record.text, source, record.metadata, record.caption)
            return item, record.text
        if record.modality == "video":
            info = probe_video(record.path)
            metadata = {**record.metadata, "duration": round(info.seconds, 2)}
            try:
                item_id = file_content_id(record.path, "video")
            except OSError as exc:
                raise MediaError(f"cannot read file ({exc.strerror})") from None
            item = MediaItem(
                item_id,
                "video",
                str(record.path.resolve()),
                record.caption,
                source,
                metadata,
            )
            return item, info
        data = read_limited(record.path)
        if record.modality == "audio":
            if self.transcribe is None:
                raise MediaError("audio needs a speech transcriber (use the crossmedia command)")
            item = MediaItem.from_file(
                record.path, "audio", data, record.caption, source, record.metadata
            )
            return item, record.path
        image = load_image(data, label=str(record.path), keep_alpha=True)  # flattened in encode
        colours = " ".join(picture_colours(image))  # kept for already stored items too
        item = MediaItem.from_file(
            record.path, "image", data, record.caption, source,
            {**record.metadata, COLOURS_KEY: colours},
        )  # fmt: skip
        return item, image

    def _prepare(
        self, item: MediaItem, payload: object, refused: list[tuple[str, str]]
    ) -> tuple[MediaItem, object] | None:
        """A new item made ready to encode (sound transcribed, a video's frames read), or None
        when it is refused (the reason goes to ``refused``)."""
        try:
            if item.modality == "audio":
                return self._with_transcript(item, Path(str(payload)), refused)
            if item.modality == "video":
                return self._with_scenes(item, payload.has_audio)  # type: ignore[attr-defined]
            if item.modality == "image":
                return self.pictures.with_text(item, payload), payload  # type: ignore[arg-type]
        except MediaError as exc:
            refused.append((item.uri, str(exc).removeprefix(f"{item.uri}: ")))
            return None
        return item, payload

    def _with_transcript(
        self, item: MediaItem, path: Path, refused: list[tuple[str, str]]
    ) -> tuple[MediaItem, str] | None:
        """Transcribe a new audio item; its content text is what was said, else its caption."""
        with self._speech_lock:
            heard = self.transcribe(path)  # type: ignore[misc]
        transcript = heard.text.strip()
        misheard = heard_in_another_language(item, heard)
        if misheard:  # English-only Whisper on "Une grenouille.": "In Grand New Year."
            transcript = ""
        text = transcript or item.caption
        if not text:
            refused.append((str(path), "no speech heard and no caption or label to index"))
            return None
        is_speech = bool(transcript) or misheard
        heard_in = (
            {TRANSCRIPT_LANGUAGE_KEY: heard.language} if transcript and heard.language else {}
        )
        metadata = {**item.metadata, "transcript": transcript, "is_speech": is_speech, **heard_in}
        return dataclasses.replace(item, metadata=metadata), text

    def _with_scenes(self, item: MediaItem, has_audio: bool) -> tuple[MediaItem, VideoPayload]:
        """Read a new video's keyframes and transcribe its sound (when it has sound and a
        transcriber is given): each becomes a part with its time."""
        path = Path(item.uri)
        payload = VideoPayload(keyframes(path))
        unheard = ""
        if has_audio and self.transcribe is not None:
            try:
                with self._speech_lock:
                    heard = self.transcribe(path)
            except MediaError as exc:  # e.g. a sound track over the transcriber's limit
                unheard = str(exc).removeprefix(f"{path}: ")
                log.warning("%s: indexed by its pictures only; its sound: %s", path, unheard)
            else:
                payload.speech = [
                    (s.start, s.text.strip()) for s in heard.segments if s.text.strip()
                ]
                payload.language = heard.language or None
        transcript = " ".join(text for _, text in payload.speech)
        metadata = {
            **item.metadata,
            "keyframes": len(payload.frames),
            "transcript": transcript[:MAX_TRANSCRIPT_CHARS],
            "is_speech": bool(transcript),
            **({"speech_not_transcribed": unheard} if unheard else {}),
        }
        return dataclasses.replace(item, metadata=metadata), payload

    def _encode_content(
        self, fresh: list[tuple[MediaItem, object]]
    ) -> tuple[
        list[MediaItem], np.ndarray, list[tuple[str, ItemPart, np.ndarray]], dict[int, np.ndarray]
    ]:
        """The items (with what was generated for pictures), their content vectors (row i for
        fresh[i]), their parts' vectors, and fused vectors of described pictures (row -> vector).
        A video's content vector is the normalised mean of its keyframes'; each keyframe, each
        stretch of speech and the text read in a picture is a part."""
        items = [item for item, _ in fresh]
        vectors = np.zeros((len(fresh), self.encoder.dim), dtype=np.float32)
        pictures = [n for n, item in enumerate(items) if item.modality == "image"]
        texts = [(i, p) for i, (item, p) in enumerate(fresh) if item.modality in ("text", "audio")]
        described: dict[int, np.ndarray] = {}
        if pictures:
            encoded = self.pictures.encode(
                [items[n] for n in pictures],
                [fresh[n][1] for n in pictures],  # type: ignore[misc]
            )
            vectors[pictures] = encoded.vectors
            for row, n in enumerate(pictures):
                items[n] = encoded.items[row]
            described = {pictures[row]: vector for row, vector in encoded.fused.items()}
        if texts:
            keyed = [(text_language(items[i]), str(p)) for i, p in texts]
            vectors[[i for i, _ in texts]] = encode_in_languages(self.encoder, keyed)
        parts = self.pictures.text_parts([items[n] for n in pictures])
        for row, (item, payload) in enumerate(fresh):
            if isinstance(payload, VideoPayload):
                vectors[row], video_parts = self._encode_video(payload)
                parts += [(item.id, part, vector) for part, vector in video_parts]
        return items, vectors, parts, described

    def _encode_video(
        self, video: VideoPayload
    ) -> tuple[np.ndarray, list[tuple[ItemPart, np.ndarray]]]:
        frames = self.encoder.encode_images([f.image for f in video.frames])
        parts = [
            (ItemPart("keyframe", time=f.time), v)
            for f, v in zip(video.frames, frames, strict=True)
        ]
        if video.speech:
            said = [text for _, text in video.speech]
            spoken = texts_in_language(self.encoder, said, video.language)
            parts += [
                (ItemPart("speech", text, time=round(start, 2)), v)
                for (start, text), v in zip(video.speech, spoken, strict=True)
            ]
        return l2_normalise(frames.mean(axis=0, keepdims=True))[0], parts


def encode_in_languages(encoder: Encoder, keyed: Sequence[tuple[str | None, str]]) -> np.ndarray:
    """Vectors of (language, text) pairs (None: identified per text), one call per language."""
    vectors = np.zeros((len(keyed), encoder.dim), dtype=np.float32)
    for language in dict.fromkeys(language for language, _ in keyed):
        rows = [n for n, (lang, _) in enumerate(keyed) if lang == language]
        vectors[rows] = texts_in_language(encoder, [keyed[n][1] for n in rows], language)
    return vectors


def text_language(item: MediaItem) -> str | None:
    """The language of a sound's content text where known: the one its transcript was heard in,
    else, where its caption stands in, the caption's; None for a text document (identified)."""
    if item.modality != "audio":
        return None
    if item.metadata.get("transcript"):
        heard = item.metadata.get(TRANSCRIPT_LANGUAGE_KEY)
        return str(heard) if heard else None
    return caption_language(item)


def heard_in_another_language(item: MediaItem, heard: HeardSpeech) -> bool:
    """Whether a recording whose spoken language is known (``spoken_language``, a Tux Paint
    ``NAME_desc_fr.ogg``) was transcribed in another one, so that its transcript is noise and its
    caption, what the sidecar says is spoken, is the better text."""
    said_in = str(item.metadata.get("spoken_language") or "")
    return bool(said_in and heard.language and item.caption and heard.language != said_in)
