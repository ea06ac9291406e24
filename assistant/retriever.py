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
from pydantic import ConfigDict

from retrieval.index import SearchHit


def hit_document(hit: SearchHit) -> Document:
    """One search hit as a Document (its caption is the page content)."""
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
        },
    )


class LibraryRetriever(BaseRetriever):
    """Top-``k`` items of a ``retrieval.library.Library`` for a query."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    library: Any
    k: int = 6

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        return [hit_document(h) for h in self.library.search(text=query, k=self.k)]

    def from_vector(self, vector: np.ndarray, exclude: Collection[str] = ()) -> list[Document]:
        """Top-``k`` items for a query vector, leaving out ``exclude`` (e.g. the item itself)."""
        hits = self.library.index.query(vector, k=self.k + len(exclude))
        return [hit_document(h) for h in hits if h.item_id not in exclude][: self.k]
