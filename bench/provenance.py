"""What every bench result records about how it was made: the encoder, the code, the command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()


def code_version() -> str:
    """The git commit of the working tree, with ``+dirty`` when it has uncommitted changes."""
    try:
        commit = _git("rev-parse", "--short=12", "HEAD")
        dirty = _git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return commit + ("+dirty" if dirty else "")


def provenance(encoder: str, command: str | None = None) -> dict:
    """The ``provenance`` block of a result file: ``encoder`` is the encoder's name (``none``
    for a bench that embeds nothing, ``trained in this run`` for one that trains its own);
    ``command`` is the documented command line, to which the arguments given are added."""
    base = command or f"python {Path(sys.argv[0]).as_posix()}"
    return {
        "encoder": encoder,
        "code_version": code_version(),
        "command": " ".join([base, *sys.argv[1:]]),
    }
