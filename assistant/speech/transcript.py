"""What a transcription returns, and the interface every speech engine follows."""

from __future__ import annotations

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


class Transcriber(Protocol):
    """Speech to text; loads its model once and is reused."""

    engine: str
    model: str

    def transcribe(
        self, audio: str | Path | bytes | np.ndarray, language: str | None = None
    ) -> Transcript:
        """Transcribe a file, its bytes, or 16 kHz mono float32 samples."""
        ...
