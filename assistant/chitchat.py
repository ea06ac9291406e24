"""Messages that are not searches: thanks, greetings, goodbyes, questions about the assistant
itself or about what the library holds, and requests it cannot serve (weather, news). They get
a short reply that fits the library (a library of pictures alone is not offered sounds), not a
search."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from assistant.item_names import KIND_NAMES


@dataclass(frozen=True)
class LibraryContents:
    """What the library holds, as a reply describes it: items per modality and the names of a
    few of them ("a black cat")."""

    counts: Mapping[str, int] = field(default_factory=dict)
    examples: Sequence[str] = ()

    def _held(self) -> list[tuple[str, int]]:
        """(kind name, count) of the kinds held, the largest first."""
        held = sorted((-n, kind) for kind, n in self.counts.items() if n)
        return [(KIND_NAMES.get(kind, kind), -n) for n, kind in held]

    def held(self) -> str:
        """ "12 pictures and 1 sound" (the largest kinds first), or "nothing yet"."""
        parts = [f"{n:,} {name}{'s' * (n != 1)}" for name, n in self._held()]
        return _listed(parts) or "nothing yet"

    def kinds(self) -> str:
        """ "pictures and sounds" as a sentence names them: the plural names of the kinds held."""
        return _listed([name + "s" for name, _ in self._held()]) or "items"

    def senses(self) -> str:
        """ "see", "hear" or "see or hear": how a person takes in what the library holds."""
        seen = any(self.counts.get(k) for k in ("image", "video", "text"))
        heard = any(self.counts.get(k) for k in ("audio", "video"))
        return "see or hear" if seen and heard else "hear" if heard else "see"


def _listed(parts: Sequence[str]) -> str:
    """ "a", "a and b", "a, b and c"."""
    return ", ".join(parts[:-1]) + " and " + parts[-1] if len(parts) > 1 else "".join(parts)


def capabilities(library: LibraryContents) -> str:
    """What the assistant does, for this library."""
    return (
        f"I search this library's {library.kinds()} and their captions. Ask for something "
        "(“show me a frog”, “do you have anything red?”), send a picture to find what looks "
        "like it, or press the microphone and ask aloud. Like what you enjoy and the "
        "recommendations follow your taste."
    )


def overview(library: LibraryContents) -> str:
    """What the library holds: its counts and a few of its items by name."""
    if not any(library.counts.values()):
        return "This library is empty: add pictures, sounds or videos with `crossmedia ingest`."
    text = f"This library holds {library.held()}"
    if library.examples:
        text += ", among them " + _listed(list(library.examples))
    return (
        text
        + ". Ask for any of them, or for anything else you'd like to "
        + (library.senses() + ".")
    )


_PICTURES_AND_SOUNDS = LibraryContents({"image": 1, "audio": 1})  # when not told what it holds
_CLOSING = r"[\s!.,:;)(]*(😊|🙂|👍)?[\s!.]*$"
_THANKS = re.compile(
    r"^\s*(ok(ay)?[, ]+)?(thanks?|thank you|thx|ty|cheers|much appreciated)"
    r"( (so|very) much| a lot| again)?" + _CLOSING,
    re.I,
)
_APPROVAL = re.compile(r"^\s*(great|cool|nice|awesome|perfect|ok(ay)?|got it|wow)" + _CLOSING, re.I)
_HELLO = r"(hi|hello|hey|hiya|howdy|good (morning|afternoon|evening))( there| again)?"
_GREETING = re.compile(r"^\s*" + _HELLO + _CLOSING, re.I)
_WHAT_IS_HELD = re.compile(
    r"^\s*(" + _HELLO + r"[\s,!.]+)?(so,? )?(what'?s|what is|what do you have|what have you got"
    r"|what can i (find|see|search)|what('?s| is) there)( in)?( here| there| this library"
    r"| the library| your library)?( to (see|find|search))?[\s?!.]*$",
    re.I,
)
_GOODBYE = re.compile(r"^\s*(bye|goodbye|see you( later)?|good night)" + _CLOSING, re.I)
_ABOUT_ASSISTANT = re.compile(
    r"^\s*(who are you|what are you|what can (you|i) do|what do you do|help|how does (this|it)"
    r" work|how do i use (this|you))[\s?!.]*$",
    re.I,
)
_OUT_OF_SCOPE = re.compile(
    r"\b(weather|forecast|stock prices?|exchange rate|the news|what time is it|what day is it"
    r"|today's date|tell me a joke|set (an? )?(alarm|timer|reminder))\b",
    re.I,
)
_COMPARED = (
    r"(?:(?:most|least)\s+\w+|best|worst|(?:bigg|small|larg|old|new|young|fast|slow|heavi|light"
    r"|tall|short|cut|pretti|nic|strong)(?:er|est))"
)
# "which one is the biggest?", "which is bigger?": a comparison of the results, which neither the
# pictures nor their captions can settle ("which is the biggest planet?" names a search instead)
_COMPARISON = re.compile(
    r"^\s*(which|what)(\s+(one|ones|of (them|these|those)))?('s\s+|\s+((is|are|was|looks?)\s+)?)"
    r"(?P<how>(the\s+)?" + _COMPARED + r")(\s+(one|of (them|these|those|all)))?[\s?!.]*$",
    re.I,
)


def _cannot_compare(text: str, held: LibraryContents) -> str:
    match = _COMPARISON.search(text)
    assert match is not None  # chat_reply calls this only for a text it matches
    how = " ".join(match.group("how").lower().split())
    return (
        f"I can't tell which is {how}: I only know what each item shows and what its caption "
        "says. Ask about one of them (“tell me about number 2”), or for something else."
    )


_REPLIES: tuple[tuple[re.Pattern[str], Callable[[str, LibraryContents], str]], ...] = (
    (
        _THANKS,
        lambda _, held: f"You're welcome! Ask for anything else you'd like to {held.senses()}.",
    ),
    (
        _WHAT_IS_HELD,
        lambda text, held: (
            ("Hello! " if re.match(r"\s*" + _HELLO, text, re.I) else "") + overview(held)
        ),
    ),
    (_GREETING, lambda _, held: "Hello! " + capabilities(held)),
    (_GOODBYE, lambda _, held: "Goodbye! Your likes are kept for next time."),
    (_APPROVAL, lambda _, held: "Glad it helps. What would you like to find next?"),
    (_ABOUT_ASSISTANT, lambda _, held: capabilities(held)),
    (_COMPARISON, _cannot_compare),
    (
        _OUT_OF_SCOPE,
        lambda _, held: (
            "I can't help with that: I only know this media library. " + capabilities(held)
        ),
    ),
)


def chat_reply(
    text: str, library: LibraryContents | Callable[[], LibraryContents] | None = None
) -> str | None:
    """The reply to a message that is not a search, or None when it should be searched.
    ``library``: what the library holds, or a function that looks it up (called only for a
    reply, so a search costs nothing); the replies name only what it has."""
    for pattern, reply in _REPLIES:
        if pattern.search(text):
            held = (library() if callable(library) else library) or _PICTURES_AND_SOUNDS
            return reply(text, held)
    return None
