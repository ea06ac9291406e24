"""Typed errors of the assistant layer."""

from __future__ import annotations

from retrieval.errors import CrossmediaError, MediaError


class AudioError(MediaError):
    """An audio file cannot be used: not audio, empty, too long, or unreadable."""


class SpeechError(CrossmediaError):
    """A speech model cannot be loaded or run."""
