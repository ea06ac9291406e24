"""PairSet: images and captions with many-to-many relevance, the unit every evaluation runs on."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from retrieval.errors import DatasetError
from retrieval.metrics import relevance_matrix


@dataclass
class PairSet:
    """Distinct images and distinct caption texts; ``relevant[c]`` lists the images of caption c.

    Identical caption texts are merged, so a caption shared by two images counts as correct
    for either (Tux Paint has such duplicates; Flickr/COCO rarely do).
    """

    images: list[Path] = field(default_factory=list)
    captions: list[str] = field(default_factory=list)
    relevant: list[list[int]] = field(default_factory=list)
    name: str = ""

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[Path, str]], name: str = "") -> PairSet:
        """Build from (image path, caption) pairs; an image may appear with several captions."""
        result = cls(name=name)
        image_index: dict[Path, int] = {}
        caption_index: dict[str, int] = {}
        for image, caption in pairs:
            caption = caption.strip()
            if not caption:
                continue
            if image not in image_index:
                image_index[image] = len(result.images)
                result.images.append(image)
            if caption not in caption_index:
                caption_index[caption] = len(result.captions)
                result.captions.append(caption)
                result.relevant.append([])
            targets = result.relevant[caption_index[caption]]
            if image_index[image] not in targets:
                targets.append(image_index[image])
        return result

    def relevance_matrix(self) -> np.ndarray:
        """Boolean (n_captions, n_images) matrix of correct matches."""
        return relevance_matrix(self.relevant, len(self.images))

    def relevant_among(self, kept: Sequence[int]) -> list[list[int]]:
        """Per caption, its images as positions in ``kept`` (the images that could be read)."""
        position = {image: n for n, image in enumerate(kept)}
        return [[position[i] for i in rel if i in position] for rel in self.relevant]

    def pairs(self) -> list[tuple[Path, str]]:
        """Every (image, caption) pair, one per relevant link."""
        return [
            (self.images[i], caption)
            for caption, rel in zip(self.captions, self.relevant, strict=True)
            for i in rel
        ]

    def __len__(self) -> int:
        return len(self.images)


def load_pairs_jsonl(path: str | Path) -> PairSet:
    """Read lines ``{"image": path, "caption": text}``; relative paths resolve against the file.

    ``caption`` may also be a list of captions. Malformed lines raise DatasetError naming the line.
    """
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: pairs file not found")
    pairs: list[tuple[Path, str]] = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                image, captions = record["image"], record["caption"]
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise DatasetError(
                    f'{path}:{number}: expected {{"image": ..., "caption": ...}} ({exc})'
                ) from None
            image_path = Path(image)
            if not image_path.is_absolute():
                image_path = path.parent / image_path
            for caption in [captions] if isinstance(captions, str) else captions:
                pairs.append((image_path, str(caption)))
    if not pairs:
        raise DatasetError(f"{path}: no pairs found")
    return PairSet.from_pairs(pairs, name=path.stem)
