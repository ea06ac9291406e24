"""Decode any audio a user or a browser sends (WAV, MP3, OGG/Opus, FLAC, WebM, M4A, ...) into
16 kHz mono float32 with PyAV (FFmpeg's libraries; no ffmpeg program needed)."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import numpy as np

from assistant.errors import AudioError

log = logging.getLogger(__name__)
SAMPLE_RATE = 16_000
MAX_SECONDS = 600.0
MAX_FILE_BYTES = 200 * 1024 * 1024


def decode_audio(
    source: str | Path | bytes,
    max_seconds: float = MAX_SECONDS,
    label: str | None = None,
) -> np.ndarray:
    """Return mono float32 samples at 16 kHz in [-1, 1].

    Raises AudioError for a missing, empty, oversized or non-audio file, a clip with no samples,
    or one longer than ``max_seconds``.
    """
    import av

    if isinstance(source, bytes):
        label = label or "audio data"
        data = source
    else:
        path = Path(source)
        label = label or str(path)
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise AudioError(f"{label}: file not found") from None
        if size > MAX_FILE_BYTES:
            raise AudioError(
                f"{label}: {size / 1e6:.0f} MB is over the {MAX_FILE_BYTES / 1e6:.0f} MB limit"
            )
        data = path.read_bytes()
    if not data:
        raise AudioError(f"{label}: file is empty")
    chunks: list[np.ndarray] = []
    total = 0
    limit = int(max_seconds * SAMPLE_RATE)
    try:
        with av.open(io.BytesIO(data), mode="r") as container:
            if not container.streams.audio:
                raise AudioError(f"{label}: holds no audio stream")
            resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
            for frame in container.decode(audio=0):
                for out in resampler.resample(frame):
                    samples = out.to_ndarray().reshape(-1)
                    chunks.append(samples)
                    total += len(samples)
                if total > limit:
                    raise AudioError(
                        f"{label}: longer than the {max_seconds:.0f} s limit; "
                        "trim it or raise the limit"
                    )
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
    except AudioError:
        raise
    except (av.error.FFmpegError, ValueError, OSError) as exc:
        log.debug("decoding %s failed: %s", label, exc)
        raise AudioError(
            f"{label}: not a readable audio file; send a recording (WAV, MP3, OGG, WebM, M4A, ...)"
        ) from None
    audio = (
        np.clip(np.concatenate(chunks), -1.0, 1.0).astype(np.float32)
        if chunks
        else np.zeros(0, np.float32)
    )
    if audio.size == 0:
        raise AudioError(f"{label}: the clip holds no sound samples")
    return audio
