"""MediaIndex: the Chroma-backed cross-modal index (embedded by default, a server by URL).

Two collections per library and encoder: ``media-<encoder>`` holds each item's content vector
(the image vector, or the text vector of a text document) and ``media-<encoder>-captions`` the
caption's text vector, so a sentence finds pictures through either and a picture finds captions
and similar pictures. Keeping the kinds apart (rather than tagging entries and filtering with
``where``) matters for speed: a Chroma metadata filter scans the metadata table, about 30 ms
per query at 10k entries on this machine, against 3 ms for a plain vector query.
Vectors are always our own: Chroma never embeds anything (its default function downloads a
model). Display fields are packed into one JSON metadata value to keep writes cheap; ``modality``
and the caller's own metadata stay separate keys so that ``where`` filters can use them.
"""

from __future__ import annotations

import itertools
import json
import logging
import re
import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

import numpy as np
from filelock import FileLock

from retrieval.caption_words import with_word_match
from retrieval.errors import IndexStoreError
from retrieval.exact import ExactVectors
from retrieval.items import ItemPart, MediaItem, MetadataValue, caption_key

log = logging.getLogger(__name__)

VectorKind = Literal["content", "caption", "fused", "part"]
VECTOR_KINDS: tuple[VectorKind, ...] = ("content", "caption", "fused", "part")
RESERVED_KEYS = frozenset({"modality", "item", "part", "part_of"})
PART_OVERFETCH = 4  # parts fetched per wanted item (several parts of one item may lead)
WRITE_BATCH = 1000
EXACT_SEARCH_LIMIT = 200_000  # vectors per collection searched exactly in memory (~300 MB)
EXACT_LOAD_PAGE = 10_000


@dataclass(frozen=True)
class HnswSettings:
    """Chroma HNSW settings, fixed when a collection is created. ``DEFAULT_HNSW`` is Chroma's own;
    ``TUNED_HNSW`` widens the search beam, which bench/index_speed.py showed is what recall on
    384-d vectors needs (docs/benchmarks.md); larger flush batches and rarer syncs measured no
    faster on this machine, so they stay at Chroma's values. Queries on libraries up to
    ``EXACT_SEARCH_LIMIT`` vectors do not use the graph at all (exact search)."""

    space: str = "cosine"
    ef_construction: int = 100
    ef_search: int = 100
    max_neighbors: int = 16
    batch_size: int = 100
    sync_threshold: int = 1000

    def as_configuration(self) -> dict[str, Any]:
        return {"hnsw": asdict(self)}


DEFAULT_HNSW = HnswSettings()
TUNED_HNSW = HnswSettings(ef_search=800)


@dataclass
class SearchHit:
    """One item found by a query; ``matched`` says which of its vectors was closest."""

    item_id: str
    score: float
    caption: str
    uri: str
    modality: str
    source: str
    matched: VectorKind
    metadata: dict[str, MetadataValue] = field(default_factory=dict)
    part: str = ""  # which part matched ("keyframe", "speech", "ocr", ...) when matched="part"
    part_text: str = ""
    moment: float | None = None  # seconds into a video, where the matching part is

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def collection_name(encoder_name: str, kind: VectorKind = "content") -> str:
    """A valid Chroma collection name for an encoder's content or caption vectors."""
    slug = re.sub(r"[^a-zA-Z0-9._-]+", "-", encoder_name).strip("-._")[:180]
    suffix = {"content": "", "caption": "-captions", "fused": "-fused", "part": "-parts"}[kind]
    return f"media-{slug}{suffix}"


class MediaIndex:
    """The vector index of one library for one encoder."""

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        encoder_name: str,
        dim: int,
        url: str | None = None,
        hnsw: HnswSettings = TUNED_HNSW,
        exact_limit: int = EXACT_SEARCH_LIMIT,
    ):
        import chromadb
        from chromadb.config import Settings

        if (path is None) == (url is None):
            raise IndexStoreError("give the index either a data path or a Chroma server URL")
        settings = Settings(anonymized_telemetry=False)
        self.location = str(path or url)
        self.encoder_name = encoder_name
        self.dim = dim
        self._lock: FileLock | None = None
        self._root: Path | None = None
        try:
            if url is not None:
                parsed = urlparse(url)
                self.client = chromadb.HttpClient(
                    host=parsed.hostname or "localhost",
                    port=parsed.port or (443 if parsed.scheme == "https" else 8000),
                    ssl=parsed.scheme == "https",
                    settings=settings,
                )
            else:
                root = Path(path)
                root.mkdir(parents=True, exist_ok=True)
                self._lock = FileLock(str(root / ".write.lock"))
                self._root = root
                # Two processes opening a new index at once would both create Chroma's tables
                # ("table collections already exists"): opening is a write, under the lock.
                with self._lock:
                    self.client = chromadb.PersistentClient(path=str(root), settings=settings)
            with self._locked():
                self.collections = {
                    kind: self.client.get_or_create_collection(
                        collection_name(encoder_name, kind),
                        configuration=hnsw.as_configuration(),
                        metadata=_collection_metadata(encoder_name, dim, kind),
                        embedding_function=None,
                    )
                    for kind in VECTOR_KINDS
                }
        except Exception as exc:
            raise IndexStoreError(f"cannot open the index at {self.location}: {exc}") from exc
        stored_dim = (self.collections["content"].metadata or {}).get("dim")
        if stored_dim is not None and int(stored_dim) != dim:
            raise IndexStoreError(
                f"the index at {self.location} holds {stored_dim}-d vectors for {encoder_name!r}, "
                f"but the encoder gives {dim}-d; use another --data-dir"
            )
        with self._locked():
            for kind, collection in self.collections.items():
                if "revision" not in (collection.metadata or {}):  # new, or made before them
                    self._new_revision(kind)  # with a revision, searches need not count
        self.exact_limit = exact_limit
        self._exact: dict[VectorKind, ExactVectors] = {}
        self._exact_token: dict[VectorKind, tuple] = {}
        self._exact_state: dict[VectorKind, tuple[str | None, int]] = {}
        self._exact_guard = threading.Lock()

    # -- writing ---------------------------------------------------------------------------

    def add(
        self,
        items: Sequence[MediaItem],
        content_vectors: np.ndarray,
        caption_vectors: dict[str, np.ndarray] | None = None,
        fused_vectors: np.ndarray | None = None,
        parts: Sequence[tuple[str, ItemPart, np.ndarray]] = (),
    ) -> list[str]:
        """Store items with their content vector (row i for items[i]), optional caption
        vectors (by item id), optional fused vectors (row i, the encoder's fusion of the two)
        and optional parts as (item id, part, vector). Re-adding an item overwrites it (its old
        parts go), so a retry is always safe. Returns the ids that were not stored before; on an
        embedded index this is decided under the write lock, so two processes adding the same
        items never both count them. The content vectors are written last: an item counts as
        stored (``existing``) only once all of its vectors are, so a writer killed half-way
        leaves nothing that a rerun would skip."""
        if len(items) != len(content_vectors):
            raise ValueError("one content vector per item is required")
        metadata = {item.id: _entry_metadata(item) for item in items}
        with self._locked():
            before = self.existing(i.id for i in items)
            captioned = [i.id for i in items if caption_vectors and i.id in caption_vectors]
            if captioned:
                self._write("caption", captioned, [caption_vectors[i] for i in captioned], metadata)
            if fused_vectors is not None:
                self._write("fused", [i.id for i in items], list(fused_vectors), metadata)
            self._delete_parts([i.id for i in items if i.id in before])
            if parts:
                entries = _part_entries(parts, metadata)
                self._write(
                    "part", list(entries), [v for _, v in entries.values()],
                    {pid: meta for pid, (meta, _) in entries.items()},
                )  # fmt: skip
            self._write("content", [i.id for i in items], list(content_vectors), metadata)
        return [i.id for i in items if i.id not in before]

    def update_metadata(self, changes: dict[str, dict[str, MetadataValue]]) -> None:
        """Set these metadata keys of stored items (by item id) in every entry the item has
        (content, caption, fused, parts), keeping their vectors: an ingest gives items stored
        before their sidecar's translations were kept those captions. Unknown ids are ignored."""
        clash = RESERVED_KEYS.intersection(k for keys in changes.values() for k in keys)
        if clash:
            raise ValueError(f"metadata keys {sorted(clash)} are reserved by the index")
        ids = list(changes)
        if not ids:
            return
        with self._locked():
            for kind in VECTOR_KINDS:
                collection = self.collections[kind]
                chosen = {"where": {"part_of": {"$in": ids}}} if kind == "part" else {"ids": ids}
                found = self._read(
                    lambda collection=collection, chosen=chosen: collection.get(
                        **chosen, include=["metadatas"]
                    )
                )
                entries = {
                    entry: _with_metadata(meta, changes[str(meta.get("part_of", entry))])
                    for entry, meta in zip(found["ids"], found["metadatas"], strict=True)
                }
                if entries:
                    self._update_entries(kind, entries)

    def _update_entries(self, kind: VectorKind, entries: dict[str, dict]) -> None:
        """Replace these entries' metadata, then mark the collection changed."""
        collection = self.collections[kind]
        ids = list(entries)
        try:
            for start in range(0, len(ids), WRITE_BATCH):
                batch = ids[start : start + WRITE_BATCH]
                collection.update(ids=batch, metadatas=[entries[i] for i in batch])
        except Exception as exc:
            raise IndexStoreError(
                f"could not update the index at {self.location} ({exc}): free disk space or fix "
                "permissions and run the command again"
            ) from exc
        revision = self._new_revision(kind)
        with self._exact_guard:
            self._record_own_write(kind, revision)

    def _delete_parts(self, item_ids: list[str]) -> None:
        """Remove the parts of these items."""
        if not item_ids:
            return
        collection = self.collections["part"]
        found = self._read(
            lambda: collection.get(where={"part_of": {"$in": item_ids}}, include=[])["ids"]
        )
        if found:
            self._remove(("part",), found)

    def _remove(self, kinds: Sequence[VectorKind], ids: list[str]) -> None:
        """Delete entries by id from these collections and their in-memory copies."""
        try:
            with self._locked():
                for kind in kinds:
                    self.collections[kind].delete(ids=ids)
                    revision = self._new_revision(kind)
                    with self._exact_guard:
                        if kind in self._exact:
                            self._exact[kind].delete(ids)
                        self._record_own_write(kind, revision)
        except IndexStoreError:
            raise
        except Exception as exc:
            raise IndexStoreError(
                f"could not delete from the index at {self.location}: {exc}"
            ) from exc

    def _write(self, kind: VectorKind, ids: list[str], vectors: list, metadata: dict) -> None:
        collection = self.collections[kind]
        for start in range(0, len(ids), WRITE_BATCH):
            batch = ids[start : start + WRITE_BATCH]
            try:
                with self._locked():
                    collection.upsert(
                        ids=batch,
                        embeddings=np.asarray(
                            vectors[start : start + WRITE_BATCH], dtype=np.float32
                        ),
                        metadatas=[metadata[i] for i in batch],
                    )
            except Exception as exc:
                raise IndexStoreError(
                    f"could not write to the index at {self.location} ({exc}); nothing of this "
                    "batch is trusted: free disk space or fix permissions and run the command again"
                ) from exc
            with self._exact_guard:
                if kind in self._exact:
                    self._exact[kind].upsert(
                        batch, np.asarray(vectors[start : start + WRITE_BATCH])
                    )
        with self._locked():
            revision = self._new_revision(kind)
        with self._exact_guard:
            self._record_own_write(kind, revision)

    def _record_own_write(self, kind: VectorKind, revision: str) -> None:
        """After this process wrote (its copy already updated, under the guard): the copy
        reflects ``revision``; without a copy the count must be read again."""
        if kind in self._exact:
            self._exact_state[kind] = (revision, len(self._exact[kind]))
        else:
            self._exact_state.pop(kind, None)

    def _new_revision(self, kind: VectorKind) -> str:
        """Mark a collection as changed for every other process and replica: a new random
        revision in its metadata, which their in-memory copies compare (a caption corrected
        elsewhere changes a vector but not the count). A change another writer made between
        ours and this mark is seen at the next revision."""
        revision = uuid.uuid4().hex
        metadata = {**_collection_metadata(self.encoder_name, self.dim, kind), "revision": revision}
        try:
            self.collections[kind].modify(metadata=metadata)
        except Exception as exc:
            raise IndexStoreError(
                f"the index at {self.location} was written but could not be marked as changed "
                f"({exc}); other processes may search stale vectors until it is written again"
            ) from exc
        return revision

    def delete(self, item_ids: Iterable[str]) -> None:
        """Remove items (all of their vectors and parts). Unknown ids are ignored."""
        ids = list(item_ids)
        if not ids:
            return
        self._remove([kind for kind in VECTOR_KINDS if kind != "part"], ids)
        self._delete_parts(ids)

    def _locked(self) -> AbstractContextManager:
        return self._lock if self._lock is not None else nullcontext()

    # -- reading ---------------------------------------------------------------------------

    def _read(self, fetch):
        try:
            return fetch()
        except Exception as exc:
            raise IndexStoreError(f"cannot read the index at {self.location}: {exc}") from exc

    def existing(self, item_ids: Iterable[str]) -> set[str]:
        """The subset of ``item_ids`` already in the index."""
        ids = list(item_ids)
        if not ids:
            return set()
        return set(self._read(lambda: self.collections["content"].get(ids=ids, include=[])["ids"]))

    def count(self) -> int:
        """Number of items (not vectors) in the index."""
        return int(self._read(self.collections["content"].count))

    def count_by_modality(self) -> dict[str, int]:
        """Items per modality ("image", "audio", "text"), read page by page."""
        counts: dict[str, int] = {}
        for _, meta in self._metadata_pages():
            kind = str(meta.get("modality", "item"))
            counts[kind] = counts.get(kind, 0) + 1
        return counts

    def _metadata_pages(self, where: dict[str, Any] | None = None) -> Iterator[tuple[str, dict]]:
        """(id, metadata) of every item (``where`` admits), read from Chroma page by page."""
        for offset in itertools.count(0, WRITE_BATCH):
            page = self._read(
                lambda offset=offset: self.collections["content"].get(
                    where=where, include=["metadatas"], limit=WRITE_BATCH, offset=offset
                )
            )
            yield from zip(page["ids"], page["metadatas"], strict=True)
            if len(page["ids"]) < WRITE_BATCH:
                return

    def get(self, item_id: str) -> MediaItem | None:
        """The stored item with this id, or None."""
        return self.get_many([item_id]).get(item_id)

    def get_many(self, item_ids: Sequence[str]) -> dict[str, MediaItem]:
        """The stored items with these ids (unknown ids are left out), read in pages."""
        items: dict[str, MediaItem] = {}
        ids = list(dict.fromkeys(item_ids))
        for start in range(0, len(ids), WRITE_BATCH):
            page = ids[start : start + WRITE_BATCH]
            found = self._read(
                lambda page=page: self.collections["content"].get(ids=page, include=["metadatas"])
            )
            for item_id, meta in zip(found["ids"], found["metadatas"], strict=True):
                items[item_id] = _item(item_id, meta)
        return items

    def items_where(self, where: dict[str, Any]) -> list[MediaItem]:
        """Every stored item whose metadata matches Chroma's ``where`` filter, read in pages."""
        return [_item(item_id, meta) for item_id, meta in self._metadata_pages(where)]

    def ids_of(self, modality: str, limit: int) -> list[str]:
        """Up to ``limit`` ids of items of one modality, read from the index's metadata (no
        vectors, no scan of the whole library)."""
        found = self._read(
            lambda: self.collections["content"].get(
                where={"modality": modality}, include=[], limit=limit
            )
        )
        return list(found["ids"])

    def exact_vectors(self, kind: VectorKind) -> ExactVectors | None:
        """The in-memory copy of one collection for exact search, or None above ``exact_limit``.

        Every write marks its collection with a new revision; the copy is reloaded when the
        revision differs from the copy's (another process or replica wrote). Chroma's count
        scans the whole collection (65 ms at 1M vectors), so it is read only when the revision
        changed; an embedded index asks for the revision only when its files changed.
        """
        token = self._change_token()
        with self._exact_guard:
            known_files = token is not None and self._exact_token.get(kind) == token
            if kind in self._exact_state and known_files:
                return self._exact.get(kind)
        revision = self._revision(kind)
        with self._exact_guard:
            known = self._exact_state.get(kind)
            if known is not None and revision is not None and known[0] == revision:
                if token is not None:
                    self._exact_token[kind] = token
                return self._exact.get(kind)
        count = int(self._read(self.collections[kind].count))
        with self._exact_guard:
            exact = self._exact.get(kind)
            if count > self.exact_limit:
                self._exact.pop(kind, None)
            elif exact is None or self._exact_state.get(kind) != (revision, count):
                exact = ExactVectors(self.dim)
                exact.replace_all(*self._load_all(kind, count))
                log.debug("loaded %d %s vectors for exact search", len(exact), kind)
                self._exact[kind] = exact
            self._exact_state[kind] = (revision, count)
            if token is not None:
                self._exact_token[kind] = token
            return self._exact.get(kind)

    def _revision(self, kind: VectorKind) -> str | None:
        """A collection's revision as stored now (None: no writer has marked it)."""
        name = self.collections[kind].name
        collection = self._read(lambda: self.client.get_collection(name, embedding_function=None))
        return (collection.metadata or {}).get("revision")

    def _load_all(self, kind: VectorKind, count: int) -> tuple[list[str], np.ndarray]:
        collection = self.collections[kind]
        ids, vectors = [], []
        for offset in range(0, count, EXACT_LOAD_PAGE):
            page = self._read(
                lambda offset=offset: collection.get(
                    limit=EXACT_LOAD_PAGE, offset=offset, include=["embeddings"]
                )
            )
            ids.extend(page["ids"])
            vectors.append(np.asarray(page["embeddings"], dtype=np.float32).reshape(-1, self.dim))
        return ids, np.concatenate(vectors) if vectors else np.zeros((0, self.dim), np.float32)

    def vectors(self, kind: VectorKind = "content") -> tuple[list[str], np.ndarray]:
        """Every item id with its vector of one kind (e.g. the recommender's content table):
        the in-memory copy kept for exact search when there is one, else read from Chroma."""
        exact = self.exact_vectors(kind)
        if exact is not None:
            with self._exact_guard:
                return exact.snapshot()
        return self._load_all(kind, int(self._read(self.collections[kind].count)))

    def vector_of(self, item_id: str, kind: VectorKind = "content") -> np.ndarray | None:
        """One item's stored vector ("more like this"), or None for an unknown item."""
        found = self._read(
            lambda: self.collections[kind].get(ids=[item_id], include=["embeddings"])
        )
        if not found["ids"]:
            return None
        return np.asarray(found["embeddings"][0], dtype=np.float32)

    def _change_token(self) -> tuple | None:
        """Size and time of Chroma's database files; any write changes them (None: a server)."""
        if self._root is None:
            return None
        token = []
        for name in ("chroma.sqlite3", "chroma.sqlite3-wal"):
            try:
                stat = (self._root / name).stat()
                token.append((stat.st_mtime_ns, stat.st_size))
            except FileNotFoundError:
                token.append(None)
        return tuple(token)

    def _nearest(
        self, kind: VectorKind, vector: np.ndarray, k: int, where: dict[str, Any] | None
    ) -> list[SearchHit]:
        collection = self.collections[kind]
        if kind == "part":
            k *= PART_OVERFETCH
        exact = None if where else self.exact_vectors(kind)
        if exact is not None:
            scored = exact.top(vector, k)
            if not scored:
                return []
            found = self._read(
                lambda: collection.get(ids=[i for i, _ in scored], include=["metadatas"])
            )
            metadata = dict(zip(found["ids"], found["metadatas"], strict=True))
            return [_hit(i, metadata[i], score, kind) for i, score in scored if i in metadata]
        result = self._read(
            lambda: collection.query(
                query_embeddings=vector[None, :],
                n_results=k,
                where=where or None,
                include=["metadatas", "distances"],
            )
        )
        rows = zip(result["ids"][0], result["metadatas"][0], result["distances"][0], strict=True)
        return [_hit(i, meta, 1.0 - float(distance), kind) for i, meta, distance in rows]

    def query(
        self,
        vector: np.ndarray,
        k: int = 10,
        where: dict[str, Any] | None = None,
        kinds: Sequence[VectorKind] = VECTOR_KINDS,
        word_match: dict[str, float] | None = None,
    ) -> list[SearchHit]:
        """The ``k`` items nearest to ``vector`` (cosine), best first, each item once.

        ``where`` is a Chroma metadata filter on ``modality`` or the items' own metadata (e.g.
        ``{"modality": "image"}``; it makes a query scan metadata, so it is slower);
        ``kinds`` chooses which vectors may match: ``("content",)`` = by the media itself,
        ``("caption",)`` = by captions only, ``("fused",)`` = by the item's fused vector (image
        and caption together, where the encoder has a fusion). Unfiltered queries on collections
        up to ``exact_limit`` vectors are exact (see retrieval.exact); the rest use Chroma's HNSW.
        ``word_match``: items by how well their caption in the question's language matches its
        words (retrieval.caption_words), added to their score; they are candidates even when
        their vectors are not among the nearest.
        """
        vector = np.asarray(vector, dtype=np.float32).reshape(-1)
        if vector.shape[0] != self.dim:
            raise IndexStoreError(
                f"query vector has {vector.shape[0]} dims; the index holds {self.dim}"
            )
        if k < 1:
            raise ValueError("k must be at least 1")
        hits: dict[str, SearchHit] = {}
        parts: dict[str, SearchHit] = {}
        for kind in kinds:
            for hit in self._nearest(kind, vector, k, where):
                if hit.item_id not in hits or hits[hit.item_id].score < hit.score:
                    hits[hit.item_id] = hit
                if kind == "part" and (
                    hit.item_id not in parts or parts[hit.item_id].score < hit.score
                ):
                    parts[hit.item_id] = hit
        if word_match:  # items whose caption says the question's words, near or not
            unseen = [i for i in word_match if i not in hits]
            hits.update({h.item_id: h for h in self._scored(vector, unseen, kinds, where)})
            for hit in hits.values():
                hit.score = round(with_word_match(hit.score, word_match.get(hit.item_id, 0.0)), 6)
        ranked = sorted(hits.values(), key=lambda h: -h.score)[:k]
        for hit in ranked:
            if hit.modality == "video" and hit.moment is None:
                _take_moment(hit, parts.get(hit.item_id) or self._best_part(hit.item_id, vector))
        return ranked

    def _scored(
        self,
        vector: np.ndarray,
        item_ids: list[str],
        kinds: Sequence[VectorKind],
        where: dict[str, Any] | None,
    ) -> list[SearchHit]:
        """These items (those ``where`` admits) scored against ``vector`` by their best vector
        among ``kinds`` (parts left out: a caption belongs to the whole item)."""
        best: dict[str, SearchHit] = {}
        if not item_ids:
            return []
        for kind in kinds:
            if kind == "part":
                continue
            found = self._read(
                lambda kind=kind: self.collections[kind].get(
                    ids=item_ids, where=where or None, include=["embeddings", "metadatas"]
                )
            )
            rows = zip(found["ids"], found["embeddings"], found["metadatas"], strict=True)
            for item_id, stored, meta in rows:
                score = float(np.dot(np.asarray(stored, dtype=np.float32), vector))
                if item_id not in best or best[item_id].score < score:
                    best[item_id] = _hit(item_id, meta, score, kind)
        return list(best.values())

    def captions_in(self, language: str) -> tuple[list[str], list[str]]:
        """The ids and captions of every item that carries its caption in ``language``
        (``caption_<language>`` metadata), read page by page."""
        return self.texts_of(caption_key(language))

    def texts_of(self, key: str) -> tuple[list[str], list[str]]:
        """The ids and values of every item with a non-empty text under metadata ``key``, read
        page by page."""
        found = [
            (item_id, text)
            for item_id, meta in self._metadata_pages()
            if isinstance(text := meta.get(key), str) and text.strip()
        ]
        return [i for i, _ in found], [t for _, t in found]

    def state(self, kind: VectorKind = "content") -> tuple[str | None, int] | None:
        """A collection's revision and count as of the last check of its in-memory copy, which
        every write, by any process, changes: the same check search makes (it reads Chroma only
        when the database files changed), not a count of the whole collection."""
        self.exact_vectors(kind)
        with self._exact_guard:
            return self._exact_state.get(kind)

    def _best_part(self, item_id: str, vector: np.ndarray) -> SearchHit | None:
        """The part of one item nearest to ``vector`` (None when it has none)."""
        found = self._read(
            lambda: self.collections["part"].query(
                query_embeddings=vector[None, :],
                n_results=1,
                where={"part_of": item_id},
                include=["metadatas", "distances"],
            )
        )
        if not found["ids"] or not found["ids"][0]:
            return None
        meta, distance = found["metadatas"][0][0], found["distances"][0][0]
        return _hit(found["ids"][0][0], meta, 1.0 - float(distance), "part")


def _take_moment(hit: SearchHit, part: SearchHit | None) -> None:
    """Give a video hit found by its whole-item vectors the moment of its best part."""
    if part is not None:
        hit.part, hit.part_text, hit.moment = part.part, part.part_text, part.moment


def _entry_metadata(item: MediaItem) -> dict[str, MetadataValue]:
    clash = RESERVED_KEYS.intersection(item.metadata)
    if clash:
        raise ValueError(f"metadata keys {sorted(clash)} are reserved by the index")
    packed = {
        "uri": item.uri,
        "caption": item.caption,
        "source": item.source,
        "keys": list(item.metadata),
    }
    return {
        **item.metadata,
        "modality": item.modality,
        "item": json.dumps(packed, ensure_ascii=False),
    }


def _with_metadata(meta: dict[str, Any], changes: dict[str, MetadataValue]) -> dict[str, Any]:
    """A stored entry's metadata with ``changes`` set (and listed as the item's own keys)."""
    packed = json.loads(meta["item"])
    packed["keys"] = list(dict.fromkeys([*packed["keys"], *changes]))
    return {**meta, **changes, "item": json.dumps(packed, ensure_ascii=False)}


def _part_entries(
    parts: Sequence[tuple[str, ItemPart, np.ndarray]], metadata: dict[str, dict]
) -> dict[str, tuple[dict[str, MetadataValue], np.ndarray]]:
    """Chroma entries for parts: id ``<item>:<n>``, the item's metadata plus the part's own
    (``part`` JSON, ``part_of`` the item id for filtering and deletion)."""
    entries: dict[str, tuple[dict[str, MetadataValue], np.ndarray]] = {}
    numbers: dict[str, int] = {}
    for item_id, part, vector in parts:
        number = numbers[item_id] = numbers.get(item_id, -1) + 1
        described = {"kind": part.kind, "text": part.text, "time": part.time}
        meta = {
            **metadata[item_id],
            "part": json.dumps(described, ensure_ascii=False),
            "part_of": item_id,
        }
        entries[f"{item_id}:{number}"] = (meta, vector)
    return entries


def _collection_metadata(encoder_name: str, dim: int, kind: VectorKind) -> dict[str, Any]:
    return {"encoder": encoder_name, "dim": dim, "vectors": kind}


def _item(item_id: str, meta: dict[str, Any]) -> MediaItem:
    hit = _hit(item_id, meta, 1.0, "content")
    return MediaItem(
        hit.item_id,
        hit.modality,
        hit.uri,
        hit.caption,
        hit.source,
        hit.metadata,  # type: ignore[arg-type]
    )


def _hit(item_id: str, meta: dict[str, Any], score: float, kind: VectorKind) -> SearchHit:
    packed = json.loads(meta["item"])
    part = json.loads(meta["part"]) if "part" in meta else {}
    return SearchHit(
        item_id=str(meta.get("part_of", item_id)),
        score=round(score, 6),
        caption=packed["caption"],
        uri=packed["uri"],
        modality=meta["modality"],
        source=packed["source"],
        matched=kind,
        metadata={key: meta[key] for key in packed["keys"] if key in meta},
        part=part.get("kind", ""),
        part_text=part.get("text", ""),
        moment=part.get("time"),
    )
