"""MediaIndex: the Chroma-backed cross-modal index (embedded by default, a server by URL).

Each item is stored as up to two entries, ``<item id>:content`` (the image vector, or the text
vector of a text document) and ``<item id>:caption`` (the caption's text vector), so a sentence
finds pictures through either, and a picture finds captions and similar pictures. Vectors are
always our own: Chroma never embeds anything (its default function downloads a model).
One collection per encoder, so vectors from two encoders never mix.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

import numpy as np
from filelock import FileLock

from retrieval.errors import IndexStoreError
from retrieval.items import MediaItem, MetadataValue

log = logging.getLogger(__name__)

VectorKind = Literal["content", "caption"]
RESERVED_KEYS = frozenset({"item_id", "vector_kind", "modality", "uri", "caption", "source"})
WRITE_BATCH = 1000


@dataclass(frozen=True)
class HnswSettings:
    """Chroma HNSW settings. ``DEFAULT`` is Chroma's own; ``TUNED`` is what bench/index_speed.py
    measured to add several times faster at equal recall (see docs/benchmarks.md)."""

    space: str = "cosine"
    ef_construction: int = 100
    ef_search: int = 100
    max_neighbors: int = 16
    batch_size: int = 100
    sync_threshold: int = 1000

    def as_configuration(self) -> dict[str, Any]:
        return {"hnsw": asdict(self)}


DEFAULT_HNSW = HnswSettings()
TUNED_HNSW = HnswSettings(
    ef_construction=64, ef_search=64, max_neighbors=16, batch_size=5000, sync_threshold=20000
)


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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def collection_name(encoder_name: str) -> str:
    """A valid Chroma collection name for an encoder."""
    slug = re.sub(r"[^a-zA-Z0-9._-]+", "-", encoder_name).strip("-._")
    return f"media-{slug}"[:200]


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
    ):
        import chromadb
        from chromadb.config import Settings

        if (path is None) == (url is None):
            raise IndexStoreError("give the index either a data path or a Chroma server URL")
        settings = Settings(anonymized_telemetry=False)
        self.location = str(path or url)
        try:
            if url is not None:
                parsed = urlparse(url)
                self.client = chromadb.HttpClient(
                    host=parsed.hostname or "localhost",
                    port=parsed.port or (443 if parsed.scheme == "https" else 8000),
                    ssl=parsed.scheme == "https",
                    settings=settings,
                )
                self._lock = None
            else:
                root = Path(path)
                root.mkdir(parents=True, exist_ok=True)
                self.client = chromadb.PersistentClient(path=str(root), settings=settings)
                self._lock = FileLock(str(root / ".write.lock"))
            self.collection = self.client.get_or_create_collection(
                collection_name(encoder_name),
                configuration=hnsw.as_configuration(),
                metadata={"encoder": encoder_name, "dim": dim},
                embedding_function=None,
            )
        except IndexStoreError:
            raise
        except Exception as exc:
            raise IndexStoreError(f"cannot open the index at {self.location}: {exc}") from exc
        stored_dim = (self.collection.metadata or {}).get("dim")
        if stored_dim is not None and int(stored_dim) != dim:
            raise IndexStoreError(
                f"the index at {self.location} holds {stored_dim}-d vectors for {encoder_name!r}, "
                f"but the encoder gives {dim}-d; use another --data-dir"
            )
        self.encoder_name = encoder_name
        self.dim = dim

    # -- writing ---------------------------------------------------------------------------

    def add(
        self,
        items: Sequence[MediaItem],
        content_vectors: np.ndarray,
        caption_vectors: dict[str, np.ndarray] | None = None,
    ) -> None:
        """Store items with their content vector (row i for items[i]) and optional caption
        vectors (by item id). Re-adding an item overwrites it, so a retry is always safe."""
        if len(items) != len(content_vectors):
            raise ValueError("one content vector per item is required")
        ids, vectors, metadatas, documents = [], [], [], []
        for item, vector in zip(items, content_vectors, strict=True):
            entries: list[tuple[VectorKind, np.ndarray]] = [("content", vector)]
            if caption_vectors and item.id in caption_vectors:
                entries.append(("caption", caption_vectors[item.id]))
            for kind, vec in entries:
                ids.append(f"{item.id}:{kind}")
                vectors.append(np.asarray(vec, dtype=np.float32))
                metadatas.append(_entry_metadata(item, kind))
                documents.append(item.caption)
        self._write(ids, vectors, metadatas, documents)

    def _write(self, ids, vectors, metadatas, documents) -> None:
        for start in range(0, len(ids), WRITE_BATCH):
            end = start + WRITE_BATCH
            try:
                with self._locked():
                    self.collection.upsert(
                        ids=ids[start:end],
                        embeddings=np.stack(vectors[start:end]),
                        metadatas=metadatas[start:end],
                        documents=documents[start:end],
                    )
            except Exception as exc:
                raise IndexStoreError(
                    f"could not write to the index at {self.location} ({exc}); nothing of this "
                    "batch is trusted: free disk space or fix permissions and run the command again"
                ) from exc

    def delete(self, item_ids: Iterable[str]) -> None:
        """Remove items (both of their vectors). Unknown ids are ignored."""
        ids = [f"{i}:{kind}" for i in item_ids for kind in ("content", "caption")]
        if not ids:
            return
        try:
            with self._locked():
                self.collection.delete(ids=ids)
        except Exception as exc:
            raise IndexStoreError(
                f"could not delete from the index at {self.location}: {exc}"
            ) from exc

    def _locked(self):
        from contextlib import nullcontext

        return self._lock if self._lock is not None else nullcontext()

    # -- reading ---------------------------------------------------------------------------

    def existing(self, item_ids: Iterable[str]) -> set[str]:
        """The subset of ``item_ids`` already in the index."""
        ids = [f"{i}:content" for i in item_ids]
        if not ids:
            return set()
        found = self._read(lambda: self.collection.get(ids=ids, include=[])["ids"])
        return {entry.rsplit(":", 1)[0] for entry in found}

    def count(self) -> int:
        """Number of items (not vectors) in the index."""
        return len(
            self._read(
                lambda: self.collection.get(where={"vector_kind": "content"}, include=[])["ids"]
            )
        )

    def get(self, item_id: str) -> MediaItem | None:
        """The stored item with this id, or None."""
        found = self._read(
            lambda: self.collection.get(ids=[f"{item_id}:content"], include=["metadatas"])
        )
        if not found["ids"]:
            return None
        meta = dict(found["metadatas"][0])
        return MediaItem(
            id=meta.pop("item_id"),
            modality=meta.pop("modality"),
            uri=meta.pop("uri", ""),
            caption=meta.pop("caption", ""),
            source=meta.pop("source", ""),
            metadata={k: v for k, v in meta.items() if k != "vector_kind"},
        )

    def _read(self, fetch):
        try:
            return fetch()
        except Exception as exc:
            raise IndexStoreError(f"cannot read the index at {self.location}: {exc}") from exc

    def query(
        self,
        vector: np.ndarray,
        k: int = 10,
        where: dict[str, Any] | None = None,
        kinds: Sequence[VectorKind] = ("content", "caption"),
    ) -> list[SearchHit]:
        """The ``k`` items nearest to ``vector`` (cosine), best first, each item once.

        ``where`` is a Chroma metadata filter (e.g. ``{"modality": "image"}``); ``kinds`` limits
        which vectors may match (``("content",)`` = images only, ``("caption",)`` = captions only).
        """
        vector = np.asarray(vector, dtype=np.float32).reshape(-1)
        if vector.shape[0] != self.dim:
            raise IndexStoreError(
                f"query vector has {vector.shape[0]} dims; the index holds {self.dim}"
            )
        if k < 1:
            raise ValueError("k must be at least 1")
        kind_filter: dict[str, Any] = {"vector_kind": {"$in": list(kinds)}}
        conditions = [kind_filter, *([where] if where else [])]
        clause = conditions[0] if len(conditions) == 1 else {"$and": conditions}
        try:
            result = self.collection.query(
                query_embeddings=vector[None, :],
                n_results=k * len(kinds),
                where=clause,
                include=["metadatas", "distances"],
            )
        except Exception as exc:
            raise IndexStoreError(f"query failed on the index at {self.location}: {exc}") from exc
        hits: dict[str, SearchHit] = {}
        for meta, distance in zip(result["metadatas"][0], result["distances"][0], strict=True):
            hit = _hit(meta, 1.0 - float(distance))
            if hit.item_id not in hits or hits[hit.item_id].score < hit.score:
                hits[hit.item_id] = hit
        return sorted(hits.values(), key=lambda h: -h.score)[:k]


def _entry_metadata(item: MediaItem, kind: VectorKind) -> dict[str, MetadataValue]:
    clash = RESERVED_KEYS.intersection(item.metadata)
    if clash:
        raise ValueError(f"metadata keys {sorted(clash)} are reserved by the index")
    return {
        **item.metadata,
        "item_id": item.id,
        "vector_kind": kind,
        "modality": item.modality,
        "uri": item.uri,
        "caption": item.caption,
        "source": item.source,
    }


def _hit(meta: dict[str, Any], score: float) -> SearchHit:
    meta = dict(meta)
    return SearchHit(
        item_id=meta.pop("item_id"),
        score=round(score, 6),
        caption=meta.pop("caption", ""),
        uri=meta.pop("uri", ""),
        modality=meta.pop("modality", ""),
        source=meta.pop("source", ""),
        matched=meta.pop("vector_kind"),
        metadata=meta,
    )
