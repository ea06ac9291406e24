"""Settings read once at the edge: the data directory and where the index lives."""

from __future__ import annotations

import os
from argparse import Namespace
from pathlib import Path
from typing import TYPE_CHECKING

from platformdirs import user_data_dir

if TYPE_CHECKING:
    from retrieval.library import LibraryConfig
    from ui.security.settings import SecuritySettings

HOME_ENV = "CROSSMEDIA_HOME"
CHROMA_URL_ENV = "CROSSMEDIA_CHROMA_URL"
DATABASE_URL_ENV = "CROSSMEDIA_DATABASE_URL"
ENCODER_ENV = "CROSSMEDIA_ENCODER"
CACHE_ENV = "CROSSMEDIA_CACHE_DIR"
SPEECH_ENGINE_ENV = "CROSSMEDIA_SPEECH_ENGINE"
SPEECH_MODEL_ENV = "CROSSMEDIA_SPEECH_MODEL"
MAX_AUDIO_ENV = "CROSSMEDIA_MAX_AUDIO_SECONDS"
RECSYS_MODELS_ENV = "CROSSMEDIA_RECSYS_MODELS"


def resolve_data_dir(flag: str | None = None) -> Path:
    """``--data-dir`` beats ``$CROSSMEDIA_HOME``, which beats the per-user data folder."""
    chosen = flag or os.environ.get(HOME_ENV) or user_data_dir("crossmedia")
    return Path(chosen).expanduser().resolve()


def resolve_cache_dir(data_dir: Path) -> Path:
    """Model cache: ``$CROSSMEDIA_CACHE_DIR`` (shared between libraries) or ``DATA_DIR/cache``."""
    shared = os.environ.get(CACHE_ENV)
    return Path(shared).expanduser().resolve() if shared else data_dir / "cache"


API_KEYS_ENV = "CROSSMEDIA_API_KEYS"
ORIGINS_ENV = "CROSSMEDIA_ALLOWED_ORIGINS"
USER_HEADER_ENV = "CROSSMEDIA_TRUST_USER_HEADER"
LLM_ENV = "CROSSMEDIA_LLM"
LLM_API_KEY_ENV = "CROSSMEDIA_LLM_API_KEY"


def library_config(args: Namespace) -> LibraryConfig:
    """The library the command-line options name (``--data-dir``, ``--encoder``,
    ``--chroma-url``), with the model cache resolved as above."""
    from retrieval.library import LibraryConfig

    data_dir = resolve_data_dir(args.data_dir)
    return LibraryConfig(data_dir, args.encoder, args.chroma_url, resolve_cache_dir(data_dir))


def _listed(env: str) -> list[str]:
    return [v.strip() for v in os.environ.get(env, "").split(",") if v.strip()]


def security_settings(args: Namespace) -> SecuritySettings:
    """The server's security settings from ``serve``/``demo`` options and the environment
    (``$CROSSMEDIA_API_KEYS``, ``$CROSSMEDIA_ALLOWED_ORIGINS``, comma-separated)."""
    from ui.security.middleware import normalise_origin
    from ui.security.settings import SecuritySettings

    try:
        origins = tuple(normalise_origin(o) for o in [*args.allow_origin, *_listed(ORIGINS_ENV)])
    except ValueError as exc:
        from ui.security.errors import AccessError

        raise AccessError(f"--allow-origin: {exc}") from None
    return SecuritySettings(
        auth=tuple(args.auth or ()),
        api_keys=tuple(dict.fromkeys([*args.api_key, *_listed(API_KEYS_ENV)])),
        trusted_user_header=args.trust_user_header or None,
        allowed_origins=origins,
        requests_per_minute=args.rate_limit,
        uploads_per_window=args.upload_limit,
        cache_max_age=args.cache_max_age,
        cache_sweep_every=min(args.cache_max_age, SecuritySettings.cache_sweep_every),
    )


def resolve_snapshot_dir(flag: str | None, data_dir: Path) -> Path:
    """Where fitted recommender models live: ``--models`` beats ``$CROSSMEDIA_RECSYS_MODELS``
    (a folder every app process can read, e.g. a shared volume), which beats
    ``DATA_DIR/recsys-models``."""
    from recsys.snapshots import SNAPSHOT_DIRNAME

    chosen = flag or os.environ.get(RECSYS_MODELS_ENV)
    return Path(chosen).expanduser().resolve() if chosen else data_dir / SNAPSHOT_DIRNAME
