"""Which things are kinds of which: the noun hierarchy of Princeton WordNet 3.0, read from the
database files Debian's ``wordnet-base`` installs (the format of wndb(5WN)).

"Any fruit?" asks for every item that is a kind of fruit; the shared embedding space ranks a
pigeon above an apple for "a food". ``WordNet.is_kind_of("banana", "food")`` answers from the
hierarchy instead. Only the two files a lookup needs are read: ``index.noun`` (a word's senses,
the commonest first) once, and ``data.noun`` by byte offset, one synset at a time, so the
first question costs about 1.5 s (0.3 s quiet) and 26 MB (tracemalloc, a busy 2-core machine),
and a first ``is_kind_of`` a few ms. NLTK's reader would do the same, but it refuses
paths outside its data folders and wants a ``lexnames`` file Debian does not ship.
"""

from __future__ import annotations

import logging
import re
import threading
from functools import lru_cache
from pathlib import Path

log = logging.getLogger(__name__)

WORDNET_DIR = Path("/usr/share/wordnet")
DEBIAN_PACKAGE = "wordnet-base"
KIND_SENSES = 2  # a word's commonest senses that count ("banana": the plant, then the fruit)
_HYPERNYM = re.compile(r"^@i?$")  # "@" hypernym, "@i" instance hypernym ("Saturn" -> planet)
# plural endings and what they come from, as WordNet's morphy reads nouns
_SUFFIXES = (("ses", "s"), ("xes", "x"), ("zes", "z"), ("ches", "ch"), ("shes", "sh"),
             ("men", "man"), ("ies", "y"), ("s", ""))  # fmt: skip


class WordNet:
    """WordNet's nouns: a word's senses and the kinds each sense belongs to. Construct once and
    share; the files are read on first use, and a missing database makes every word unknown
    (``available`` says so, and the log says how to install it)."""

    def __init__(self, root: Path = WORDNET_DIR) -> None:
        self.root = root
        self._index: dict[str, list[int]] | None = None
        self._exceptions: dict[str, str] = {}
        self._lock = threading.Lock()

    def available(self) -> bool:
        """Whether the noun database is installed."""
        return (self.root / "index.noun").is_file() and (self.root / "data.noun").is_file()

    def senses(self, word: str) -> list[int]:
        """The noun senses (synset offsets) of a word or phrase, the commonest first; a plural
        is read by its singular ("geese" -> goose); [] for a word WordNet does not hold."""
        index = self._loaded()
        key = "_".join(word.lower().split())
        if key in index:
            return index[key]
        for base in self.singulars(key):
            if base in index:
                return index[base]
        return []

    @lru_cache(maxsize=65536)  # noqa: B019 - one WordNet per process, kept for its life
    def kinds(self, offset: int) -> frozenset[int]:
        """Every synset a sense is a kind or an instance of (its hypernyms, to the root)."""
        found: set[int] = set()
        for parent in self._parents(offset):
            found.add(parent)
            found |= self.kinds(parent)
        return frozenset(found)

    def is_kind_of(self, word: str, kind: str, senses: int = KIND_SENSES) -> bool:
        """Whether one of the word's ``senses`` commonest senses is a kind of any sense of
        ``kind`` (or that sense itself): a banana is a food and a fruit, a pigeon a bird and
        an animal, not a food."""
        wanted = set(self.senses(kind))
        if not wanted:
            return False
        for sense in self.senses(word)[:senses]:
            if sense in wanted or wanted & self.kinds(sense):
                return True
        return False

    def knows(self, word: str) -> bool:
        """Whether WordNet holds the word as a noun."""
        return bool(self.senses(word))

    def singulars(self, word: str) -> list[str]:
        """What a word would be the plural of, by WordNet's exceptions ("geese": goose) and the
        plural endings ("foxes": fox, "clothes": clothe, clothes' forms); [] for none."""
        self._loaded()
        found = [self._exceptions[word]] if word in self._exceptions else []
        found += [word[: -len(end)] + base for end, base in _SUFFIXES if word.endswith(end)]
        return found

    def _loaded(self) -> dict[str, list[int]]:
        with self._lock:
            if self._index is None:
                self._index, self._exceptions = self._read_index()
            return self._index

    def _read_index(self) -> tuple[dict[str, list[int]], dict[str, str]]:
        if not self.available():
            log.warning(
                "WordNet is not installed at %s: kinds of things are not checked (apt-get "
                "install %s)", self.root, DEBIAN_PACKAGE
            )  # fmt: skip
            return {}, {}
        index: dict[str, list[int]] = {}
        with open(self.root / "index.noun", encoding="utf-8", errors="replace") as lines:
            for line in lines:
                if line.startswith(" "):  # the licence at the top
                    continue
                fields = line.split()
                pointers = int(fields[3])
                senses = int(fields[2])
                offsets = fields[4 + pointers + 2 :][:senses]
                index[fields[0]] = [int(o) for o in offsets]
        exceptions: dict[str, str] = {}
        exc = self.root / "noun.exc"
        if exc.is_file():
            for line in exc.read_text(encoding="utf-8", errors="replace").splitlines():
                inflected, *bases = line.split()
                if bases:
                    exceptions[inflected] = bases[0]
        return index, exceptions

    def _parents(self, offset: int) -> list[int]:
        """The hypernyms of the synset at ``offset`` in data.noun."""
        with open(self.root / "data.noun", "rb") as data:
            data.seek(offset)
            fields = data.readline().decode("utf-8", errors="replace").split(" | ")[0].split()
        words = int(fields[3], 16)
        at = 4 + 2 * words
        pointers = int(fields[at])
        parents = []
        for n in range(pointers):
            symbol, target, pos = fields[at + 1 + 4 * n : at + 4 + 4 * n]
            if _HYPERNYM.match(symbol) and pos == "n":
                parents.append(int(target))
        return parents


@lru_cache(maxsize=1)
def default_wordnet() -> WordNet:
    """The process's WordNet on Debian's files."""
    return WordNet()
