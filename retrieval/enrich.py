"""What ingest adds to a new picture beyond its vector: the text read in it (OCR, only where the
cheap detector sees text) and, for a picture without a caption, a generated description.

The text becomes an ``ocr`` part of the item (its own text vector) and ``picture_text`` in its
metadata; a description goes to the item's metadata (``description``, ``description_by`` =
``generated``; never the caption) and into its fused vector, which docs/describe.md measured to
help search where a vector of its own did not.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from retrieval.describe import describe_batch
from retrieval.encoders.base import Encoder
from retrieval.errors import CrossmediaError, OCRUnavailableError
from retrieval.images import flatten
from retrieval.items import PICTURE_TEXT_KEY, ItemPart, MediaItem

if TYPE_CHECKING:
    from retrieval.ocr import TextReader

log = logging.getLogger(__name__)
MAX_PICTURE_TEXT_CHARS = 2000


@dataclass
class EncodedPictures:
    """Pictures through the image tower once: content vectors (row i for picture i), the items
    with what was generated for them, and fused vectors for the described ones (row -> vector)."""

    vectors: np.ndarray
    items: list[MediaItem]
    fused: dict[int, np.ndarray]


class PictureEnricher:
    """Reads text in new pictures and describes the uncaptioned ones, for one ingest run."""

    def __init__(
        self,
        encoder: Encoder,
        reader: TextReader | None = None,
        describe: bool = True,
        gate: bool = True,
    ) -> None:
        """``reader``: OCR (None: none); ``gate``: read only where its detector sees text
        (False: read every picture, for scans and screenshots); ``describe``: generate
        descriptions for pictures without a caption."""
        self.encoder = encoder
        self.reader = reader
        self.describe = describe
        self.gate = gate

    def with_text(self, item: MediaItem, image: Image.Image) -> MediaItem:
        """The item with the text read in its picture, given as decoded (transparency kept,
        so the reader can put light text on a dark ground); unchanged when there is none, or
        when the reader cannot run: OCR never costs a picture its place in the library."""
        if self.reader is None:
            return item
        try:
            found = self.reader.read(image, gate=self.gate)
        except OCRUnavailableError as exc:  # no OCR package or models: say it once, go on
            log.warning("text in pictures will not be read: %s", exc)
            self.reader = None
            return item
        except CrossmediaError as exc:
            log.warning("%s: text not read (%s)", item.uri, exc)
            return item
        text = " ".join(found.text.split())[:MAX_PICTURE_TEXT_CHARS]
        if not text:
            return item
        return dataclasses.replace(item, metadata={**item.metadata, PICTURE_TEXT_KEY: text})

    def encode(self, items: Sequence[MediaItem], images: Sequence[Image.Image]) -> EncodedPictures:
        """Content vectors of the pictures (as decoded, transparency kept: flattened on white
        for the tower here); the uncaptioned ones also get their description (from the same
        tower pass, their EXIF read from the decoded picture) and its fused vector."""
        flat = [flatten(image) for image in images]
        vectors = np.zeros((len(items), self.encoder.dim), dtype=np.float32)
        updated = list(items)
        fused: dict[int, np.ndarray] = {}
        uncaptioned = [n for n, item in enumerate(items) if self.describe and not item.caption]
        captioned = sorted(set(range(len(items))) - set(uncaptioned))
        if captioned:
            vectors[captioned] = self.encoder.encode_images([flat[n] for n in captioned])
        if uncaptioned:
            batch = describe_batch(
                self.encoder,
                [flat[n] for n in uncaptioned],
                [images[n] for n in uncaptioned],
                [str(items[n].metadata.get("folder", "")) for n in uncaptioned],
                [str(items[n].metadata.get(PICTURE_TEXT_KEY, "")) for n in uncaptioned],
            )
            vectors[uncaptioned] = batch.vectors
            for row, n in enumerate(uncaptioned):
                said = batch.descriptions[row].metadata()
                updated[n] = dataclasses.replace(items[n], metadata={**items[n].metadata, **said})
                if batch.fused is not None:
                    fused[n] = batch.fused[row]
        return EncodedPictures(vectors, updated, fused)

    def text_parts(self, items: Sequence[MediaItem]) -> list[tuple[str, ItemPart, np.ndarray]]:
        """An ``ocr`` part (the text's own vector) for each item with text read in it."""
        read = [(item.id, str(item.metadata[PICTURE_TEXT_KEY])) for item in items
                if item.metadata.get(PICTURE_TEXT_KEY)]  # fmt: skip
        if not read:
            return []
        vectors = self.encoder.encode_texts([text for _, text in read])
        return [
            (item_id, ItemPart("ocr", text), vector)
            for (item_id, text), vector in zip(read, vectors, strict=True)
        ]
