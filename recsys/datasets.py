"""Rating datasets: MovieLens-100k from the recbole package files, or any ratings/items CSV.

MovieLens is read where the package installed it and never copied (GroupLens terms).
"""

from __future__ import annotations

import csv
import importlib.util
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from recsys.errors import DatasetError


@dataclass(frozen=True)
class Rating:
    user: str
    item: str
    rating: float
    timestamp: float


@dataclass
class RatingsDataset:
    """Explicit ratings plus a text description per item (for content vectors) and, where the
    data has them, metadata tags per item (``genre:Drama``) and per user (``age:25-34``)."""

    name: str
    ratings: list[Rating]
    item_text: dict[str, str] = field(default_factory=dict)
    item_tags: dict[str, list[str]] = field(default_factory=dict)
    user_tags: dict[str, list[str]] = field(default_factory=dict)

    @property
    def items(self) -> list[str]:
        """Every item: those described, then any rated but undescribed, in first-seen order."""
        seen = dict.fromkeys(self.item_text)
        seen.update(dict.fromkeys(r.item for r in self.ratings))
        return list(seen)


def movielens_dir() -> Path:
    """The ml-100k folder inside the installed ``recbole`` package."""
    spec = importlib.util.find_spec("recbole")
    if spec is None or not spec.submodule_search_locations:
        raise DatasetError(
            "MovieLens-100k needs the recbole package: pip install --no-deps recbole==1.2.1"
        )
    folder = Path(spec.submodule_search_locations[0]) / "dataset_example" / "ml-100k"
    if not (folder / "ml-100k.inter").is_file():
        raise DatasetError(f"{folder} does not hold ml-100k.inter; reinstall recbole==1.2.1")
    return folder


def _read_atomic(path: Path) -> list[dict[str, str]]:
    """RecBole atomic files: tab-separated, header fields named ``name:type``."""
    with path.open(encoding="utf-8", errors="replace", newline="") as handle:
        reader = csv.reader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = [column.split(":")[0] for column in next(reader)]
        return [dict(zip(header, row, strict=False)) for row in reader if row]


def load_movielens_100k() -> RatingsDataset:
    """MovieLens-100k: 100,000 ratings (1-5) of 1,682 films by 943 users, with title/year/genres."""
    folder = movielens_dir()
    ratings = [
        Rating(r["user_id"], r["item_id"], float(r["rating"]), float(r["timestamp"]))
        for r in _read_atomic(folder / "ml-100k.inter")
    ]
    films = _read_atomic(folder / "ml-100k.item")
    item_text = {
        r["item_id"]: f"{r.get('movie_title', '')} ({r.get('release_year', '')}). "
        f"Genres: {', '.join((r.get('class') or '').split())}."
        for r in films
    }
    item_tags = {
        r["item_id"]: [f"genre:{g}" for g in (r.get("class") or "").split()]
        + [_year_tag(r.get("release_year", ""))]
        for r in films
    }
    user_tags = {
        r["user_id"]: [
            _age_tag(r.get("age", "")),
            f"gender:{r.get('gender', '?')}",
            f"occupation:{r.get('occupation', '?')}",
        ]
        for r in _read_atomic(folder / "ml-100k.user")
    }
    return RatingsDataset("ml-100k", ratings, item_text, item_tags, user_tags)


def _year_tag(year: str) -> str:
    """Release year as a decade tag (a single-year tag would be new for every new release, so
    nothing learned would reach the releases a live catalogue adds)."""
    try:
        value = int(float(year))
    except ValueError:
        return "year:unknown"
    return f"year:{value // 10 * 10}s"


def _age_tag(age: str) -> str:
    """MovieLens-1M's age bands."""
    try:
        value = int(age)
    except ValueError:
        return "age:unknown"
    bands = ((18, "under 18"), (25, "18-24"), (35, "25-34"), (45, "35-44"), (50, "45-49"))
    bands += ((56, "50-55"),)
    return "age:" + next((label for limit, label in bands if value < limit), "56+")


def tag_matrix(ids: list[str], tags: dict[str, list[str]]) -> tuple[np.ndarray, list[str]]:
    """Multi-hot rows (one per id, in order) over every tag in ``tags``, and the tag names."""
    names = sorted({t for values in tags.values() for t in values})
    column = {t: i for i, t in enumerate(names)}
    out = np.zeros((len(ids), len(names)), dtype=np.float32)
    for row, key in enumerate(ids):
        for tag in tags.get(key, ()):
            out[row, column[tag]] = 1.0
    return out, names


def load_ratings_csv(
    ratings_csv: str | Path, items_csv: str | Path | None = None
) -> RatingsDataset:
    """Ratings CSV with columns ``user,item,rating,timestamp``; optional items CSV with ``item``
    and any text columns (joined into the item's description)."""
    ratings_csv = Path(ratings_csv)
    ratings = []
    for number, row in _csv_rows(ratings_csv, required=("user", "item", "rating", "timestamp")):
        try:
            ratings.append(
                Rating(
                    row["user"].strip(),
                    row["item"].strip(),
                    float(row["rating"]),
                    float(row["timestamp"]),
                )
            )
        except ValueError:
            raise DatasetError(
                f"{ratings_csv}:{number}: rating and timestamp must be numbers"
            ) from None
    if not ratings:
        raise DatasetError(f"{ratings_csv}: no ratings")
    item_text: dict[str, str] = {}
    if items_csv is not None:
        for _, row in _csv_rows(Path(items_csv), required=("item",)):
            text = ". ".join(v.strip() for k, v in row.items() if k != "item" and v and v.strip())
            item_text[row["item"].strip()] = text
    return RatingsDataset(ratings_csv.stem, ratings, item_text)


def _csv_rows(path: Path, required: tuple[str, ...]):
    if not path.is_file():
        raise DatasetError(f"{path}: file not found")
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in required if c not in (reader.fieldnames or [])]
        if missing:
            raise DatasetError(f"{path}: missing column(s) {missing}; found {reader.fieldnames}")
        for number, row in enumerate(reader, 2):
            if None in row or None in row.values():
                raise DatasetError(
                    f"{path}:{number}: {len(reader.fieldnames or [])} columns expected; "
                    "quote fields that contain commas"
                )
            yield number, row
