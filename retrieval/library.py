"""Library: one media library in one data directory (index + model cache) behind a small API."""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from retrieval.caption_words import CaptionWords
from retrieval.colours import PictureColours, colours_named
from retrieval.discovery import AudioMode, discover
from retrieval.encoders import load_encoder
from retrieval.encoders.base import Encoder, l2_normalise, texts_in_language
from retrieval.errors import EmptyQueryError
from retrieval.index import VECTOR_KINDS, MediaIndex, SearchHit, VectorKind
from retrieval.ingest import AudioTranscriber, Ingestor, IngestReport, OcrMode
from retrieval.items import CAPTION_LANGUAGES, COLOURS_KEY

if TYPE_CHECKING:
    from retrieval.ocr import TextReader

log = logging.getLogger(__name__)
INGEST_OCR_THREADS = 1  # per OCR call: each reader thread runs its own (see text_reader)
INGEST_READERS = 2  # threads reading chunks ahead of the encoders (docs/deployment-ingest.md)
INGEST_READ_AHEAD = 4  # chunks read ahead of the encoders


def text_vector(encoder: Encoder, text: str, language: str | None = None) -> np.ndarray:
    """A text's query vector; its ``language``, where known, goes to an encoder that reads
    other languages (``encode_texts_in``), else the encoder tells it per text."""
    return texts_in_language(encoder, [text], language)[0]


@dataclass(frozen=True)
class LibraryConfig:
    """Where a library lives and how it is embedded; built once at the edge (CLI, UI)."""

    data_dir: Path
    encoder: str = "default"
    chroma_url: str | None = None
    model_cache_dir: Path | None = None

    @property
    def cache_dir(self) -> Path:
        """Unpacked models and derived tables: shared by libraries when set, else per library."""
        return self.model_cache_dir or self.data_dir / "cache"

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"


class Library:
    """Ingest media into the shared space and search it by text, image, or both."""

    def __init__(self, config: LibraryConfig):
        self.config = config
        log.info("loading encoder %r", config.encoder)
        self.encoder = load_encoder(config.encoder, cache_dir=config.cache_dir)
        self.index = MediaIndex(
            None if config.chroma_url else config.index_dir,
            url=config.chroma_url,
            encoder_name=self.encoder.name,
            dim=self.encoder.dim,
        )
        self._text_reader: TextReader | None = None
        # per language: the index state its captions were read at, and the captions
        self._caption_words: dict[str, tuple[tuple[str | None, int], CaptionWords]] = {}
        self._spoken_languages: tuple[tuple[str | None, int] | None, tuple[str, ...]] | None = None
        self._colours: tuple[tuple[str | None, int] | None, PictureColours] | None = None
        log.info("index %s holds %d items", self.index.location, self.index.count())

    def ingest(
        self,
        path: str | Path,
        progress: bool = True,
        batch_size: int = 32,
        audio: AudioMode = "all",
        transcribe: AudioTranscriber | None = None,
        ocr: OcrMode = "gated",
        describe: bool = True,
    ) -> IngestReport:
        """Ingest a folder, a file or a manifest (see retrieval.ingest); audio items need
        ``transcribe`` (speech to text), videos use it for their sound. ``ocr``: read the text
        in pictures where a cheap detector sees some (``gated``), in every picture (``all``:
        scans, screenshots) or not at all (``off``); ``describe``: generate descriptions for
        pictures without a caption."""
        ingestor = self.ingestor(batch_size, transcribe, ocr, describe)
        return ingestor.ingest(discover(path, audio), progress)

    def ingestor(
        self,
        batch_size: int = 32,
        transcribe: AudioTranscriber | None = None,
        ocr: OcrMode = "gated",
        describe: bool = True,
        readers: int = INGEST_READERS,
    ) -> Ingestor:
        """The pipeline that writes records into this library (see ``ingest``), reading on
        ``readers`` threads ahead of the encoders; a Ray worker (retrieval.ray_ingest) makes
        one with one reader and feeds it batch after batch."""
        return Ingestor(
            self.index,
            self.encoder,
            batch_size=batch_size,
            transcribe=transcribe,
            read_text=None if ocr == "off" else self.text_reader(),
            describe=describe,
            ocr_gate=ocr != "all",
            prefetch=INGEST_READ_AHEAD,
            readers=readers,
        )

    def text_reader(self) -> TextReader:
        """The library's OCR reader, made once (its models load on first use)."""
        if self._text_reader is None:
            from retrieval.ocr import TextReader

            # One thread per call and a set of models per reader thread: ingest reads pictures
            # on INGEST_READERS threads beside the encoders, and on 2 cores the gate ran twice
            # as fast with one thread as with two (docs/deployment-ingest.md).
            self._text_reader = TextReader(threads=INGEST_OCR_THREADS, engines=INGEST_READERS)
        return self._text_reader

    def query_vector(
        self,
        text: str | None = None,
        image: Image.Image | None = None,
        language: str | None = None,
    ) -> np.ndarray:
        """The query's vector: the text's, the image's, or the normalised mean of both. The
        ``language`` of the text, where known from more words than it has (the question a
        search phrase was cut from), is passed to an encoder that reads other languages."""
        vectors = []
        if text is not None and text.strip():
            vectors.append(text_vector(self.encoder, text.strip(), language))
        if image is not None:
            vectors.append(self.encoder.encode_images([image])[0])
        if not vectors:
            raise EmptyQueryError("the query is empty: give some text, an image, or both")
        return l2_normalise(np.mean(vectors, axis=0))

    def in_english(self, text: str, language: str) -> str | None:
        """A dictionary translation of a short ``text`` in ``language`` (what the multilingual
        text side reads it as), or None: English, no multilingual side, too few words found."""
        multilingual = getattr(self.encoder, "multilingual", None)
        if multilingual is None or language == "en":
            return None
        found = multilingual.translator.translate(text, language)
        if found is None or found.coverage < multilingual.student.min_coverage:
            return None
        return found.english

    def word_match(self, text: str, language: str | None) -> dict[str, float]:
        """Items whose caption in ``language`` shares words with ``text``, by how well
        (retrieval.caption_words); empty for English and languages no item has a caption in.
        The captions are read again whenever the index has changed."""
        if language not in CAPTION_LANGUAGES or not text.strip():
            return {}
        state = self.index.state()
        known = self._caption_words.get(language)
        if known is None or known[0] != state:
            known = (state, CaptionWords(*self.index.captions_in(language), language))
            self._caption_words[language] = known
        return known[1].match(text)

    def spoken_languages(self) -> tuple[str, ...]:
        """The languages the library's recordings are said in (``spoken_language``: a Tux Paint
        ``frog_desc_fr.ogg``), most recordings first; read again whenever the index has
        changed."""
        state = self.index.state()
        if self._spoken_languages is None or self._spoken_languages[0] != state:
            _, said = self.index.texts_of("spoken_language")
            ranked = tuple(code for code, _ in Counter(said).most_common())
            self._spoken_languages = (state, ranked)
        return self._spoken_languages[1]

    def text_match(self, text: str, language: str | None) -> dict[str, float]:
        """What a text says of items beyond its vector, by how much in [0, 1]: the words of
        their captions in its language (``word_match``) and the colours of their pictures
        (``colour_match``, on the text or its dictionary English); the larger where both."""
        matched = dict(self.word_match(text, language))
        english = text if language in (None, "en") else (self.in_english(text, language) or "")
        for item_id, share in self.colour_match(english).items():
            matched[item_id] = max(matched.get(item_id, 0.0), share)
        return matched

    def colour_match(self, english: str) -> dict[str, float]:
        """The pictures showing the colours an English text names ("anything yellow?"), by how
        much (retrieval.colours); empty when it names none. Read again whenever the index has
        changed."""
        if not colours_named(english):
            return {}
        state = self.index.state()
        if self._colours is None or self._colours[0] != state:
            self._colours = (state, PictureColours(*self.index.texts_of(COLOURS_KEY)))
        return self._colours[1].match(english)

    def search(
        self,
        text: str | None = None,
        image: Image.Image | None = None,
        k: int = 10,
        where: dict[str, Any] | None = None,
        kinds: tuple[VectorKind, ...] = VECTOR_KINDS,
        language: str | None = None,
    ) -> list[SearchHit]:
        """Top-k items for a text and/or image query (see MediaIndex.query for the filters);
        a text's ``language``, where known, reads it in that language and matches its words
        with the items' captions in it."""
        vector = self.query_vector(text, image, language)
        words = self.text_match(text or "", language)
        return self.index.query(vector, k=k, where=where, kinds=kinds, word_match=words)
