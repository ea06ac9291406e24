"""Speech to text: one Transcriber interface; faster-whisper (default) and openai-whisper."""

from __future__ import annotations

import functools

from assistant.errors import SpeechError
from assistant.speech.audio import MAX_SECONDS
from assistant.speech.transcript import Segment, Transcriber, Transcript

ENGINES = ("faster-whisper", "openai-whisper")

__all__ = ["ENGINES", "Segment", "Transcriber", "Transcript", "load_transcriber"]


@functools.lru_cache(maxsize=4)
def load_transcriber(
    engine: str = "faster-whisper",
    model: str = "tiny.en",
    compute_type: str = "int8",
    max_seconds: float = MAX_SECONDS,
) -> Transcriber:
    """The transcriber for an engine and model, loaded once per process.

    faster-whisper models: ``tiny.en`` (packaged), ``multilingual`` (packaged Whisper base), a
    model directory or a hub id. openai-whisper models: a name such as ``tiny`` (downloads) or a
    local ``.pt`` checkpoint. Clips longer than ``max_seconds`` are refused.
    """
    if engine == "faster-whisper":
        from assistant.speech.faster import FasterWhisperTranscriber

        return FasterWhisperTranscriber(model, compute_type=compute_type, max_seconds=max_seconds)
    if engine == "openai-whisper":
        from assistant.speech.openai_engine import OpenAIWhisperTranscriber

        return OpenAIWhisperTranscriber(model, max_seconds=max_seconds)
    raise SpeechError(f"unknown speech engine {engine!r}; use one of {ENGINES}")
