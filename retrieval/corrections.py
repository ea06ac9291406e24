"""A person's correction of a picture's description: it becomes the item's human caption, and a
training pair for few-shot adaptation of the shipped heads.

``correct_caption`` re-encodes the caption vector (and the fused vector, where the encoder has a
fusion; the content vector is kept) and marks ``description_by="person"``. The library is the
one record of corrections, so every replica over one Chroma server and every process over one
data directory sees them all: ``export_pairs`` writes each corrected picture's current caption
as ``{"image": uri, "caption": text}`` lines, which ``crossmedia train --pairs FILE --init
default --out DIR`` reads (``crossmedia corrections --out FILE`` does the export).
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

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
    """What a correction did: the item as now stored, in the library of ``data_dir``."""

    item: MediaItem
    data_dir: Path

    @property
    def train_command(self) -> str:
        """The commands that adapt the shipped heads to every correction made so far."""
        pairs, out = pairs_file(self.data_dir), Path(self.data_dir) / HEADS_FOLDER
        return (
            f"crossmedia corrections --out {pairs} && "
            f"crossmedia train --pairs {pairs} --init default --out {out}"
        )


def pairs_file(data_dir: str | Path) -> Path:
    """Where a library's corrections are exported as training pairs by default."""
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
    return Correction(corrected, Path(data_dir))


def corrected_pictures(index: MediaIndex) -> list[MediaItem]:
    """Every picture whose caption a person wrote, as the library holds it now, by uri."""
    found = index.items_where({"description_by": PERSON})
    return sorted((item for item in found if item.modality == "image"), key=lambda i: i.uri)


def export_pairs(index: MediaIndex, path: str | Path) -> int:
    """Write every correction in the library as ``{"image", "caption"}`` lines to ``path``
    (replaced whole, never left half-written); returns how many."""
    pictures = corrected_pictures(index)
    target = Path(path)
    lines = "".join(
        json.dumps({"image": item.uri, "caption": item.caption}, ensure_ascii=False) + "\n"
        for item in pictures
    )
    temporary: Path | None = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(dir=target.parent, prefix=target.name + ".")
        temporary = Path(name)
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(lines)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, target)
    except OSError as exc:
        if temporary is not None:
            temporary.unlink(missing_ok=True)
        raise CorrectionError(
            f"could not write the corrections to {target} ({exc}): free disk space or choose "
            "another --out"
        ) from exc
    return len(pictures)
