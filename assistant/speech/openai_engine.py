"""openai-whisper engine (optional extra): ``whisper.load_model(name or local .pt)``.

Names such as ``tiny`` or ``large-v3`` download from the internet; a local checkpoint works
offline. Audio is decoded by crossmedia (PyAV), so the ffmpeg program is not needed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection
from pathlib import Path

import numpy as np

from assistant.errors import SpeechError
from assistant.speech.audio import MAX_SECONDS, SAMPLE_RATE, decode_audio
from assistant.speech.transcript import Segment, Transcript, likeliest_expected

log = logging.getLogger(__name__)


class OpenAIWhisperTranscriber:
    """The reference Whisper implementation in PyTorch, greedy at temperature 0 by default."""

    engine = "openai-whisper"

    def __init__(
        self,
        model: str = "tiny",
        device: str = "cpu",
        beam_size: int | None = 5,
        max_seconds: float = MAX_SECONDS,
    ):
        try:
            import whisper
        except ImportError as exc:
            raise SpeechError(
                "the openai-whisper engine needs: pip install 'crossmedia[openai-whisper]'"
            ) from exc
        self.model = model
        self.device = device
        self.beam_size = beam_size
        self.max_seconds = max_seconds
        started = time.perf_counter()
        try:
            self._model = whisper.load_model(model, device=device)
        except (RuntimeError, OSError, KeyError, ValueError) as exc:
            hint = (
                ""
                if Path(model).exists()
                else " (a model name downloads it: this needs the internet)"
            )
            raise SpeechError(f"cannot load the Whisper model {model!r}{hint}: {exc}") from exc
        log.info("loaded openai-whisper %s in %.1f s", model, time.perf_counter() - started)

    def transcribe(
        self,
        audio: str | Path | bytes | np.ndarray,
        language: str | None = None,
        expected: Collection[str] = (),
    ) -> Transcript:
        """Transcribe a file, its bytes, or 16 kHz mono float32 samples; ``language`` forces
        one, else a multilingual model tells it among ``expected`` (all when empty)."""
        samples = audio if isinstance(audio, np.ndarray) else decode_audio(audio, self.max_seconds)
        started = time.perf_counter()
        sure = 1.0 if language else 0.0
        if not self._model.is_multilingual:
            language, sure = "en", 1.0
        elif language is None and expected:
            language, sure = self._likeliest(samples, expected) or (None, 0.0)
        result = self._model.transcribe(
            samples,
            language=language,
            temperature=0.0,
            beam_size=self.beam_size,
            fp16=self.device != "cpu",
            condition_on_previous_text=False,
            verbose=None,
        )
        segments = [
            Segment(round(s["start"], 2), round(s["end"], 2), s["text"].strip())
            for s in result["segments"]
            if s["text"].strip()
        ]
        return Transcript(
            text=result["text"].strip(),
            language=result.get("language") or language or "",
            segments=segments,
            seconds=round(time.perf_counter() - started, 3),
            audio_seconds=round(len(samples) / SAMPLE_RATE, 3),
            engine=self.engine,
            model=self.model,
            language_probability=round(sure, 4),
        )

    def _likeliest(
        self, samples: np.ndarray, expected: Collection[str]
    ) -> tuple[str, float] | None:
        """Whisper's language identification on the first 30 s, among ``expected``."""
        import whisper

        window = whisper.pad_or_trim(samples)
        mel = whisper.log_mel_spectrogram(window, n_mels=self._model.dims.n_mels)
        _, probabilities = self._model.detect_language(mel.to(self._model.device))
        return likeliest_expected(probabilities.items(), expected)
