"""Slideshow clips made from real pictures and recordings: a test set for video items.

Each scene shows one picture for a few seconds while its recorded description plays; the clip's
scene start times are the truth a moment search is checked against.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

AUDIO_RATE = 48_000
BACKGROUNDS = ((250, 250, 250), (225, 235, 245), (245, 235, 215), (230, 245, 230), (240, 228, 240))


@dataclass(frozen=True)
class Scene:
    """One picture shown for ``seconds``; ``sound`` (any audio file) starts ``sound_at`` seconds
    into the scene."""

    picture: Path
    seconds: float = 5.0
    sound: Path | None = None
    sound_at: float = 0.5


def scene_starts(scenes: list[Scene]) -> list[float]:
    """The time each scene starts at in the clip."""
    return [float(t) for t in np.cumsum([0.0] + [s.seconds for s in scenes])[:-1]]


def make_slideshow(
    out: Path, scenes: list[Scene], size: tuple[int, int] = (320, 240), fps: int = 10
) -> Path:
    """Write an MP4 (H.264, and AAC when any scene has a sound) showing the scenes in order."""
    import av

    from retrieval.images import load_image

    starts = scene_starts(scenes)
    total = sum(s.seconds for s in scenes)
    with av.open(str(out), mode="w") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height = size
        video.pix_fmt = "yuv420p"
        video.options = {"preset": "veryfast"}
        audio = None
        if any(s.sound for s in scenes):
            audio = container.add_stream("aac", rate=AUDIO_RATE)
            audio.layout = "mono"
        for number, scene in enumerate(scenes):
            frame = _scene_frame(load_image(scene.picture), size, BACKGROUNDS[number % 5])
            for _ in range(round(scene.seconds * fps)):
                container.mux(video.encode(av.VideoFrame.from_image(frame)))
        container.mux(video.encode(None))
        if audio is not None:
            track = np.zeros(int(total * AUDIO_RATE), dtype=np.float32)
            for start, scene in zip(starts, scenes, strict=True):
                if scene.sound:
                    samples = _decode_mono(scene.sound)
                    at = int((start + scene.sound_at) * AUDIO_RATE)
                    samples = samples[: max(0, len(track) - at)]
                    track[at : at + len(samples)] += samples
            _write_audio(container, audio, np.clip(track, -1, 1))
    return out


def _scene_frame(picture: Image.Image, size: tuple[int, int], ground: tuple) -> Image.Image:
    canvas = Image.new("RGB", size, ground)
    picture = ImageOps.contain(picture.convert("RGBA"), (int(size[0] * 0.9), int(size[1] * 0.9)))
    canvas.paste(
        picture, ((size[0] - picture.width) // 2, (size[1] - picture.height) // 2), picture
    )
    return canvas


def _decode_mono(path: Path) -> np.ndarray:
    import av

    resampler = av.AudioResampler(format="flt", layout="mono", rate=AUDIO_RATE)
    chunks = []
    with av.open(str(path)) as container:
        for frame in container.decode(audio=0):
            chunks += [out.to_ndarray().reshape(-1) for out in resampler.resample(frame)]
        chunks += [out.to_ndarray().reshape(-1) for out in resampler.resample(None)]
    return np.concatenate(chunks) if chunks else np.zeros(0, np.float32)


def _write_audio(container, stream, track: np.ndarray, chunk: int = 1024) -> None:
    import av

    for start in range(0, len(track), chunk):
        piece = track[start : start + chunk].astype(np.float32)[None, :]
        frame = av.AudioFrame.from_ndarray(piece, format="flt", layout="mono")
        frame.sample_rate = AUDIO_RATE
        frame.pts = start
        frame.time_base = Fraction(1, AUDIO_RATE)
        container.mux(stream.encode(frame))
    container.mux(stream.encode(None))
