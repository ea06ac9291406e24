"""LangChain's own standard retriever tests (langchain-tests) against the real library
retriever: a real Chroma index of real Tux Paint stamps, packaged encoder."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from langchain_tests.integration_tests import RetrieversIntegrationTests

from assistant.retriever import LibraryRetriever
from retrieval.library import Library, LibraryConfig

KEYWORDS = ("frog", "badger", "guitar", "banana", "saturn", "tractor")


@pytest.fixture(scope="module")
def small_library(tmp_path_factory, stamps_root, model_cache) -> Library:
    from retrieval.datasets.tuxpaint import captioned_stamps

    root = tmp_path_factory.mktemp("retriever-library")
    stamps = list(captioned_stamps(stamps_root))
    rows = []
    for keyword in KEYWORDS:
        path, caption = next(
            (p, c) for p, c in stamps if keyword in c.lower() and p.suffix == ".png"
        )
        shutil.copy(path, root / path.name)
        rows.append({"image": str(root / path.name), "caption": caption})
    (root / "manifest.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    config = LibraryConfig(
        Path(tmp_path_factory.mktemp("retriever-home")), "default", None, model_cache
    )
    library = Library(config)
    library.ingest(root / "manifest.jsonl", progress=False)
    return library


class TestLibraryRetriever(RetrieversIntegrationTests):
    @pytest.fixture(autouse=True)
    def _library(self, small_library: Library) -> None:
        type(self).library = small_library

    @property
    def retriever_constructor(self) -> type[LibraryRetriever]:
        return LibraryRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return {"library": self.library}

    @property
    def retriever_query_example(self) -> str:
        return "a frog"


def test_k_given_to_invoke_is_honoured_and_the_best_item_comes_first(small_library):
    retriever = LibraryRetriever(library=small_library)
    documents = retriever.invoke("a frog", k=1)
    assert len(documents) == 1 and "frog" in documents[0].page_content.lower()
    assert len(retriever.invoke("a frog", k=4)) == 4
    assert len(retriever.invoke("a frog")) == min(retriever.k, len(KEYWORDS))
