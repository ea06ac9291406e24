"""Settings read once at the edge: the data directory and where the index lives."""

from __future__ import annotations

import os
from argparse import Namespace
from pathlib import Path
from typing import TYPE_CHECKING

from platformdirs import user_data_dir

if TYPE_CHECKING:
    from retrieval.library import LibraryConfig

HOME_ENV = "CROSSMEDIA_HOME"
CHROMA_URL_ENV = "CROSSMEDIA_CHROMA_URL"
ENCODER_ENV = "CROSSMEDIA_ENCODER"
CACHE_ENV = "CROSSMEDIA_CACHE_DIR"
SPEECH_ENGINE_ENV = "CROSSMEDIA_SPEECH_ENGINE"
SPEECH_MODEL_ENV = "CROSSMEDIA_SPEECH_MODEL"
MAX_AUDIO_ENV = "CROSSMEDIA_MAX_AUDIO_SECONDS"


def resolve_data_dir(flag: str | None = None) -> Path:
    """``--data-dir`` beats ``$CROSSMEDIA_HOME``, which beats the per-user data folder."""
    chosen = flag or os.environ.get(HOME_ENV) or user_data_dir("crossmedia")
    return Path(chosen).expanduser().resolve()


def resolve_cache_dir(data_dir: Path) -> Path:
    """Model cache: ``$CROSSMEDIA_CACHE_DIR`` (shared between libraries) or ``DATA_DIR/cache``."""
    shared = os.environ.get(CACHE_ENV)
    return Path(shared).expanduser().resolve() if shared else data_dir / "cache"


LLM_ENV = "CROSSMEDIA_LLM"
LLM_API_KEY_ENV = "CROSSMEDIA_LLM_API_KEY"


def library_config(args: Namespace) -> LibraryConfig:
    """The library the command-line options name (``--data-dir``, ``--encoder``,
    ``--chroma-url``), with the model cache resolved as above."""
    from retrieval.library import LibraryConfig

    data_dir = resolve_data_dir(args.data_dir)
    return LibraryConfig(data_dir, args.encoder, args.chroma_url, resolve_cache_dir(data_dir))
