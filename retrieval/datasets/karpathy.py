"""Flickr8k / Flickr30k / MS-COCO in the Karpathy-split JSON layout (``dataset_*.json``)."""

from __future__ import annotations

import json
from pathlib import Path

from retrieval.datasets.pairs import PairSet
from retrieval.errors import DatasetError


def load_karpathy(json_path: str | Path, image_root: str | Path, split: str = "test") -> PairSet:
    """Load one split; each image's ``filepath`` (COCO) and ``filename`` join ``image_root``."""
    json_path, image_root = Path(json_path), Path(image_root)
    try:
        records = json.loads(json_path.read_text(encoding="utf-8"))["images"]
    except FileNotFoundError:
        raise DatasetError(f"{json_path}: Karpathy split file not found") from None
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise DatasetError(f"{json_path}: not a Karpathy split file ({exc})") from None
    pairs = []
    for record in records:
        if record.get("split") != split and not (
            split == "train" and record.get("split") == "restval"
        ):
            continue
        image = image_root / record.get("filepath", "") / record["filename"]
        pairs.extend((image, sentence["raw"]) for sentence in record.get("sentences", []))
    if not pairs:
        raise DatasetError(f"{json_path}: no images in split {split!r}")
    return PairSet.from_pairs(pairs, name=f"{json_path.stem}-{split}")
