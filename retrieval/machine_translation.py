"""Translation into English with Apertium, a rule-based machine translation engine (Forcada et
al. 2011) that Debian packages with its language data: it reads a whole phrase, so it keeps
word order, picks a word's sense from its neighbours and inflects ("Unos calcetines de lana
rojos." -> "Some socks of red wool."), where a word-by-word dictionary reading cannot.

Only routes measured to help are used (docs/multilingual.md): Spanish texts are read whole
(``apertium-eng-spa``); French words the dictionaries do not know go through French-Spanish then
Spanish-English (``apertium-fr-es``: "pingouin" -> "penguin"), as whole French texts read worse
that way than word by word. A word Apertium does not know comes back marked, so the caller can
look it up elsewhere. Without the ``apertium`` program or a route's pairs, ``available`` is False
and nothing is run.
"""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ApertiumRoute:
    """How Apertium reads a language into English: its modes in turn (a pivot through Spanish for
    French), the Debian packages that hold them, and whether whole texts or only the words the
    dictionaries miss go through it."""

    modes: tuple[str, ...]
    packages: tuple[str, ...]
    whole_texts: bool


ROUTES = {
    "es": ApertiumRoute(("spa-eng",), ("apertium-eng-spa",), whole_texts=True),
    "fr": ApertiumRoute(("fr-es", "spa-eng"), ("apertium-fr-es", "apertium-eng-spa"), False),
}
DEBIAN_PACKAGES = tuple(dict.fromkeys(p for route in ROUTES.values() for p in route.packages))
MODES_DIR = Path("/usr/share/apertium/modes")
TIMEOUT_S = 60.0
# one text per line; a line of its own between texts keeps them apart whatever Apertium does
# with a text's own line breaks
_SEPARATOR = "\n.\n"
# Apertium's marks: *unknown word, @word with no translation, #word it could not inflect
_MARKED = re.compile(r"([*@#]+)(\w[\w'-]*)")  # "**mot": unknown at both steps of a pivot


class MachineTranslationError(RuntimeError):
    """Apertium failed on a text (it is installed, but its run did not finish or failed)."""


@dataclass(frozen=True)
class MachineReading:
    """Apertium's English for a text, and the source words it did not know (kept as they are
    in ``english``)."""

    english: str
    unknown: tuple[str, ...]


@lru_cache(maxsize=8)
def available(language: str) -> bool:
    """Whether Apertium and the pairs of its route into English for ``language`` are installed."""
    route = ROUTES.get(language)
    if route is None:
        return False
    if shutil.which("apertium") is None or not all(
        (MODES_DIR / f"{mode}.mode").is_file() for mode in route.modes
    ):
        log.info(
            "%s is read word by word: Apertium's %s is not installed (apt-get install %s)",
            language, " + ".join(route.modes), " ".join(route.packages),
        )  # fmt: skip
        return False
    return True


def reads_whole_texts(language: str) -> bool:
    """Whether Apertium reads whole texts in ``language`` (else only words the dictionaries
    miss)."""
    return language in ROUTES and ROUTES[language].whole_texts and available(language)


def reads_words(language: str) -> bool:
    """Whether Apertium reads the words the dictionaries miss in ``language``."""
    return language in ROUTES and not ROUTES[language].whole_texts and available(language)


def read_marks(line: str) -> MachineReading:
    """Apertium's output line without its marks, and the words it marked as unknown."""
    unknown = tuple(word for marks, word in _MARKED.findall(line) if set(marks) & {"*", "@"})
    english = " ".join(_MARKED.sub(r"\2", line).split())
    return MachineReading(english, unknown)


def translate(texts: Sequence[str], language: str) -> list[MachineReading]:
    """Apertium's English for each of ``texts`` (in ``language``), in one run of each pair of its
    route."""
    if not texts:
        return []
    if not available(language):
        raise MachineTranslationError(f"Apertium cannot translate {language} here")
    text = _SEPARATOR.join(" ".join(t.split()) for t in texts) + "\n"
    for mode in ROUTES[language].modes:
        text = _run(mode, text)
    lines = text.rstrip("\n").split(_SEPARATOR)
    if len(lines) != len(texts):
        raise MachineTranslationError(
            f"Apertium {language} returned {len(lines)} texts for {len(texts)}"
        )
    return [read_marks(line.replace("\n", " ")) for line in lines]


def _run(mode: str, text: str) -> str:
    """One Apertium pair's output for ``text``."""
    try:
        done = subprocess.run(
            ["apertium", mode], input=text, capture_output=True, text=True, timeout=TIMEOUT_S
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise MachineTranslationError(f"Apertium {mode} did not finish: {exc}") from exc
    if done.returncode != 0:
        raise MachineTranslationError(
            f"Apertium {mode} failed ({done.returncode}): {done.stderr.strip()[:200]}"
        )
    return done.stdout
