"""Word matches between a question and the items' captions in the question's own language.

An item may carry its caption in other languages (``caption_fr``: a sidecar's ``fr.utf8=Une
coccinelle.``). A French question then has a second, monolingual way to its item besides the
cross-lingual vector: the words themselves. "une coccinelle", heard by Whisper, is hard to carry
into English ("coccinelle" is not in the small French dictionary) but is word for word the
stamp's French caption.

The match is an idf-weighted Dice coefficient over the two texts' words and the three-letter
pieces of their words, in [0, 1]: the share of the question the caption says and of the caption
the question says, each word or piece weighted by how rare it is among the library's captions in
that language (``un``, ``de``, ``la`` weigh almost nothing). 1.0 is the caption word for word.
Words are lowercased, stripped of accents and lemmatised (``simplemma``: "grenouilles" finds
"grenouille"); the pieces let a misheard word still count for what it shares ("un coque
multicolour" for "Un coq multicolore", "una lechusa" for "Una lechuza": on the DEV folders'
spoken French the top 10 rose from 0.67 with whole words to 0.83). Chinese and Japanese, written
without spaces, are compared by their characters and pairs of characters.

A bounded score rather than BM25's open-ended one, so that it adds to a cosine on a fixed scale
(``with_word_match``): BM25 libraries (``bm25s``, ``rank_bm25``) give unbounded scores that
would need a per-query normalisation for that.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Sequence
from typing import TypeVar

import numpy as np
from scipy import sparse

from retrieval.translation import lemma

# How much a full word match adds to an item's cosine score. Chosen on the Tux Paint grouped DEV
# split's spoken descriptions told their language (bench/spoken_search.py --split dev), never on
# TEST: fr/es/ru top 10 averaged 0.56 without it, 0.76 at 0.2, 0.79 at 0.3, 0.80 at 0.4 and 0.82
# at 0.6. 0.3 takes most of the gain; a larger weight lets a chance match of a few letters
# outweigh the vectors (and turn the assistant's "not found" into a wrong "found").
WORD_MATCH_WEIGHT = 0.3
# Fewest shared words' weight to count as a match at all (a shared "un" is not one).
MIN_MATCH = 0.15
T = TypeVar("T", float, np.ndarray)
CHARACTER_LANGUAGES = frozenset({"zh", "ja"})  # written without spaces between words
GRAM = 3  # letters in the pieces words are also compared by ("#coq", "coq", "oq#")
_WORD = re.compile(r"\w+")
_CJK_RUN = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")


def _plain(word: str) -> str:
    """Lowercase without accents ("Crème" -> "creme"): Whisper and captions differ in both."""
    decomposed = unicodedata.normalize("NFKD", word.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def caption_words(text: str, language: str) -> list[str]:
    """The words a caption or question is compared by (see the module docstring)."""
    if language in CHARACTER_LANGUAGES:
        runs = _CJK_RUN.findall(text)
        characters = [c for run in runs for c in run]
        pairs = [a + b for run in runs for a, b in itertools.pairwise(run)]
        latin = [_plain(w) for w in _WORD.findall(_CJK_RUN.sub(" ", text))]
        return characters + pairs + latin
    words = [_plain(lemma(word.casefold(), language)) for word in _WORD.findall(text)]
    grams = [
        marked[i : i + GRAM]
        for marked in (f"#{w}#" for w in words)
        for i in range(max(1, len(marked) - GRAM + 1))
    ]
    return words + grams


class CaptionWords:
    """The captions of a library's items in one language, ready to be matched word for word."""

    def __init__(self, ids: Sequence[str], captions: Sequence[str], language: str):
        self.ids = list(ids)
        self.language = language
        vocabulary: dict[str, int] = {}
        rows, columns = [], []
        for row, caption in enumerate(captions):
            for word in set(caption_words(caption, language)):
                rows.append(row)
                columns.append(vocabulary.setdefault(word, len(vocabulary)))
        self.vocabulary = vocabulary
        shape = (len(self.ids), max(1, len(vocabulary)))
        data = np.ones(len(rows), dtype=np.float32)
        self._has = sparse.csr_matrix((data, (rows, columns)), shape=shape)
        documents = np.asarray((self._has > 0).sum(axis=0)).reshape(-1)
        self._weight = self._idf(documents).astype(np.float32)
        self._unknown_weight = float(self._idf(np.zeros(1))[0])
        self._caption_weight = np.asarray(self._has @ self._weight).reshape(-1)

    def __len__(self) -> int:
        return len(self.ids)

    def _idf(self, documents: np.ndarray) -> np.ndarray:
        """BM25's inverse document frequency (always positive)."""
        total = len(self.ids)
        return np.log1p((total - documents + 0.5) / (documents + 0.5))

    def match(self, text: str, top: int = 20) -> dict[str, float]:
        """Up to ``top`` items whose caption shares words with ``text``, by their match in
        (MIN_MATCH, 1]; empty when nothing does."""
        words = set(caption_words(text, self.language))
        if not words or not self.ids:
            return {}
        known = [self.vocabulary[w] for w in words if w in self.vocabulary]
        question_weight = sum(float(self._weight[c]) for c in known)
        question_weight += self._unknown_weight * (len(words) - len(known))
        if not known or question_weight <= 0:
            return {}
        shared = np.asarray(self._has[:, known] @ self._weight[known]).reshape(-1)
        dice = 2 * shared / (self._caption_weight + question_weight)
        candidates = np.flatnonzero(dice > MIN_MATCH)
        best = candidates[np.argsort(-dice[candidates], kind="stable")][:top]
        return {self.ids[i]: round(float(dice[i]), 4) for i in best}


def with_word_match(score: T, match: T) -> T:
    """Cosine scores with their items' word matches added (``WORD_MATCH_WEIGHT``): one item's,
    or a matrix of them."""
    return score + WORD_MATCH_WEIGHT * match
