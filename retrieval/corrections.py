"""A person's correction of a picture's description: it becomes the item's human caption, and a
training pair for few-shot adaptation of the shipped heads.

``correct_caption`` re-encodes the caption vector (and the fused vector, where the encoder has a
fusion; the content vector is kept), marks ``description_by="person"``, and appends
``{"image": uri, "caption": text}`` to ``corrections.jsonl`` in the data directory, under a file
lock so that two processes correcting at once lose nothing. The file is what
``crossmedia train --pairs FILE --init default --out DIR`` reads.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from filelock import FileLock

from retrieval.describe import PERSON, generated_description
from retrieval.encoders.base import Encoder
from retrieval.errors import CrossmediaError
from retrieval.index import MediaIndex
from retrieval.items import MediaItem
from retrieval.sidecar import MAX_CAPTION_CHARS

PAIRS_FILE = "corrections.jsonl"
HEADS_FOLDER = "heads-corrected"


class CorrectionError(CrossmediaError):
    """A correction cannot be applied."""


class UnknownItemError(CorrectionError):
    """No item with that id is in the library."""


class NotAPictureError(CorrectionError):
    """Only pictures have descriptions to correct."""


class CorrectionTextError(CorrectionError):
    """The corrected text is empty or too long."""


@dataclass(frozen=True)
class Correction:
    """What a correction did: the item as now stored and the pairs file it was added to."""

    item: MediaItem
    pairs_file: Path

    @property
    def train_command(self) -> str:
        """The command that adapts the shipped heads to every correction made so far."""
        out = self.pairs_file.parent / HEADS_FOLDER
        return f"crossmedia train --pairs {self.pairs_file} --init default --out {out}"


def pairs_file(data_dir: str | Path) -> Path:
    """Where a library's corrections are collected as training pairs."""
    return Path(data_dir) / PAIRS_FILE


def clean_caption(text: str) -> str:
    """The corrected text with whitespace collapsed; refuses an empty or oversized one."""
    cleaned = " ".join(str(text).split())
    if not cleaned:
        raise CorrectionTextError("the correction is empty: type what the picture shows")
    if len(cleaned) > MAX_CAPTION_CHARS:
        raise CorrectionTextError(
            f"the correction is {len(cleaned):,} characters, over {MAX_CAPTION_CHARS:,}: "
            "describe the picture in a sentence or two"
        )
    return cleaned


def correct_caption(
    index: MediaIndex, encoder: Encoder, item_id: str, text: str, data_dir: str | Path
) -> Correction:
    """Make ``text`` the human caption of picture ``item_id`` (see the module docstring)."""
    caption = clean_caption(text)
    item = index.get(item_id)
    if item is None:
        raise UnknownItemError(
            f"no item {item_id!r} in the library at {index.location}: "
            "'crossmedia search --json TEXT' lists item ids"
        )
    if item.modality != "image":
        raise NotAPictureError(
            f"item {item_id} is {'an' if item.modality == 'audio' else 'a'} {item.modality}, "
            "not a picture: only pictures have descriptions to correct"
        )
    content = index.vector_of(item_id, "content")
    if content is None:  # removed by another process since it was read
        raise UnknownItemError(f"item {item_id!r} was removed from the library meanwhile")
    caption_vector = encoder.encode_texts([caption])[0]
    fuse = getattr(encoder, "fuse", None)
    fused = fuse(content[None, :], caption_vector[None, :]) if fuse is not None else None
    metadata = dict(item.metadata)
    if generated_description(metadata):
        metadata["generated_description"] = metadata["description"]
    metadata.update(description=caption, description_by=PERSON)
    corrected = dataclasses.replace(item, caption=caption, metadata=metadata)
    index.add([corrected], np.asarray(content[None, :]), {item_id: caption_vector}, fused)
    target = pairs_file(data_dir)
    append_pair(target, corrected.uri, caption)
    return Correction(corrected, target)


def append_pair(path: Path, image: str, caption: str) -> None:
    """Append one ``{"image", "caption"}`` line, whole, under a lock shared by every process."""
    path.parent.mkdir(parents=True, exist_ok=True)
    line = json.dumps({"image": image, "caption": caption}, ensure_ascii=False) + "\n"
    try:
        with FileLock(str(path) + ".lock"), path.open("a+", encoding="utf-8") as handle:
            if handle.tell() and not _ends_with_newline(path):  # a torn last line stays alone
                line = "\n" + line
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        raise CorrectionError(
            f"the caption was saved in the library, but {path} could not be written ({exc}): "
            "free disk space or fix its permissions to keep corrections as training pairs"
        ) from exc


def _ends_with_newline(path: Path) -> bool:
    with path.open("rb") as handle:
        handle.seek(-1, os.SEEK_END)
        return handle.read(1) == b"\n"
