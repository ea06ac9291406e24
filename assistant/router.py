"""Turning what came in into what to search for: the request phrasing stripped from a question
("Do you have a picture of a badger?" -> "a badger"), and references to earlier results
("more like the second one") resolved to an item."""

from __future__ import annotations

import re
from collections.abc import Sequence

_REQUEST = re.compile(
    r"^\s*(please\s+)?((can|could|would) you\s+)?(please\s+)?"
    r"(show me|find( me)?|search( for)?|look for|get me|give me|i('d| would) like|i want"
    r"|do you have|have you got|is there|are there|what about)\s+"
    r"((any|some|a few|more|an?|the)\s+)?"
    r"((pictures?|images?|photos?|drawings?|sounds?|clips?|recordings?|stamps?)\s+(of|with)\s+)?",
    re.I,
)
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


def category_of(question: str) -> str | None:
    """The kind of thing a broad question asks about ("What animals do you have?" ->
    "animals"), or None for a question about one thing."""
    match = _CATEGORY.match(question.strip())
    return match.group("what").strip() if match else None


_IRREGULAR = {
    "people": "person", "children": "child", "men": "man", "women": "woman", "mice": "mouse",
    "geese": "goose", "teeth": "tooth", "feet": "foot", "fish": "fish", "sheep": "sheep",
}  # fmt: skip


def one_of(kind: str) -> str:
    """A kind of thing as one instance, the way captions name things ("animals" -> "an
    animal"): captions are mostly "A dog.", and an instance matches them far better."""
    *head, last = kind.split()
    if last.lower() in _IRREGULAR:
        last = _IRREGULAR[last.lower()]
    elif last.endswith("ies") and len(last) > 4:
        last = last[:-3] + "y"
    elif last.endswith(("ches", "shes", "xes", "sses")):
        last = last[:-2]
    elif last.endswith("s") and not last.endswith("ss"):
        last = last[:-1]
    phrase = " ".join([*head, last])
    return ("an " if phrase[:1].lower() in "aeiou" else "a ") + phrase


def search_phrase(question: str) -> str:
    """The part of a question worth embedding: request phrasing and the question mark go, and
    of several sentences ("Do you have a badger? I'd like to see one.") the request is kept."""
    category = category_of(question)
    if category:
        return one_of(category)
    sentences = [s for s in re.split(r"(?<=[.?!])\s+", question.strip()) if s.strip(" ?!.")]
    for sentence in sentences:
        if _REQUEST.match(sentence):
            stripped = _REQUEST.sub("", sentence).strip(" ?!.")
            if stripped:
                return stripped
    stripped = _REQUEST.sub("", question.strip()).strip(" ?!.")
    return stripped or question.strip()


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
