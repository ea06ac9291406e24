"""When does a search score mean "the library has it"? Calibrated per library, encoder and
query kind from the library's own scores, never a constant tuned on one encoder.

For each query kind the calibration measures two score distributions in the library as it is:
- *absent*: the best score of queries for things the library does not hold: everyday things no
  caption mentions (text), kinds of things no caption names (broad questions), and for
  pictures, each picture's best match among items with another subject (its nearest *other*
  thing);
- *present*: the best score of queries for things it holds: each caption's subject in the words
  people use ("a cat" for "A black cat."), and each picture's best match among items with the
  same subject.

Every cut is a level (quantile) of the kind's absent distribution: ``confident`` where only 5%
of absent things score as high (for pictures: where twins and nearest other things part best),
``plausible`` where present and absent parts best (text), low levels for broad questions and
pictures, which score low even when the library is full of them. The levels are the only fixed
numbers, and as levels of the library's own distribution they mean the same for every encoder.
The result is cached beside the index and redone when the encoder or the library's
size changes.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from assistant.router import one_of
from retrieval.index import VECTOR_KINDS

log = logging.getLogger(__name__)

Grade = Literal["confident", "closest", "none"]
QueryKind = Literal["text", "category", "image", "composed"]
CONFIDENT_QUANTILE = 0.95  # only 5% of absent things score as high as a confident answer
TEXT_PLAUSIBLE = 0.25  # where too few captions tell present from absent (a photo folder):
# text finds pictures only by what they show, so the nearest is offered as the closest
CATEGORY_PLAUSIBLE = 0.25  # broad questions score low even when the library is full of them
PICTURE_PLAUSIBLE = 0.05  # a picture farther than 95% of the library's nearest other things
SAMPLE = 300
RESIZE_TOLERANCE = 0.1  # recalibrate when the library grew or shrank by more than this
FORMAT = 2  # bumped whenever the measurement changes: older files are measured anew

# Everyday things and kinds of things; those the library's captions mention are left out.
ABSENT_THINGS = """laptop computer; submarine; skyscraper; toaster; vacuum cleaner; smartphone;
wind turbine; chess board; microscope; parachute; lighthouse; stethoscope; typewriter;
wristwatch; bulldozer; jellyfish; kangaroo; flamingo; cactus; volcano; waterfall; traffic light;
fire hydrant; sewing machine; ceiling fan; refrigerator; hot air balloon; skateboard; trampoline;
hammock; chandelier; cash register; printer; passport; credit card; syringe; thermometer;
wheelchair; helicopter; satellite dish; suitcase; tennis racket; bowling ball; croissant;
pretzel; burrito; lobster; octopus; peacock; hedgehog; scorpion; windmill; pagoda; canoe;
forklift; lawn mower; dishwasher; microwave oven; blender; hair dryer; kettle; photocopier;
projector; joystick; headset; drone; tripod; telescope; compass; barometer; sundial; hourglass;
metronome; harmonica; bagpipe; accordion; xylophone; tambourine; flute; cello; harp; gondola;
kayak; yacht; tram; monorail; ambulance; fire engine; garbage truck; cement mixer; excavator;
scooter; unicycle; sled; snowmobile; zeppelin; lantern; birdcage; aquarium; greenhouse; barn;
pyramid; igloo; yurt; treehouse; fountain; statue; dumbbell; punching bag; yoga mat; surfboard;
life jacket; fishing rod; tent; sleeping bag; campfire; barbecue grill; picnic basket; thermos;
teapot; wine glass; corkscrew; rolling pin; whisk; colander; cheese grater; frying pan"""
ABSENT_KINDS = """furniture; jewellery; computers; robots; kitchen appliances; office supplies;
power tools; board games; perfumes; cosmetics; smartphones; watches; bridges; skyscrapers;
castles; statues; paintings; sculptures; cheeses; cocktails; pastries; spices; minerals;
gemstones; fossils; volcanoes; glaciers; deserts; medals; trophies; banknotes; keys; locks"""
_ARTICLE = re.compile(r"^(a|an|the|some)\s+", re.I)


def without_article(phrase: str) -> str:
    """A phrase without its leading article ("a food" -> "food")."""
    return _ARTICLE.sub("", phrase.strip())


@dataclass(frozen=True)
class KindCuts:
    """Scores at and above ``confident`` are answered as found; from ``plausible`` as the
    closest thing the library has; below it, as not found."""

    confident: float
    plausible: float

    def grade(self, score: float) -> Grade:
        if score >= self.confident:
            return "confident"
        return "closest" if score >= self.plausible else "none"


@dataclass(frozen=True)
class Calibration:
    """Cuts per query kind for one library and encoder, and what they were measured on."""

    encoder: str
    items: int
    cuts: dict[str, KindCuts]
    measured_on: dict[str, dict[str, int]]

    def cuts_for(self, kind: str) -> KindCuts:
        """The cuts of a query kind (voice and unknown kinds are graded as text)."""
        return self.cuts.get(kind) or self.cuts["text"]

    def grade(self, kind: str, score: float) -> Grade:
        """How sure an answer may be about a best score ``score`` for a query of ``kind``."""
        return self.cuts_for(kind).grade(score)

    def fits(self, encoder: str, items: int) -> bool:
        """Whether it was measured with this encoder on a library of about this size."""
        return encoder == self.encoder and abs(items - self.items) <= max(
            5, RESIZE_TOLERANCE * self.items
        )

    def to_json(self) -> str:
        return json.dumps({"format": FORMAT, **asdict(self)}, indent=1)

    @classmethod
    def from_json(cls, text: str) -> Calibration:
        data = json.loads(text)
        if data.get("format") != FORMAT:
            raise ValueError("another calibration format")
        cuts = {kind: KindCuts(**values) for kind, values in data["cuts"].items()}
        return cls(data["encoder"], int(data["items"]), cuts, data["measured_on"])


def words_of(text: str) -> set[str]:
    """Lower-case words, with a plural's singular: what "is it mentioned?" checks against."""
    words = set(re.findall(r"[a-z]+", text.lower()))
    return words | {w[:-1] for w in words if len(w) > 3 and w.endswith("s") and w[-2] != "s"}


def subject_of(caption: str) -> str:
    """The thing a caption is about, as people ask for it: "A black cat." -> "a cat",
    "Saturn—the second largest planet ..." -> "saturn"; "" when there is none."""
    first = re.split(r"[.,;:!?()\u2014\u2013]| - ", caption.strip(), maxsplit=1)[0]
    first = " ".join(first.split())
    if not first:
        return ""
    had_article = bool(_ARTICLE.match(first))
    head = _ARTICLE.sub("", first).split()[-1].lower() if _ARTICLE.sub("", first) else ""
    if not head.isalpha():
        return ""
    return one_of(head) if had_article else head


class _Scorer:
    """Best-match scores against the whole library in memory, like MediaIndex.query."""

    def __init__(self, library) -> None:
        self.tables: list[tuple[list[str], np.ndarray]] = []
        for kind in VECTOR_KINDS:
            try:
                ids, vectors = library.index.vectors(kind)
            except Exception:  # a kind this encoder does not store
                continue
            if len(ids):
                # a part's id is "<item>:<n>": its scores count for (and are excluded with) the item
                items = [i.rsplit(":", 1)[0] for i in ids] if kind == "part" else ids
                self.tables.append((items, vectors))
        self.ids = self.tables[0][0] if self.tables else []

    def best(self, queries: np.ndarray, excluded: list[set[str]] | None = None) -> np.ndarray:
        """Each query's best score over every stored vector (leaving out its ``excluded``)."""
        best = np.full(len(queries), -1.0, dtype=np.float32)
        for ids, vectors in self.tables:
            scores = queries @ vectors.T
            if excluded is not None:
                positions: dict[str, list[int]] = {}
                for column, item in enumerate(ids):
                    positions.setdefault(item, []).append(column)
                for row, items in enumerate(excluded):
                    columns = [c for i in items for c in positions.get(i, ())]
                    scores[row, columns] = -1.0
            best = np.maximum(best, scores.max(axis=1))
        return best


def _absent(phrases: str, mentioned: set[str]) -> list[str]:
    kept = []
    for phrase in (p.strip() for p in phrases.split(";")):
        if phrase and not words_of(phrase) & mentioned:
            kept.append(phrase)
    return kept


def _cut_between(present: np.ndarray, absent: np.ndarray) -> float:
    """The threshold with the best balanced accuracy of "score >= t means present"."""
    candidates = np.unique(np.concatenate([present, absent]))
    best, best_accuracy = float(candidates[0]), -1.0
    for t in candidates:
        accuracy = (np.mean(present >= t) + np.mean(absent < t)) / 2
        if accuracy > best_accuracy:
            best, best_accuracy = float(t), accuracy
    return best


def _cuts(absent: np.ndarray, confident_at: float, plausible_at: float) -> KindCuts:
    """Cuts at levels of the absent distribution (a level may be a cut found otherwise)."""
    confident = float(np.quantile(absent, confident_at))
    plausible = float(np.quantile(absent, plausible_at))
    return KindCuts(round(confident, 4), round(min(plausible, confident), 4))


def _level(absent: np.ndarray, cut: float) -> float:
    """The level of the absent distribution at which ``cut`` lies."""
    return float(np.mean(absent < cut))


def calibrate(library, seed: int = 0) -> Calibration:
    """Measure the cuts of every query kind on ``library`` with its own encoder."""
    scorer = _Scorer(library)
    rng = np.random.default_rng(seed)
    ids = list(scorer.ids)
    sample = [ids[i] for i in rng.permutation(len(ids))[:SAMPLE]]
    items = library.index.get_many(ids)
    captions = {i: item.caption for i, item in items.items() if item.caption.strip()}
    mentioned: set[str] = set()
    for caption in captions.values():
        mentioned |= words_of(caption)
    encode = library.encoder.encode_texts
    cuts: dict[str, KindCuts] = {}
    measured: dict[str, dict[str, int]] = {}

    things = _absent(ABSENT_THINGS, mentioned)
    subjects = sorted({s for s in (subject_of(captions.get(i, "")) for i in sample) if s})
    absent_text = scorer.best(encode([one_of(t) for t in things]))
    plausible_at = TEXT_PLAUSIBLE
    if len(subjects) >= 5:  # where the library's own subjects and absent things part best
        cut = _cut_between(scorer.best(encode(subjects)), absent_text)
        plausible_at = min(_level(absent_text, cut), CONFIDENT_QUANTILE)
    cuts["text"] = _cuts(absent_text, CONFIDENT_QUANTILE, plausible_at)
    measured["text"] = {"absent": len(things), "present": len(subjects)}

    kinds = _absent(ABSENT_KINDS, mentioned)
    cuts["category"] = _cuts(
        scorer.best(encode([one_of(k) for k in kinds])), CONFIDENT_QUANTILE, CATEGORY_PLAUSIBLE
    )
    measured["category"] = {"absent": len(kinds), "present": 0}

    pictures = [i for i in sample if items.get(i) is not None and items[i].modality == "image"]
    if len(pictures) >= 5:
        content = dict(zip(*library.index.vectors("content"), strict=True))
        queries = np.stack([content[i] for i in pictures])
        subject = {i: subject_of(captions.get(i, "")) or i for i in ids}
        same = {}
        for i in ids:
            same.setdefault(subject.get(i, i), set()).add(i)
        others = [set(ids) - same[subject[i]] for i in pictures]
        absent_image = scorer.best(queries, excluded=[same[subject[i]] for i in pictures])
        with_twin = [n for n, i in enumerate(pictures) if len(same[subject[i]]) > 1]
        confident_at = CONFIDENT_QUANTILE
        if len(with_twin) >= 5:  # a picture's twin vs its nearest other thing
            present_image = scorer.best(
                queries[with_twin], excluded=[{pictures[n]} | others[n] for n in with_twin]
            )
            confident_at = _level(absent_image, _cut_between(present_image, absent_image))
        cuts["image"] = _cuts(absent_image, confident_at, PICTURE_PLAUSIBLE)
        measured["image"] = {"absent": len(pictures), "present": len(with_twin)}
        shuffled = [pictures[n] for n in rng.permutation(len(pictures))]
        texts = encode([subject_of(captions.get(i, "")) or "a thing" for i in shuffled])
        composed = _compose(library.encoder, queries, texts)
        cuts["composed"] = _cuts(
            scorer.best(composed, excluded=[{i} for i in pictures]),
            CONFIDENT_QUANTILE,
            PICTURE_PLAUSIBLE,
        )
        measured["composed"] = {"absent": len(pictures), "present": 0}
    else:  # a library without pictures: picture queries are graded like text
        cuts["image"] = cuts["composed"] = cuts["text"]
    return Calibration(library.encoder.name, library.index.count(), cuts, measured)


def _compose(encoder, images: np.ndarray, texts: np.ndarray) -> np.ndarray:
    """A picture with an unrelated text modifier, as the assistant composes them."""
    fuse = getattr(encoder, "fuse", None)
    fused = fuse(images, texts) if fuse else None
    if fused is None:
        fused = images + texts
    fused = np.asarray(fused, dtype=np.float32)
    return fused / np.linalg.norm(fused, axis=1, keepdims=True).clip(1e-12)


def load_or_calibrate(library, path: Path) -> Calibration:
    """The cached calibration at ``path`` when it fits the library's encoder and size, else a
    new one (written back for the next start)."""
    count = library.index.count()
    try:
        cached = Calibration.from_json(Path(path).read_text(encoding="utf-8"))
        if cached.fits(library.encoder.name, count):
            return cached
        log.info("recalibrating answers: the encoder or the library changed")
    except (OSError, ValueError, KeyError, TypeError):
        pass
    calibration = calibrate(library)
    log.info("answer calibration for %s: %s", calibration.encoder, calibration.cuts)
    try:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        partial.write_text(calibration.to_json(), encoding="utf-8")
        partial.replace(path)
    except OSError as exc:  # a read-only data folder: calibrate again next start
        log.warning("could not save the answer calibration to %s: %s", path, exc)
    return calibration
