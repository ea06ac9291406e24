"""Generated descriptions for pictures without a caption, from what the models see.

A description is phrased from the image tower's confident ImageNet concepts, the text found in
the picture (OCR, given as a string), the folder the file is in, and the EXIF date and GPS
place where present (coordinates only: there is no geocoder offline). It is stored as
``metadata["description"]`` with ``description_by="generated"`` and is never the item's human
caption; a person's correction (retrieval.corrections) replaces it with a caption.

    >>> facts = PictureFacts((Concept("tabby cat", 0.6),), folder="holiday/beach 2019")
    >>> phrase(facts)
    'Looks like a tabby cat, in the folder “beach 2019”.'
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
from PIL import ExifTags, Image, UnidentifiedImageError

from retrieval.encoders.base import Encoder
from retrieval.items import MetadataValue

# Probability floor of a named concept, calibrated on the captioned Tux Paint stamps (TRAIN+DEV
# splits, grouped by folder; bench/describe.py, "calibration" in bench/results/describe.json):
# the lowest floor at which at least half the concepts named match the human caption (a shared
# word, WordNet synonyms included; a lower bound, "goldfinch" does not match "a bird"): 51% at
# 0.4 against 7% below it. About a fifth of the stamps get a concept; the rest are described by
# what else is known (folder, text, date).
CONCEPT_FLOOR = 0.4
MAX_CONCEPTS = 2
TOP_LABELS = 3
MAX_TEXT_CHARS = 80  # OCR text quoted in a description
GENERATED = "generated"
PERSON = "person"
# Folder names that say nothing about the pictures in them (camera and phone dumps).
_CAMERA_FOLDER = re.compile(
    r"^(\.|dcim|camera|camera roll|pictures|photos|images|img|screenshots|download(s)?|"
    r"\d{3}[a-z_]+|\d{3}_?\d{4}|100andro|[a-z]*\d{4}[-_]\d{2}([-_]\d{2})?)$",
    re.IGNORECASE,
)
_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")  # fmt: skip

Labels = list[tuple[str, float]]  # one picture's top ImageNet classes with their probabilities


@dataclass(frozen=True)
class Concept:
    """A thing the image tower sees, with its softmax probability."""

    name: str
    probability: float


@dataclass(frozen=True)
class PictureFacts:
    """What is known about an uncaptioned picture, before it is phrased."""

    concepts: tuple[Concept, ...] = ()
    text: str = ""  # OCR text
    folder: str = ""  # folder path relative to the library root
    taken: datetime | None = None
    place: tuple[float, float] | None = None  # (latitude, longitude) in degrees


@dataclass(frozen=True)
class Description:
    """A generated description and the facts it was phrased from."""

    text: str
    facts: PictureFacts = field(default_factory=PictureFacts)

    @property
    def search_text(self) -> str:
        """The description's words without the phrasing (concepts, folder, text in the
        picture), for a text vector that is not dominated by "Looks like ... in the folder"."""
        facts = self.facts
        words = [c.name for c in facts.concepts]
        words += [folder_name(facts.folder), _quoted_text(facts.text)]
        return ", ".join(w for w in words if w)

    def metadata(self) -> dict[str, MetadataValue]:
        """Item metadata for the index: the description, who wrote it, its concepts, and the
        EXIF date (ISO) and place where known. Empty when there was nothing to say."""
        if not self.text:
            return {}
        facts = self.facts
        fields: dict[str, MetadataValue] = {
            "description": self.text,
            "description_by": GENERATED,
            "description_concepts": "; ".join(c.name for c in facts.concepts),
        }
        if facts.taken is not None:
            fields["taken"] = facts.taken.isoformat()
        if facts.place is not None:
            fields["latitude"], fields["longitude"] = facts.place
        return fields


@dataclass
class DescribedBatch:
    """One batch of pictures through the image tower once: their content vectors (row i for
    picture i), their descriptions, and their fused vectors with the descriptions (None for an
    encoder without a fusion): what ``MediaIndex.add`` stores for them."""

    vectors: np.ndarray
    descriptions: list[Description]
    fused: np.ndarray | None = None


def generated_description(metadata: dict[str, MetadataValue]) -> str:
    """An item's generated description ("" when it has none or a person has written one)."""
    if metadata.get("description_by") != GENERATED:
        return ""
    return str(metadata.get("description") or "")


def encode_and_label(
    encoder: Encoder, images: Sequence[Image.Image], top: int = TOP_LABELS
) -> tuple[np.ndarray, list[Labels]]:
    """Image vectors and, from the same tower pass, each picture's top ImageNet labels with
    their probabilities; no labels (empty lists) for an encoder without an ImageNet tower."""
    describe = getattr(encoder, "encode_and_describe", None)
    if describe is None:
        return encoder.encode_images(images), [[] for _ in images]
    return describe(images, top)


def confident_concepts(
    labels: Labels, floor: float = CONCEPT_FLOOR, most: int = MAX_CONCEPTS
) -> tuple[Concept, ...]:
    """The best ``most`` labels whose probability reaches ``floor``, best first."""
    ranked = sorted(labels, key=lambda label: -label[1])
    return tuple(Concept(name, float(p)) for name, p in ranked[:most] if p >= floor)


def folder_name(folder: str) -> str:
    """The folder's own name as people named it (``holiday/beach 2019`` -> ``beach 2019``);
    empty for the library root and for camera folders (DCIM, 100APPLE, 2019-07, ...)."""
    name = Path(folder.replace("\\", "/")).name.strip() if folder else ""
    name = " ".join(name.split())
    return "" if not name or _CAMERA_FOLDER.match(name) else name


def read_exif(
    source: bytes | str | Path | Image.Image,
) -> tuple[datetime | None, tuple[float, float] | None]:
    """The date a picture was taken and its GPS place from its EXIF, each None where absent
    or unreadable: from a picture already decoded, or from a file's header (no pixels are
    decoded)."""
    try:
        if isinstance(source, Image.Image):
            exif = source.getexif()
        else:
            with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as image:
                exif = image.getexif()
        details = exif.get_ifd(ExifTags.IFD.Exif)
        gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError, Image.DecompressionBombError):
        return None, None
    stamp = details.get(ExifTags.Base.DateTimeOriginal) or exif.get(ExifTags.Base.DateTime)
    return _exif_datetime(stamp), _gps_degrees(gps)


def _exif_datetime(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.strptime(value.strip().rstrip("\x00")[:19], "%Y:%m:%d %H:%M:%S")
    except ValueError:
        return None


def _gps_degrees(gps: dict) -> tuple[float, float] | None:
    try:
        lat = _dms(gps[ExifTags.GPS.GPSLatitude], gps.get(ExifTags.GPS.GPSLatitudeRef, "N"))
        lon = _dms(gps[ExifTags.GPS.GPSLongitude], gps.get(ExifTags.GPS.GPSLongitudeRef, "E"))
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180) or (lat, lon) == (0.0, 0.0):
        return None
    return round(lat, 5), round(lon, 5)


def _dms(value: Sequence, reference: object) -> float:
    degrees, minutes, seconds = (float(part) for part in value)
    sign = -1.0 if str(reference).strip().upper() in ("S", "W") else 1.0
    return sign * (degrees + minutes / 60 + seconds / 3600)


def _article(name: str) -> str:
    return f"an {name}" if name[:1].lower() in "aeiou" else f"a {name}"


def _date(taken: datetime) -> str:
    return f"{taken.day} {_MONTHS[taken.month - 1]} {taken.year}"


def _place(place: tuple[float, float]) -> str:
    lat, lon = place
    return f"{abs(lat):.4f}° {'N' if lat >= 0 else 'S'}, {abs(lon):.4f}° {'E' if lon >= 0 else 'W'}"


def _quoted_text(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_TEXT_CHARS else text[: MAX_TEXT_CHARS - 1].rstrip() + "…"


def phrase(facts: PictureFacts) -> str:
    """One short sentence from the facts ("" when there is nothing to say)."""
    parts = []
    if facts.concepts:
        parts.append("Looks like " + " or ".join(_article(c.name) for c in facts.concepts))
    folder = folder_name(facts.folder)
    if folder:
        parts.append(
            f"in the folder “{folder}”" if parts else f"A picture in the folder “{folder}”"
        )
    when = " ".join(
        filter(
            None,
            [
                _date(facts.taken) if facts.taken is not None else "",
                f"at {_place(facts.place)}" if facts.place is not None else "",
            ],
        )
    )
    if when:
        parts.append(f"taken {when}" if parts else f"Taken {when}")
    sentence = ", ".join(parts)
    text = _quoted_text(facts.text)
    if text:
        said = f"text in the picture: “{text}”"
        sentence = f"{sentence}; {said}" if sentence else said[0].upper() + said[1:]
    return f"{sentence}." if sentence else ""


def describe(
    labels: Labels,
    *,
    text: str = "",
    folder: str = "",
    exif_source: bytes | str | Path | Image.Image | None = None,
    floor: float = CONCEPT_FLOOR,
) -> Description:
    """A picture's description from its tower labels, OCR text, folder and EXIF (the file's
    bytes or path, read for date and place)."""
    taken, place = read_exif(exif_source) if exif_source is not None else (None, None)
    facts = PictureFacts(confident_concepts(labels, floor), text.strip(), folder, taken, place)
    return Description(phrase(facts), facts)


def fused_with_descriptions(
    encoder: Encoder, content: np.ndarray, descriptions: Sequence[Description]
) -> np.ndarray | None:
    """Each picture's content vector fused with the text vector of its description's words
    (``search_text``; zeros where nothing was said, as for any uncaptioned item), by the
    encoder's trained fusion; None for an encoder without one. This is how a description
    should reach search: on the Tux Paint TEST split it beats the image vector alone, while the
    description's text vector as a vector of its own loses at R@1 (docs/describe.md)."""
    fuse = getattr(encoder, "fuse", None)
    if fuse is None:
        return None
    texts = np.zeros_like(content)
    said = [n for n, d in enumerate(descriptions) if d.search_text]
    if said:
        texts[said] = encoder.encode_texts([descriptions[n].search_text for n in said])
    return fuse(content, texts)


def describe_batch(
    encoder: Encoder,
    images: Sequence[Image.Image],
    sources: Sequence[bytes | str | Path | Image.Image | None],
    folders: Sequence[str],
    ocr_texts: Sequence[str] | None = None,
    floor: float = CONCEPT_FLOOR,
) -> DescribedBatch:
    """Content vectors, descriptions and fused vectors of a batch of uncaptioned pictures, with
    one pass of the image tower. ``sources`` hold each one's EXIF (its file's bytes or path,
    or the decoded picture; None: no EXIF), ``folders`` their folders relative to the library
    root, ``ocr_texts`` the text read in each (None: no OCR)."""
    texts = list(ocr_texts) if ocr_texts is not None else [""] * len(images)
    if not len(images) == len(sources) == len(folders) == len(texts):
        raise ValueError("one source, folder and OCR text per image is required")
    vectors, labels = encode_and_label(encoder, images)
    descriptions = [
        describe(row, text=text, folder=folder, exif_source=source, floor=floor)
        for row, text, folder, source in zip(labels, texts, folders, sources, strict=True)
    ]
    return DescribedBatch(
        vectors, descriptions, fused_with_descriptions(encoder, vectors, descriptions)
    )
