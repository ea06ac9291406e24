"""Sidecar captions: ``NAME.txt`` beside ``NAME.png``, first line English (the Tux Paint layout)."""

from __future__ import annotations

from pathlib import Path

MAX_CAPTION_CHARS = 2000


def sidecar_caption(media_path: Path) -> str:
    """Return the first non-empty line of the media file's ``.txt`` sidecar, or ``""``.

    A sidecar whose first line is a translation (``xx.utf8=...``) yields ``""``.
    """
    sidecar = media_path.with_suffix(".txt")
    if not sidecar.is_file():
        return ""
    try:
        with sidecar.open(encoding="utf-8", errors="replace") as handle:
            for line in handle:
                line = line.strip()
                if line:
                    return "" if ".utf8=" in line.split(" ")[0] else line[:MAX_CAPTION_CHARS]
    except OSError:
        return ""
    return ""
