"""The library as a LangChain retriever: ``Document``s that carry item id, caption, modality,
uri and score, found by a text query or by a query vector (an image, a composed query, an item
the user pointed at)."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import numpy as np
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict, Field

from retrieval.describe import generated_description
from retrieval.index import SearchHit
from retrieval.items import (
    CAPTION_LANGUAGE_KEY,
    COLOURS_KEY,
    PICTURE_TEXT_KEY,
    translated_captions,
)


def hit_document(hit: SearchHit) -> Document:
    """One search hit as a Document (its caption is the page content; what matched of it, a
    video's moment and a picture's text are in its metadata)."""
    return Document(
        page_content=hit.caption,
        id=hit.item_id,
        metadata={
            "item_id": hit.item_id,
            "caption": hit.caption,
            "modality": hit.modality,
            "uri": hit.uri,
            "score": hit.score,
            "matched": hit.matched,
            "part": hit.part,
            "part_text": hit.part_text,
            "moment": hit.moment,
            "picture_text": str(hit.metadata.get(PICTURE_TEXT_KEY, "")),
            "colours": str(hit.metadata.get(COLOURS_KEY, "")),  # "yellow white"
            "description": generated_description(hit.metadata),
            "translations": translated_captions(hit.metadata),  # its caption in other languages
            "caption_language": str(hit.metadata.get(CAPTION_LANGUAGE_KEY, "")),  # "" unknown
        },
    )


class LibraryRetriever(BaseRetriever):
    """Top-``k`` items of a ``retrieval.library.Library`` for a query; ``invoke(query, k=n)``
    asks for ``n`` items this once."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    library: Any
    k: int = Field(default=6, ge=1)

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, k: int | None = None
    ) -> list[Document]:
        count = self.k if k is None else k
        if count < 1:
            raise ValueError(f"k must be at least 1, not {count}")
        return [hit_document(h) for h in self.library.search(text=query, k=count)]

    def from_vector(
        self,
        vector: np.ndarray,
        exclude: Collection[str] = (),
        prefer: str | None = None,
        min_score: float = 0.0,
        word_match: dict[str, float] | None = None,
    ) -> list[Document]:
        """Top-``k`` items for a query vector, leaving out ``exclude`` (e.g. the item itself).
        ``prefer``: a modality asked for ("pictures of frogs"): its items scoring at least
        ``min_score`` come first, then the rest by score; none that good, the plain order.
        ``word_match``: a question in another language, its items whose caption in it says its
        words (``Library.word_match``), added to their scores."""
        count = self.k + len(exclude)
        hits = self.library.index.query(vector, k=count, word_match=word_match)
        ranked = [h for h in hits if h.item_id not in exclude]
        if prefer is not None:
            wanted = self.library.index.query(
                vector, k=count, where={"modality": prefer}, word_match=word_match
            )
            first = [h for h in wanted if h.item_id not in exclude and h.score >= min_score]
            chosen = {h.item_id for h in first}
            ranked = first + [h for h in ranked if h.item_id not in chosen]
        return [hit_document(h) for h in ranked[: self.k]]
