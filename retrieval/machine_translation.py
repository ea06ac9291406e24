"""Sentence translation into English with Apertium, a rule-based machine translation engine
(Forcada et al. 2011) that Debian packages with its language data: it reads a whole phrase, so it
keeps word order, picks a word's sense from its neighbours and inflects ("Unos calcetines de lana
rojos." -> "Some socks of red wool."), where a word-by-word dictionary reading cannot.

Only pairs measured to help are used (docs/multilingual.md): Spanish (``apertium-eng-spa``).
A word Apertium does not know comes back marked, so the caller can look it up elsewhere.
Without the ``apertium`` program or the pair, ``available`` is False and nothing is run.
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

# language -> (Apertium mode, Debian package); only pairs that helped on the DEV folders
APERTIUM_PAIRS = {"es": ("spa-eng", "apertium-eng-spa")}
DEBIAN_PACKAGES = tuple(package for _, package in APERTIUM_PAIRS.values())
MODES_DIR = Path("/usr/share/apertium/modes")
TIMEOUT_S = 60.0
# one text per line; a line of its own between texts keeps them apart whatever Apertium does
# with a text's own line breaks
_SEPARATOR = "\n.\n"
# Apertium's marks: *unknown word, @word with no translation, #word it could not inflect
_MARKED = re.compile(r"([*@#])(\w[\w'-]*)")


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
    """Whether Apertium and its pair into English for ``language`` are installed."""
    pair = APERTIUM_PAIRS.get(language)
    if pair is None:
        return False
    if shutil.which("apertium") is None or not (MODES_DIR / f"{pair[0]}.mode").is_file():
        log.info(
            "%s is read word by word: Apertium's %s is not installed (apt-get install %s)",
            language, pair[0], pair[1],
        )  # fmt: skip
        return False
    return True


def read_marks(line: str) -> MachineReading:
    """Apertium's output line without its marks, and the words it marked as unknown."""
    unknown = tuple(word for mark, word in _MARKED.findall(line) if mark in "*@")
    english = " ".join(_MARKED.sub(r"\2", line).split())
    return MachineReading(english, unknown)


def translate(texts: Sequence[str], language: str) -> list[MachineReading]:
    """Apertium's English for each of ``texts`` (in ``language``), in one run of its pipeline."""
    if not texts:
        return []
    if not available(language):
        raise MachineTranslationError(f"Apertium cannot translate {language} here")
    mode = APERTIUM_PAIRS[language][0]
    joined = _SEPARATOR.join(" ".join(text.split()) for text in texts) + "\n"
    try:
        done = subprocess.run(
            ["apertium", mode], input=joined, capture_output=True, text=True, timeout=TIMEOUT_S
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise MachineTranslationError(f"Apertium {mode} did not finish: {exc}") from exc
    if done.returncode != 0:
        raise MachineTranslationError(
            f"Apertium {mode} failed ({done.returncode}): {done.stderr.strip()[:200]}"
        )
    lines = done.stdout.rstrip("\n").split(_SEPARATOR)
    if len(lines) != len(texts):
        raise MachineTranslationError(
            f"Apertium {mode} returned {len(lines)} texts for {len(texts)}"
        )
    return [read_marks(line.replace("\n", " ")) for line in lines]
