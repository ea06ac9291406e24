"""The Tux Paint stamps (Debian ``tuxpaint-stamps-default``) as a seeded train/dev/test PairSet.

Each stamp image has a sidecar ``NAME.txt`` whose first line is an English description.
Split protocol: distinct captions are shuffled with ``seed`` and assigned whole (so a caption
shared by several stamps never straddles two splits) to test until it holds ``test_images``
images, then to dev until ``dev_images``, the rest to train.
"""

from __future__ import annotations

import os
import random
from collections import defaultdict
from pathlib import Path
from typing import Literal

from retrieval.datasets.pairs import PairSet
from retrieval.errors import DatasetError
from retrieval.images import IMAGE_SUFFIXES
from retrieval.sidecar import sidecar_caption

Split = Literal["train", "dev", "test", "all"]
Grouping = Literal["caption", "folder"]
DEFAULT_STAMPS_DIR = Path("/usr/share/tuxpaint/stamps")
SPLIT_SEED = 20261127
TEST_IMAGES = 300
DEV_IMAGES = 150


def stamps_dir() -> Path:
    """Where the stamps are: ``$CROSSMEDIA_TUXPAINT_DIR`` or Debian's install location."""
    root = Path(os.environ.get("CROSSMEDIA_TUXPAINT_DIR", DEFAULT_STAMPS_DIR))
    if not root.is_dir():
        raise DatasetError(
            f"Tux Paint stamps not found at {root}: run "
            "'apt-get install -y tuxpaint-stamps-default' "
            "or set CROSSMEDIA_TUXPAINT_DIR"
        )
    return root


def captioned_stamps(root: Path | None = None) -> list[tuple[Path, str]]:
    """Every stamp image with an English sidecar caption, sorted by path."""
    root = root or stamps_dir()
    found = []
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file():
            caption = sidecar_caption(path)
            if caption:
                found.append((path, caption))
    if not found:
        raise DatasetError(f"{root}: no captioned stamps found")
    return found


def load_tuxpaint(
    split: Split = "test",
    root: Path | None = None,
    seed: int = SPLIT_SEED,
    test_images: int = TEST_IMAGES,
    dev_images: int = DEV_IMAGES,
    grouping: Grouping = "caption",
) -> PairSet:
    """Load one split of the Tux Paint stamps (see the module docstring for the protocol).

    ``grouping="folder"`` assigns whole stamp folders (all the birds, all the coins) to one
    split, so the test split holds kinds of things never seen in training.
    """
    root = root or stamps_dir()
    pairs = captioned_stamps(root)
    if split == "all":
        return PairSet.from_pairs(pairs, name="tuxpaint-all")
    groups: dict[str, list[tuple[Path, str]]] = defaultdict(list)
    for path, caption in pairs:
        key = str(path.parent.relative_to(root)) if grouping == "folder" else caption.strip()
        groups[key].append((path, caption))
    if grouping == "folder":  # a caption shared across folders must still stay on one side
        groups = _merge_groups_sharing_captions(groups)
    keys = sorted(groups)
    random.Random(seed).shuffle(keys)
    assignment: dict[str, list[str]] = {"test": [], "dev": [], "train": []}
    counts = {"test": 0, "dev": 0}
    for key in keys:
        if counts["test"] < test_images:
            target = "test"
        elif counts["dev"] < dev_images:
            target = "dev"
        else:
            target = "train"
        assignment[target].append(key)
        if target in counts:
            counts[target] += len(groups[key])
    chosen = [pair for key in assignment[split] for pair in groups[key]]
    suffix = "-grouped" if grouping == "folder" else ""
    return PairSet.from_pairs(sorted(chosen), name=f"tuxpaint-{split}{suffix}")


def _merge_groups_sharing_captions(
    groups: dict[str, list[tuple[Path, str]]],
) -> dict[str, list[tuple[Path, str]]]:
    """Union groups that share a caption text (union-find over group keys)."""
    parent = {key: key for key in groups}

    def find(key: str) -> str:
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    owner: dict[str, str] = {}
    for key, members in groups.items():
        for _, caption in members:
            caption = caption.strip()
            if caption in owner:
                parent[find(key)] = find(owner[caption])
            else:
                owner[caption] = key
    merged: dict[str, list[tuple[Path, str]]] = defaultdict(list)
    for key, members in groups.items():
        merged[find(key)].extend(members)
    return dict(merged)
