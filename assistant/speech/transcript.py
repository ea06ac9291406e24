"""What a transcription returns, and the interface every speech engine follows."""

from __future__ import annotations

import math
from collections.abc import Collection, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class Segment:
    start: float
    end: float
    text: str


@dataclass
class Transcript:
    """Text heard, detected language, timed segments, and how long it took."""

    text: str
    language: str
    segments: list[Segment] = field(default_factory=list)
    seconds: float = 0.0
    audio_seconds: float = 0.0
    engine: str = ""
    model: str = ""
    avg_logprob: float = 0.0  # the mean token log-probability of what was kept (how sure)
    language_probability: float = 0.0  # how sure the language is (1.0 when it was given)

    @property
    def is_speech(self) -> bool:
        """False when nothing was heard (silence, music, a sound effect)."""
        return bool(self.text.strip())

    @property
    def real_time_factor(self) -> float:
        return self.seconds / self.audio_seconds if self.audio_seconds else 0.0

    def to_dict(self) -> dict:
        data = asdict(self)
        data["is_speech"] = self.is_speech
        data["rtf"] = round(self.real_time_factor, 4)
        return data


def likeliest_expected(
    probabilities: Iterable[tuple[str, float]], expected: Collection[str]
) -> tuple[str, float] | None:
    """Of a language identifier's (language, probability) pairs, the likeliest language among
    those ``expected``, and its probability among them alone (the prior that the speaker speaks
    one of them); None when none of them is among the pairs."""
    among = {code: p for code, p in probabilities if code in expected and math.isfinite(p)}
    total = sum(among.values())
    if not among or total <= 0:  # none expected, or a broken model's NaN: Whisper's own guess
        return None
    best = max(among, key=among.__getitem__)
    return best, among[best] / total


class Transcriber(Protocol):
    """Speech to text; loads its model once and is reused."""

    engine: str
    model: str

    def transcribe(
        self,
        audio: str | Path | bytes | np.ndarray,
        language: str | None = None,
        expected: Collection[str] = (),
    ) -> Transcript:
        """Transcribe a file, its bytes, or 16 kHz mono float32 samples; ``language`` forces
        one, else a multilingual model tells it among ``expected`` (all it knows when empty or
        when it knows none of them)."""
        ...
