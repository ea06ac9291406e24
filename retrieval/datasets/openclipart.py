"""Open Clip Art (Debian ``openclipart-svg``) as image-caption pairs for training.

Each SVG's ``<dc:title>`` is its caption, cleaned: collection names that label hundreds of
unrelated drawings ("gramastar", "Part of the Flat Icon Collection ...", "Etiquette Icons")
are dropped by frequency and pattern, author credits are cut, and empty titles are skipped.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Collection
from pathlib import Path

from retrieval.datasets.pairs import PairSet
from retrieval.errors import DatasetError

DEFAULT_DIR = Path("/usr/share/openclipart/svg")
MAX_TITLE_REPEATS = 10
_TITLE = re.compile(rb"<dc:title>([^<]*)</dc:title>")
_NOISE = re.compile(
    r"collection|theme|icons?\b|iconset|clipart by|open clip art|untitled|svg", re.I
)
_CREDIT = re.compile(r"\s+(by|from)\s+\S.*$", re.I)


def svg_title(path: Path) -> str:
    """The first Dublin Core title of an SVG other than the library's own name."""
    head = path.read_bytes()[:200_000]
    for raw in _TITLE.findall(head):
        title = raw.decode("utf-8", errors="replace").strip()
        if title and title.lower() != "open clip art library":
            return title
    return ""


def clean_title(title: str) -> str:
    """A caption from a title, or "" when the title names a collection rather than a drawing."""
    title = _CREDIT.sub("", " ".join(title.replace("_", " ").split()))
    if not title or _NOISE.search(title) or not re.search(r"[A-Za-z]{3}", title):
        return ""
    return title


def load_openclipart(
    root: Path | None = None,
    max_repeats: int = MAX_TITLE_REPEATS,
    only: Collection[str] = (),
    exclude: Collection[str] = (),
) -> PairSet:
    """Every SVG with a usable, not over-repeated title; ``only`` / ``exclude`` pick top-level
    category folders ("food", "animals", ...), e.g. to hold a domain out for few-shot tests."""
    root = Path(root or DEFAULT_DIR)
    if not root.is_dir():
        raise DatasetError(f"Open Clip Art not found at {root}: apt-get install -y openclipart-svg")
    unknown = (set(only) | set(exclude)) - {p.name for p in root.iterdir() if p.is_dir()}
    if unknown:
        raise DatasetError(f"no Open Clip Art category {sorted(unknown)} under {root}")
    titled = [
        (path, clean_title(svg_title(path)))
        for path in sorted(root.rglob("*.svg"))
        if _category(root, path) not in exclude and (not only or _category(root, path) in only)
    ]
    counts = Counter(title.lower() for _, title in titled if title)
    pairs = [
        (path, title) for path, title in titled if title and counts[title.lower()] <= max_repeats
    ]
    if not pairs:
        raise DatasetError(f"{root}: no SVG with a usable title")
    return PairSet.from_pairs(pairs, name="openclipart")


def _category(root: Path, path: Path) -> str:
    return path.relative_to(root).parts[0]
