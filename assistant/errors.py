"""Typed errors of the assistant layer."""

from __future__ import annotations

from retrieval.errors import CrossmediaError, MediaError


class AudioError(MediaError):
    """An audio file cannot be used: not audio, empty, too long, or unreadable."""


class SpeechError(CrossmediaError):
    """A speech model cannot be loaded or run."""


class LLMError(CrossmediaError):
    """The language model cannot be loaded or fails to answer."""


class TurnError(CrossmediaError):
    """A chat turn cannot be served as given (nothing to answer, unknown session item)."""
