"""The multilingual text side: a student that puts a sentence in any language where the English
text tower puts its English meaning (Reimers & Gurevych 2020, "Making monolingual sentence
embeddings multilingual using knowledge distillation").

Student: a multilingual sentence model (retrieval/encoders/students.py: multilingual-e5-small by
default, EmbeddingGemma-300M opt-in) with a linear map on top, fitted so that the student's
vector of a sentence *and of each of its translations* lands on the teacher's (MiniLM's) vector
of the English sentence. The sentence model itself stays frozen (e5's 4-bit engine cannot be
trained), so the distillation fits the map: ridge regression, closed form, with the ridge chosen
on a validation split.

Routing: a query that the language identifier takes for English keeps the teacher's vector; any
other is embedded by both, and where the two agree (cosine >= ``threshold``, chosen on
validation) the teacher understood it and its vector is kept as it is; elsewhere the student's
vector replaces it (or is averaged with it, where validation prefers that: the teacher still
reads names and cognates). English captions keep the teacher's vectors, so an existing index
stays valid.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from retrieval.encoders.base import l2_normalise
from retrieval.encoders.students import DEFAULT_STUDENT, StudentModel
from retrieval.language import identify, likely_languages
from retrieval.translation import DictionaryTranslator

log = logging.getLogger(__name__)


@dataclass
class StudentMap:
    """The linear map from the student model's vectors to the teacher's sentence space, and the
    routing threshold: ``teacher_vector = normalise(student_vector @ weight + bias)``."""

    weight: np.ndarray  # (student dim, teacher dim)
    bias: np.ndarray  # (teacher dim,)
    threshold: float  # teacher-student agreement at or above which a query counts as English
    blend: bool = False  # below it: the student's vector (False) or the mean of both (True)
    # a dictionary translation read by the teacher: "off", "replace" (it alone) or "blend" (the
    # mean with the routed vector), where at least ``min_coverage`` of the words were found
    translate: str = "off"
    min_coverage: float = 1.0
    translation_weight: float = 1.0  # in "blend": the translation's weight beside the routed vector
    student: str = DEFAULT_STUDENT  # the sentence model the map was fitted on (students.py)

    def apply(self, vectors: np.ndarray) -> np.ndarray:
        return l2_normalise(vectors @ self.weight + self.bias)

    def save(self, path: Path) -> None:
        np.savez(
            path,
            weight=self.weight,
            bias=self.bias,
            threshold=np.float32(self.threshold),
            blend=np.bool_(self.blend),
            translate=np.str_(self.translate),
            min_coverage=np.float32(self.min_coverage),
            translation_weight=np.float32(self.translation_weight),
            student=np.str_(self.student),
        )

    @classmethod
    def load(cls, path: Path) -> StudentMap:
        with np.load(path) as data:
            blend = bool(data["blend"]) if "blend" in data else False
            translate = str(data["translate"]) if "translate" in data else "off"
            coverage = float(data["min_coverage"]) if "min_coverage" in data else 1.0
            weight = float(data["translation_weight"]) if "translation_weight" in data else 1.0
            student = str(data["student"]) if "student" in data else DEFAULT_STUDENT
            return cls(
                data["weight"],
                data["bias"],
                float(data["threshold"]),
                blend,
                translate,
                coverage,
                weight,
                student,
            )

    def digest(self) -> str:
        return hashlib.sha1(self.weight.tobytes() + self.bias.tobytes()).hexdigest()[:8]


def fit_student_map(
    vectors: np.ndarray, teacher: np.ndarray, ridge: float, student: str = DEFAULT_STUDENT
) -> StudentMap:
    """Least squares with an L2 penalty (closed form) from student to teacher vectors; the
    threshold is set later, on validation data."""
    x = np.hstack([vectors, np.ones((len(vectors), 1), np.float32)]).astype(np.float64)
    penalty = ridge * np.eye(x.shape[1])
    penalty[-1, -1] = 0.0  # the bias is not shrunk
    solution = np.linalg.solve(x.T @ x + penalty, x.T @ teacher.astype(np.float64))
    weight, bias = solution[:-1].astype(np.float32), solution[-1].astype(np.float32)
    return StudentMap(weight, bias, 1.0, student=student)


class MultilingualText:
    """Sentence vectors in the teacher's space for text in any language (see the module)."""

    def __init__(self, student: StudentMap, model: StudentModel, cache_dir: Path | None = None):
        if model.name != student.student:
            raise ValueError(f"a map fitted on {student.student} cannot read {model.name} vectors")
        self.student = student
        self.model = model
        self.translator = DictionaryTranslator(cache_dir)

    def route(
        self,
        teacher: np.ndarray,
        texts: Sequence[str],
        embed: Callable[[Sequence[str]], np.ndarray] | None = None,
        language: str | None = None,
    ) -> np.ndarray:
        """The teacher's vectors of ``texts`` with the student's in place of those the teacher
        does not understand (agreement below the threshold), and, given the teacher's
        ``embed``, the teacher's reading of a dictionary translation where the map says so.
        ``language``, where known, is taken over the identifier's guess for each text, and then
        every text is read in translation; with a guessed language only those the teacher
        misread (an English caption taken for Spanish keeps its English vector)."""
        if language == "en":
            return teacher
        languages = [
            [language] if language else [lang for lang, _ in likely_languages(t)] for t in texts
        ]
        english = np.array([lang[:1] == ["en"] for lang in languages], dtype=bool)
        if english.all():  # the common case costs no student pass at all
            return teacher
        other = np.flatnonzero(~english)
        routed = teacher.astype(np.float32, copy=True)
        own = self.model.embed([texts[i] for i in other])
        routed[other] = route_vectors(self.student, teacher[other], own)
        if not language:  # a guessed language: what the teacher understood stays as it is
            other = other[not_understood(self.student, teacher[other], self.student.apply(own))]
        if embed is not None and self.student.translate != "off" and len(other):
            found = translated_rows(
                self.translator, [texts[i] for i in other], [languages[i] for i in other],
                self.student.min_coverage,
            )  # fmt: skip
            if found:
                rows = other[[n for n, _ in found]]
                read = np.asarray(embed([e for _, e in found]), np.float32)
                routed[rows] = with_translations(self.student, routed[rows], read)
        return routed


def with_translations(student: StudentMap, routed: np.ndarray, read: np.ndarray) -> np.ndarray:
    """The vectors of translated texts: the teacher's ``read``ing of each translation alone
    ("replace"), or its weighted mean with the ``routed`` vector ("blend")."""
    read = l2_normalise(read)
    if student.translate == "blend":
        return l2_normalise(student.translation_weight * read + l2_normalise(routed))
    return read


def translated_rows(
    translator: DictionaryTranslator,
    texts: Sequence[str],
    languages: Sequence[Sequence[str]],
    min_coverage: float,
) -> list[tuple[int, str]]:
    """(position, English) of the texts whose dictionary translation (from the likeliest of each
    text's ``languages`` that explains the most words) found at least ``min_coverage`` of
    their words."""
    found = []
    translator.prepare(texts, {lang for candidates in languages for lang in candidates})
    for n, (text, candidates) in enumerate(zip(texts, languages, strict=True)):
        translation = translator.best(text, candidates)
        if translation is not None and translation.coverage >= min_coverage:
            found.append((n, translation.english))
    return found


def looks_english(texts: Sequence[str]) -> np.ndarray:
    """Per text, whether the language identifier's best guess is English (however unsure)."""
    return np.array([identify(t)[0] == "en" for t in texts], dtype=bool)


def not_understood(student: StudentMap, teacher: np.ndarray, mapped: np.ndarray) -> np.ndarray:
    """Per row, whether the teacher misread the text: its vector and the student's (``mapped``)
    disagree (cosine below the map's threshold)."""
    return np.sum(l2_normalise(teacher) * mapped, axis=1) < student.threshold


def route_vectors(
    student: StudentMap, teacher: np.ndarray, own: np.ndarray, english: np.ndarray | None = None
) -> np.ndarray:
    """Per row, the teacher's vector where the text looks English or teacher and student agree
    (cosine >= the map's threshold), else the student's (or, with ``blend``, the mean of
    both)."""
    mapped = student.apply(own)
    foreign = not_understood(student, teacher, mapped)
    if english is not None:
        foreign &= ~english
    if student.blend:
        mapped = l2_normalise(l2_normalise(teacher) + mapped)
    if foreign.any():
        log.debug("multilingual: %d of %d texts through the student", foreign.sum(), len(own))
    return np.where(foreign[:, None], mapped, teacher).astype(np.float32)
