"""Turning what came in into what to search for: the request phrasing stripped from a question
("Do you have a picture of a badger?" -> "a badger"), and references to earlier results
("more like the second one") resolved to an item."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from assistant.media_intent import media_nouns
from assistant.request_phrasing import strip_request
from retrieval.translation import lemma
from retrieval.wordnet import default_wordnet

_MEDIA = f"({media_nouns('en')}|clips?)"
_REQUEST = re.compile(
    r"^\s*(please\s+)?((can|could|would) you\s+)?(please\s+)?"
    r"(show me|find( me)?|search( for)?|look(ing)? for|get me|give me|i('d| would) (like|love)"
    r"( to see)?|i want( to see)?|(can|could|may) i (see|have|hear)|let me see|i'?m looking for"
    r"|i am looking for|i need|do you (have|know)|have you got|is there|are there|what about"
    r"|how about|tell me (more )?about|what (is|are)|who is|describe|play( me)?)\s+"
    r"((any|some|a few|more)\s+)?"
    r"((anything|something|things?|stuff)\s+(about|with|on|of|related to|like)\s+)?"
    r"((an?\s+)?" + _MEDIA + r"\s+(of|with|showing|about)\s+((some)\s+)?)?",
    re.I,
)
_ANYTHING = re.compile(
    r"^\s*(anything|something|things?|stuff)\s+(about|with|on|of|related to|like|that is|that's)?"
    r"\s*(?!that\b|which\b|who\b)",
    re.I,
)
_LEAD_IN = re.compile(r"^\s*(and( also)?|also|plus|or|so|ok(ay)?)\b[\s,]*(?=\S)", re.I)
# a thing described by what it does, is for or comes from, not named: "something to play
# music with", "anything I can eat", "things for cooking", "anything from outer space"
_DESCRIPTION = re.compile(
    r"^\s*(something|anything|things?|stuff)\s+(to|that|which|for|from|i|you|we|one)\b", re.I
)
_MEDIA_PREFIX = re.compile(r"^\s*((an?|some|the)\s+)?" + _MEDIA + r"\s+(of|with|showing)\s+", re.I)
_MEDIA_SUFFIX = re.compile(r"\s+" + _MEDIA + r"(\s+please)?\s*$", re.I)
_POLITE = re.compile(r"[\s,]+(please|pls|thanks|thank you)\s*$", re.I)
_ORDINALS = {
    "first": 0, "1st": 0, "second": 1, "2nd": 1, "third": 2, "3rd": 2,
    "fourth": 3, "4th": 3, "fifth": 4, "5th": 4, "sixth": 5, "6th": 5,
}  # fmt: skip
_REFERENCE = re.compile(
    r"\b(?P<ordinal>first|second|third|fourth|fifth|sixth|1st|2nd|3rd|4th|5th|6th|last)"
    r"\s+(one|result|item|picture|image|photo|sound|clip)\b"
    r"|\b(number|#)\s*(?P<number>[1-9])\b"
    r"|\bmore like (?P<this>this|that|it)\b",
    re.I,
)


_CATEGORY = re.compile(
    r"^\s*(what|which)\s+(other\s+)?((kinds?|sorts?|types?)\s+of\s+)?(?P<what>[\w' -]+?)\s+"
    r"(do you have|have you got|are there|are in (the|your) library|can i (see|find))\b",
    re.I,
)


# "any fruit?", "got any birds?", "Do you have any frogs?": every such thing is asked for
_ANY = re.compile(
    r"^\s*((do you have|have you got|you got|got|are there|is there)\s+)?any\s+"
    r"(?P<what>[\w' -]+?)[\s?!.]*$",
    re.I,
)


def category_of(question: str) -> str | None:
    """The kind of thing a broad question asks about ("What animals do you have?" ->
    "animals", "any fruit?" -> "fruit"), or None for a question about one thing (or about a
    kind of media: "any pictures of a badger?")."""
    question = _LEAD_IN.sub("", question.strip())
    match = _CATEGORY.match(question) or _ANY.match(question)
    if not match or _MEDIA_PREFIX.match(match.group("what")):
        return None
    return match.group("what").strip()


def describes_a_thing(phrase: str) -> bool:
    """Whether a search phrase describes a thing by what it does or is for instead of naming
    it ("something to play music with"): a broad question, like "What animals do you have?"."""
    return bool(_DESCRIPTION.match(phrase))


_IRREGULAR = {
    "people": "person", "children": "child", "men": "man", "women": "woman", "mice": "mouse",
    "geese": "goose", "teeth": "tooth", "feet": "foot", "fish": "fish", "sheep": "sheep",
}  # fmt: skip


_SINGULAR_ENDINGS = ("ss", "us", "is")  # "dress", "bus", "analysis": not plurals


def _by_ending(word: str) -> str:
    """A plural's singular by its ending alone ("berries": berry, "boxes": box)."""
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "xes", "sses")):
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def one_of(kind: str) -> str:
    """A kind of thing as one instance, the way captions name things ("animals" -> "an
    animal"): captions are mostly "A dog.", and an instance matches them far better. The
    singular is the one WordNet holds as a noun ("buses": bus, not buse), and a plural WordNet
    has no singular for stays as it is, without an article ("clothes"); without WordNet, by
    the plural endings."""
    *head, last = kind.split()
    lower = last.lower()
    wordnet = default_wordnet()
    if lower in _IRREGULAR:
        last = _IRREGULAR[lower]
    elif not wordnet.available():
        last = _by_ending(last)
    elif lower.endswith("s") and not lower.endswith(_SINGULAR_ENDINGS):
        known = [s for s in wordnet.singulars(lower) if wordnet.knows(s)]
        if known:
            last = known[0]
        elif wordnet.knows(lower):
            return kind  # a plural with no singular noun: "clothes", "scissors"
        else:
            last = _by_ending(last)  # a word WordNet does not hold ("pokemons")
    phrase = " ".join([*head, last])
    return ("an " if phrase[:1].lower() in "aeiou" else "a ") + phrase


def search_phrase(question: str, language: str = "en") -> str:
    """The part of a question worth embedding: request phrasing and the question mark go, and
    of several sentences ("Do you have a badger? I'd like to see one.") the request is kept.
    Questions in zh, es, fr, de, ru and ja lose their own request phrasing
    (``assistant.request_phrasing``)."""
    if language != "en":
        return strip_request(question, language) or question.strip()
    category = category_of(question)
    if category:
        return one_of(category)
    question = _LEAD_IN.sub("", question)
    sentences = [s for s in re.split(r"(?<=[.?!])\s+", question.strip()) if s.strip(" ?!.")]
    for sentence in sentences:
        if _REQUEST.match(sentence):
            stripped = _tidy(_REQUEST.sub("", sentence))
            if stripped:
                return stripped
    stripped = _tidy(_REQUEST.sub("", question.strip()))
    return stripped or question.strip()


def _tidy(phrase: str) -> str:
    """A search phrase without courtesy, media words and filler: "something red" -> "red",
    "guitar pictures please" -> "guitar"."""
    phrase = _POLITE.sub("", phrase.strip(" ?!.,"))
    phrase = _MEDIA_PREFIX.sub("", phrase)
    described = _DESCRIPTION.match(phrase)  # kept whole: "something that flies"
    if not described:
        phrase = _ANYTHING.sub("", phrase)
    phrase = phrase.strip(" ?!.,")
    phrase = (_MEDIA_SUFFIX.sub("", phrase).strip() or phrase).strip(" ?!.,")
    return phrase if described else _as_instance(phrase)


def _as_instance(phrase: str) -> str:
    """A bare plural as one instance ("guitars" -> "a guitar", "red cars" -> "a red car"):
    captions name single things. Names ("Jupiter"), mass nouns and longer phrases stay."""
    words = phrase.split()
    if not 1 <= len(words) <= 3 or not phrase[:1].islower() or not words[-1].isalpha():
        return phrase
    last = words[-1].lower()
    if last in _IRREGULAR or (last.endswith("s") and not last.endswith(("ss", "us", "is"))):
        return one_of(phrase)
    return phrase


_LIST_COMMA = re.compile(r"\s*,\s*(?:(?:and|or)\s+)?", re.I)
_LIST_WORD = re.compile(r"\s+(?:and|or)\s+", re.I)
_LIST_FILLER = re.compile(
    r"^(?:(?:like|such as|say|maybe|perhaps|also|any|some|even|and|or)\s+)+"
    r"|\s+(?:too|as well|also|maybe)$",
    re.I,
)
_NOT_A_THING = re.compile(  # a clause among the things: "do you have any of those"
    r"^(?:do|does|did|can|could|would|will|is|are|have|has)\b"
    r"|\b(?:you|your|i|me|my|those|these|them|it)\b",
    re.I,
)
_ARTICLE = re.compile(r"^(?:an?|the|some)\s", re.I)
MAX_LISTED = 6  # things searched one by one in one question
MAX_THING_WORDS = 5


def listed_things(phrase: str, language: str = "en") -> list[str]:
    """The things a search phrase lists ("sheep, cows, ducks and maybe a tractor too" -> ["a
    sheep", "a cow", "a duck", "a tractor"]), each to be searched on its own; [] when it names
    one thing. Without a comma only "a frog and a duck" is a list ("a black and white cat" is
    one thing); clauses ("do you have any of those") are left out. In zh, es, fr, de, ru and ja
    by their own words for "and" and "or" (``_OTHER_LISTS``), each thing without its article."""
    if language != "en":
        return _listed_in(phrase, language)
    if "," in phrase:
        parts = [p for piece in _LIST_COMMA.split(phrase) for p in _LIST_WORD.split(piece)]
    else:
        parts = _LIST_WORD.split(phrase)
        if len(parts) < 2 or not all(_ARTICLE.match(p.strip()) for p in parts):
            return []
    things: list[str] = []
    for part in parts:
        part = _LIST_FILLER.sub("", part.strip(" ?!.;:")).strip()
        if not part or _NOT_A_THING.search(part) or len(part.split()) > MAX_THING_WORDS:
            continue
        thing = _as_instance(part)
        if thing not in things:
            things.append(thing)
    return things[:MAX_LISTED] if len(things) >= 2 else []


@dataclass(frozen=True)
class _ListWords:
    """How a language lists things: its words for "and"/"or", articles, fillers ("like",
    "maybe") and the words of a clause that is not a thing ("do you have")."""

    joins: str
    articles: str = ""
    fillers: str = ""
    clause: str = ""


_OTHER_LISTS = {
    "fr": _ListWords("et|ou", "un|une|des|le|la|les|du|de la|de l'|l'|d'",
                     "comme|peut-être|aussi|par exemple", "vous|tu|je|avez|as|ceux|celles|ça"),
    "es": _ListWords("y|e|o|u", "un|una|unos|unas|el|la|los|las",
                     "como|quizás|quizá|tal vez|también|por ejemplo",
                     "tienes|tiene|tienen|usted|tú|yo|esos|esas|eso"),
    "de": _ListWords("und|oder", "ein|eine|einen|einem|einer|der|die|das|den|dem",
                     "wie|vielleicht|auch|zum beispiel", "du|sie|ich|hast|haben|diese|davon"),
    "ru": _ListWords("и|или", "", "как|например|может быть|тоже|также",
                     "вы|ты|я|у вас|есть|эти|это"),
    "zh": _ListWords("和|或者|或|与|跟"),
    "ja": _ListWords("と|や|か"),
}  # fmt: skip
_CJK_COMMA = re.compile(r"\s*[、，,]\s*")


@dataclass(frozen=True)
class _ListPatterns:
    """A language's list patterns, compiled once (``_list_patterns``)."""

    join: re.Pattern[str]
    article: re.Pattern[str] | None
    filler: re.Pattern[str] | None
    clause: re.Pattern[str] | None


@lru_cache(maxsize=len(_OTHER_LISTS))
def _list_patterns(language: str) -> _ListPatterns:
    words = _OTHER_LISTS[language]
    if language in ("zh", "ja"):
        join = re.compile(f"(?:{words.joins})")
    else:
        join = re.compile(rf"\s*,\s*(?:(?:{words.joins})\s+)?|\s+(?:{words.joins})\s+", re.I)
    return _ListPatterns(
        join,
        re.compile(rf"^(?:{words.articles})(?:\s+|(?<=')|(?<=’))", re.I)
        if words.articles
        else None,
        re.compile(rf"^(?:(?:{words.fillers})\s+)+|\s+(?:{words.fillers})$", re.I)
        if words.fillers
        else None,
        re.compile(rf"(?:^|\s)(?:{words.clause})(?:\s|$)", re.I) if words.clause else None,
    )


def _joins_things(parts: list[str], article: re.Pattern[str] | None, language: str) -> bool:
    """Whether parts joined by "and"/"or" without a comma are things, not one thing's words:
    each part after the first opens with an article ("une grenouille et un canard"), or in
    German, where every noun is capitalised, every part is a noun in the plural, as bare nouns
    in a list are ("Pinguine und Tauben"; not "schwarz und weiß", nor the names "Tom und
    Jerry")."""
    if len(parts) < 2:
        return False
    if language == "de" and all(_is_german_plural(p.strip(" ?!.;:")) for p in parts):
        return True
    return article is not None and all(article.match(p.strip()) for p in parts[1:])


def _is_german_plural(part: str) -> bool:
    """Whether a part is a capitalised German noun whose lemma is another word: a plural
    ("Tauben", "Äpfel"), not a name ("Tom") nor an adjective ("schwarz")."""
    word = part.split()[-1] if part.split() else ""
    return word[:1].isupper() and lemma(word, "de") != word


def _listed_in(phrase: str, language: str) -> list[str]:
    """``listed_things`` for a language other than English."""
    if language not in _OTHER_LISTS:
        return []
    patterns = _list_patterns(language)
    cjk = language in ("zh", "ja")
    if cjk:  # no spaces: a join word splits only a list that has a comma ("和平鸽" is a dove)
        if not _CJK_COMMA.search(phrase):
            return []
        pieces = _CJK_COMMA.split(phrase)
        parts = pieces[:-1] + patterns.join.split(pieces[-1])
    else:
        parts = patterns.join.split(phrase)
        if "," not in phrase and not _joins_things(parts, patterns.article, language):
            return []  # "un chat noir et blanc": one thing; the first lost its article already
    things: list[str] = []
    for part in parts:
        part = part.strip(" ?!.;:？！。")
        if patterns.filler is not None:
            part = patterns.filler.sub("", part).strip()
        if patterns.article is not None:
            part = patterns.article.sub("", part)
        too_long = len(part.split()) > MAX_THING_WORDS or (cjk and len(part) > 3 * MAX_THING_WORDS)
        if not part or too_long or (patterns.clause is not None and patterns.clause.search(part)):
            continue
        if part not in things:
            things.append(part)
    return things[:MAX_LISTED] if len(things) >= 2 else []


def referenced_result(text: str, previous_results: Sequence[str]) -> str | None:
    """The earlier result a follow-up points at ("the second one", "number 3", "more like
    this" = the first), or None when the text refers to none or the position does not exist."""
    if not previous_results:
        return None
    match = _REFERENCE.search(text)
    if match is None:
        return None
    if match.group("ordinal"):
        word = match.group("ordinal").lower()
        position = len(previous_results) - 1 if word == "last" else _ORDINALS[word]
    elif match.group("number"):
        position = int(match.group("number")) - 1
    else:
        position = 0
    return previous_results[position] if position < len(previous_results) else None


_ABOUT_PICTURE = re.compile(
    r"^\s*(what|which|who)('s| is| are)?\s+(is\s+)?(this|that|it|these|those|in (this|the) "
    r"(picture|photo|image))\b|^\s*(what|which) (colou?r|kind|sort|type|animal|thing)\b"
    r"|^\s*(identify|describe|name) (this|it)\b|^\s*(do you (have|know) )?(this|it)\s*\?*$",
    re.I,
)


def about_the_picture(text: str) -> bool:
    """Whether text sent with a picture asks about the picture itself ("what is this?", "what
    colour is it?") rather than modifying it ("more like this but red")."""
    return bool(_ABOUT_PICTURE.match(text))
