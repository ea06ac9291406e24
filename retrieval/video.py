"""Video files as items: probe, keyframes at scene changes, and the checks that refuse a video.

A video is read with PyAV (FFmpeg's libraries, no ffmpeg program). Keyframes are the first frame
and each frame that differs enough from the last keyframe (a scene change), at most
``max_per_minute`` of them; each is embedded by the image side like a picture. The audio track is
transcribed elsewhere (the ingest's transcriber reads a video's sound like any audio file).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from retrieval.errors import MediaError
from retrieval.images import checked_size

log = logging.getLogger(__name__)
VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi"})
MAX_VIDEO_SECONDS = 30 * 60.0
MAX_VIDEO_BYTES = 2_000_000_000
SAMPLE_EVERY = 0.25  # seconds between frames compared for scene changes
SCENE_THRESHOLD = 0.06  # mean absolute change of a 32x32 colour thumbnail, 0..1
MAX_KEYFRAMES_PER_MINUTE = 30  # one every 2 s on average; the biggest changes win
MAX_KEYFRAME_SIDE = 448


@dataclass(frozen=True)
class VideoInfo:
    """What the container says: length (seconds) and whether there is sound."""

    seconds: float
    has_audio: bool


@dataclass
class Keyframe:
    """One frame chosen to stand for a scene, with its time (seconds from the start)."""

    time: float
    image: Image.Image


def has_video_stream(path: Path) -> bool:
    """True when the file holds a video stream (a ``.webm`` may be sound only)."""
    import av

    try:
        with av.open(str(path)) as container:
            return bool(container.streams.video)
    except (av.error.FFmpegError, OSError, ValueError):
        return False


def probe_video(path: Path, max_seconds: float = MAX_VIDEO_SECONDS) -> VideoInfo:
    """The video's length, size and sound; raises MediaError for a file that is not a readable
    video, one over ``max_seconds`` or over the size limit."""
    import av

    checked_size(path, MAX_VIDEO_BYTES)
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise MediaError(f"{path}: holds no video stream")
            stream = container.streams.video[0]
            seconds = _duration(container, stream)
            info = VideoInfo(seconds=seconds, has_audio=bool(container.streams.audio))
    except MediaError:
        raise
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        log.debug("probing %s failed: %s", path, exc)
        raise MediaError(f"{path}: not a readable video (MP4, WebM, MKV, MOV)") from None
    if info.seconds > max_seconds:
        raise MediaError(
            f"{path}: the video is {info.seconds / 60:.1f} min long, over the "
            f"{max_seconds / 60:.0f} min limit; cut it into parts"
        )
    return info


def _duration(container, stream) -> float:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if container.duration is not None:
        return container.duration / 1_000_000
    return 0.0


def keyframes(
    path: Path,
    max_per_minute: int = MAX_KEYFRAMES_PER_MINUTE,
    threshold: float = SCENE_THRESHOLD,
    sample_every: float = SAMPLE_EVERY,
) -> list[Keyframe]:
    """The first frame and the frames at scene changes, in time order.

    Frames ``sample_every`` seconds apart are compared with the last keyframe (mean absolute
    difference of 32x32 colour thumbnails); a change over ``threshold`` starts a scene. When a
    video has more scene changes than ``max_per_minute`` allows, the largest changes are kept.
    Raises MediaError when no frame can be decoded.
    """
    import av

    candidates: list[tuple[float, float, Image.Image]] = []  # (change, time, frame)
    last: np.ndarray | None = None
    next_time = 0.0
    seconds = 0.0
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for frame in container.decode(stream):
                time = float(frame.time or 0.0)
                seconds = max(seconds, time)
                if time + 1e-6 < next_time:
                    continue
                next_time = time + sample_every
                image = frame.to_image()
                signature = _signature(image)
                change = 1.0 if last is None else float(np.abs(signature - last).mean())
                if change >= threshold:
                    image.thumbnail((MAX_KEYFRAME_SIDE, MAX_KEYFRAME_SIDE))
                    candidates.append((change, time, image))
                    last = signature
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        if not candidates:
            raise MediaError(f"{path}: no frame could be decoded ({exc})") from None
        log.warning(
            "%s: decoding stopped at %.1f s (%s); keeping what was read", path, seconds, exc
        )
    if not candidates:
        raise MediaError(f"{path}: the video holds no frames")
    budget = max(1, int(np.ceil(max(seconds, 1.0) / 60.0 * max_per_minute)))
    kept = sorted(candidates, key=lambda c: (-c[0], c[1]))[:budget]
    return [Keyframe(round(t, 2), image) for _, t, image in sorted(kept, key=lambda c: c[1])]


def _signature(image: Image.Image) -> np.ndarray:
    small = image.convert("RGB").resize((32, 32), Image.Resampling.BILINEAR)
    return np.asarray(small, dtype=np.float32) / 255.0


def format_moment(seconds: float) -> str:
    """A moment as people write it: 42 -> "0:42", 3725 -> "1:02:05"."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"
