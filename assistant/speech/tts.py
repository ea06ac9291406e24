"""Text to speech, offline: Debian's ``espeak-ng`` program, a voice per answer language, WAV out.

Text is cleaned for the ear first (citation markers such as ``[1]``, markdown, HTML and links
are not read out) and cut at a sentence boundary past ``max_chars``, with a spoken note that the
rest is on screen. Audio is cached in a folder by a hash of (voice, rate, text), so replaying an
answer costs nothing; a :class:`Speaker` also remembers which texts it was asked to say (by that
key), so a web page can ask for an answer's audio by key and never send text to synthesise;
with a database (assistant.speech.shared) every app process over it knows every key.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import subprocess
import tempfile
import time
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from assistant.errors import SpeechError
from assistant.speech.shared import SharedSpokenTexts

log = logging.getLogger(__name__)

PROGRAM = "espeak-ng"
# The assistant's answer languages (assistant/locales.py) and the espeak-ng voice for each.
VOICES: dict[str, str] = {
    "en": "en-us",
    "es": "es",
    "fr": "fr-fr",
    "de": "de",
    "ru": "ru",
    "zh": "cmn-latn-pinyin",  # plain "cmn" reads its own pinyin tone digits out in English
    "ja": "ja",
}
# What a voice cannot read: espeak-ng's Japanese says "Chinese letter" for every kanji.
UNREADABLE: dict[str, tuple[re.Pattern[str], str]] = {
    "ja": (
        re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]"),
        "espeak-ng's Japanese voice reads kana but not kanji, so this answer is not spoken",
    ),
}
# Said after a cut answer, in the answer's language.
REST_ON_SCREEN: dict[str, str] = {
    "en": "The rest of the answer is on screen.",
    "es": "El resto de la respuesta está en la pantalla.",
    "fr": "La suite de la réponse est à l'écran.",
    "de": "Der Rest der Antwort steht auf dem Bildschirm.",
    "ru": "Остальная часть ответа на экране.",
    "zh": "其余的回答在屏幕上。",
    "ja": "続きは画面にあります。",
}
MAX_CHARS = 600  # about 40 s of speech: an answer, not a chapter
RATE_WPM = 165
TIMEOUT_S = 60.0
NOTHING_TO_SAY = "nothing to say: the text is empty once citations and markup are gone"
KEY_PATTERN = re.compile(r"[0-9a-f]{32}")

_CITATION = re.compile(r"\[\[?\d+(?:\s*[,–-]\s*\d+)*\]?\](?:\([^)\s]*\))?")
_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_TAG = re.compile(r"<[^>]+>")
_URL = re.compile(r"https?://\S+|/media/\S+")
_MARKUP = re.compile(r"^\s*(?:#{1,6}|>|[-*+]|\d+\.)\s+", re.MULTILINE)
_EMPHASIS = re.compile(r"[*_`~]+")
_SPACE_BEFORE = re.compile(r"\s+([.,;:!?。，、；：！？)\]」”])")
_SENTENCE_END = re.compile(r"[.!?。！？](?=\s|$|[”」])")


def voice_for(language: str) -> str:
    """The espeak-ng voice for an answer language (English for one without a voice here)."""
    return VOICES.get(language, VOICES["en"])


def speakable(text: str, language: str = "en", max_chars: int = MAX_CHARS) -> str:
    """``text`` as it should be heard: citation markers, markdown, HTML tags and links removed,
    whitespace collapsed; past ``max_chars`` it is cut after the last whole sentence (or word)
    and a note in ``language`` says the rest is on screen."""
    spoken = _IMAGE.sub(" ", text)
    spoken = _CITATION.sub(" ", spoken)
    spoken = _LINK.sub(r"\1", spoken)
    spoken = _TAG.sub(" ", spoken)
    spoken = _URL.sub(" ", spoken)
    spoken = _MARKUP.sub("", spoken)
    spoken = _EMPHASIS.sub("", spoken)
    spoken = " ".join(spoken.split())
    spoken = _SPACE_BEFORE.sub(r"\1", spoken)
    if len(spoken) <= max_chars:
        return spoken
    head = spoken[:max_chars]
    ends = [m.end() for m in _SENTENCE_END.finditer(head)]
    if ends and ends[-1] > max_chars // 3:
        head = head[: ends[-1]]
    else:
        head = head.rsplit(" ", 1)[0] if " " in head else head
        head = head.rstrip(",;: ") + "…"
    return f"{head} {REST_ON_SCREEN.get(language, REST_ON_SCREEN['en'])}"


def check_readable(text: str, language: str) -> None:
    """A SpeechError when the language's voice cannot read ``text`` (Japanese with kanji)."""
    unreadable = UNREADABLE.get(language)
    if unreadable and unreadable[0].search(text):
        raise SpeechError(unreadable[1])


def program_path(program: str = PROGRAM) -> str:
    """The espeak-ng executable on ``$PATH``; a SpeechError saying how to install it if none."""
    found = shutil.which(program)
    if found is None:
        raise SpeechError(
            f"{program} is not installed, so answers cannot be spoken: install it with "
            f"'sudo apt-get install espeak-ng' (scripts/setup.sh does), or put it on PATH"
        )
    return found


def wav_seconds(path: str | Path) -> float:
    """The duration of a WAV file; a SpeechError if it is not a readable WAV."""
    try:
        with wave.open(str(path), "rb") as audio:
            return audio.getnframes() / float(audio.getframerate())
    except (wave.Error, EOFError, OSError, ZeroDivisionError) as exc:
        raise SpeechError(f"{path}: not a readable WAV file ({exc})") from None


def wav_samples(path: str | Path) -> tuple[int, np.ndarray]:
    """A 16-bit mono WAV file (what ``synthesise`` writes) as (sample rate, int16 samples); a
    SpeechError if it is not one."""
    try:
        with wave.open(str(path), "rb") as audio:
            if audio.getsampwidth() != 2 or audio.getnchannels() != 1:
                raise SpeechError(f"{path}: not a 16-bit mono WAV file")
            rate, frames = audio.getframerate(), audio.readframes(audio.getnframes())
    except (wave.Error, EOFError, OSError) as exc:
        raise SpeechError(f"{path}: not a readable WAV file ({exc})") from None
    return rate, np.frombuffer(frames, dtype=np.int16)


def synthesise(
    text: str,
    target: str | Path,
    voice: str = VOICES["en"],
    rate: int = RATE_WPM,
    program: str = PROGRAM,
) -> Path:
    """Speak ``text`` (already cleaned) with espeak-ng into the WAV file ``target`` (22.05 kHz
    mono, 16 bit), written whole or not at all. The text goes in on stdin, never as an argument
    the program could read as an option."""
    if not text.strip():
        raise SpeechError(NOTHING_TO_SAY)
    executable = program_path(program)
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(suffix=".wav", dir=target.parent, prefix=".partial-")
    os.close(handle)
    command = [executable, "-v", voice, "-s", str(rate), "-b", "1", "-w", partial, "--stdin"]
    try:
        done = subprocess.run(
            command, input=text.encode("utf-8"), capture_output=True, timeout=TIMEOUT_S
        )
        if done.returncode != 0 or os.path.getsize(partial) <= 44:
            problem = done.stderr.decode("utf-8", "replace").strip() or "no audio was written"
            raise SpeechError(f"{program} could not speak with voice {voice!r}: {problem}")
        os.replace(partial, target)
    except subprocess.TimeoutExpired:
        raise SpeechError(f"{program} took longer than {TIMEOUT_S:.0f} s; say less") from None
    except OSError as exc:
        raise SpeechError(f"{program} could not be run: {exc}") from None
    finally:
        if os.path.exists(partial):
            os.unlink(partial)
    return target


@dataclass(frozen=True)
class Speech:
    """A spoken text: its WAV file, what was said, the voice, its length, and whether it was
    synthesised now (``seconds_taken`` > 0) or came from the cache."""

    key: str
    path: Path
    text: str
    voice: str
    audio_seconds: float
    seconds_taken: float

    @property
    def cached(self) -> bool:
        return self.seconds_taken == 0.0


class Speaker:
    """Speaks answers into a cache folder: ``KEY.json`` (what to say, in which voice) when a text
    is registered, ``KEY.wav`` when it is first heard. Old files beyond ``max_files`` answers
    are removed, oldest first."""

    def __init__(
        self,
        cache_dir: str | Path,
        rate: int = RATE_WPM,
        max_chars: int = MAX_CHARS,
        max_files: int = 500,
        program: str = PROGRAM,
        shared: SharedSpokenTexts | None = None,
    ):
        """``shared``: the registrations in the database, for several app processes (each
        process then speaks any answer any of them registered)."""
        self.cache_dir = Path(cache_dir)
        self.shared = shared
        self.rate = rate
        self.max_chars = max_chars
        self.max_files = max_files
        self.program = program
        self._added = self.max_files  # answers registered since the last prune (prune first)

    def register(self, text: str, language: str = "en") -> str:
        """Remember ``text`` (cleaned for speech, in the voice of ``language``) and return its
        key; nothing is synthesised yet. A SpeechError if nothing is left to say or the voice
        cannot read it."""
        spoken = speakable(text, language, self.max_chars)
        if not spoken:
            raise SpeechError(NOTHING_TO_SAY)
        check_readable(spoken, language)
        voice = voice_for(language)
        key = hashlib.sha256(f"{voice}\n{self.rate}\n{spoken}".encode()).hexdigest()[:32]
        if self.shared is not None:
            self.shared.add(key, spoken, voice)
        entry = self.cache_dir / f"{key}.json"
        if entry.exists():
            entry.touch()  # said again: newest, kept longest
            return key
        self._write_entry(key, spoken, voice)
        self._added += 1
        if self._added > self.max_files // 10:  # look at the folder now and then, not per answer
            self._added = 0
            self._prune()
            if self.shared is not None:
                self.shared.prune()
        return key

    def _write_entry(self, key: str, text: str, voice: str) -> None:
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        entry = self.cache_dir / f"{key}.json"
        partial = entry.with_name(f".{key}.{os.getpid()}.json")
        partial.write_text(json.dumps({"text": text, "voice": voice}, ensure_ascii=False))
        os.replace(partial, entry)

    def audio(self, key: str) -> Speech:
        """The WAV of a registered text, synthesised on first request. A SpeechError for a key
        that was never registered (or was pruned since)."""
        if not KEY_PATTERN.fullmatch(key):
            raise SpeechError(f"{key!r} is not a speech key")
        entry, wav = self.cache_dir / f"{key}.json", self.cache_dir / f"{key}.wav"
        registered = self.shared.get(key) if self.shared and not entry.exists() else None
        if registered is not None:  # registered by another process over the same database
            self._write_entry(key, *registered)
        try:
            said = json.loads(entry.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise SpeechError(f"no answer to speak under {key}; ask again") from None
        taken = 0.0
        if not wav.exists():
            started = time.perf_counter()
            synthesise(said["text"], wav, said["voice"], self.rate, self.program)
            taken = time.perf_counter() - started
            log.info("spoke %d characters (%s) in %.2f s", len(said["text"]), said["voice"], taken)
        return Speech(key, wav, said["text"], said["voice"], wav_seconds(wav), taken)

    def speak(self, text: str, language: str = "en") -> Speech:
        """Register ``text`` and return its audio (from the cache when it was said before)."""
        return self.audio(self.register(text, language))

    def _prune(self) -> None:
        """Keep the newest ``max_files`` answers (their text and audio)."""
        entries = sorted(self.cache_dir.glob("*.json"), key=_age)
        for old in entries[: max(0, len(entries) - self.max_files)]:
            old.unlink(missing_ok=True)
            old.with_suffix(".wav").unlink(missing_ok=True)


def _age(path: Path) -> float:
    """A file's modification time (0 for one another process removed meanwhile)."""
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0
