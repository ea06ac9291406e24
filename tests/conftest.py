"""Shared fixtures. Everything runs offline on the real packaged models and a real Chroma."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image, ImageDraw


@pytest.fixture(scope="session")
def model_cache(tmp_path_factory) -> Path:
    """One model cache for the whole run (unpacked MiniLM, ConSE class embeddings)."""
    return tmp_path_factory.mktemp("model-cache")


@pytest.fixture(scope="session")
def default_encoder(model_cache):
    """The real offline default encoder, loaded once."""
    from retrieval.encoders import load_encoder

    return load_encoder("default", cache_dir=model_cache)


@pytest.fixture(scope="session")
def stamps_root() -> Path:
    """The Tux Paint stamps (installed by setup.sh / .ci/run)."""
    from retrieval.datasets.tuxpaint import stamps_dir

    return stamps_dir()


SERVED_KEYWORDS = (
    "frog", "badger", "guitar", "banana", "saturn", "duck", "tractor", "sheep", "apple",
    "rocket", "violin", "penguin", "cactus", "strawberry", "bicycle", "owl",
)  # fmt: skip


@pytest.fixture(scope="session")
def served_library(tmp_path_factory, stamps_root) -> Path:
    """A few Tux Paint stamps with their captions (sidecar .txt files) one of their sounds and one
    spoken description, for served apps."""
    import shutil

    from retrieval.datasets.tuxpaint import captioned_stamps

    root = tmp_path_factory.mktemp("served-library")
    stamps = [(p, c) for p, c in captioned_stamps(stamps_root) if p.suffix == ".png"]
    for keyword in SERVED_KEYWORDS:
        found = next(((p, c) for p, c in stamps if keyword in c.lower()), None)
        if found:
            shutil.copy(found[0], root / found[0].name)
            # the whole sidecar: its English caption and its translations
            shutil.copy(found[0].with_suffix(".txt"), root / f"{found[0].stem}.txt")
    croak = next(p for p, _ in stamps if p.stem == "frog").with_suffix(".ogg")
    shutil.copy(croak, root / "croaking-frog.ogg")  # one sound among the pictures
    (root / "croaking-frog.txt").write_text("A frog croaking.\n")
    said = next(p for p, _ in stamps if p.stem == "frog").with_name("frog_desc.ogg")
    shutil.copy(said, root / "frog-said.ogg")  # and one recording of words: "A frog."
    (root / "frog-said.txt").write_text("“A frog”, said aloud.\n")
    return root


def draw_picture(path: Path, colour: str = "red", size: tuple[int, int] = (64, 48), **save) -> Path:
    """Write a small picture with a shape on it, in the format the suffix names."""
    image = Image.new("RGB", size, "white")
    ImageDraw.Draw(image).ellipse((8, 8, size[0] - 8, size[1] - 8), fill=colour)
    image.save(path, **save)
    return path


@pytest.fixture
def run(tmp_path, model_cache):
    """Run the crossmedia command in a fresh data directory; fails the test on a non-zero exit
    unless ``check=False``."""
    env = {
        **os.environ,
        "CROSSMEDIA_HOME": str(tmp_path / "home"),
        "CROSSMEDIA_CACHE_DIR": str(model_cache),
    }

    def crossmedia(*args: str, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run(
            [sys.executable, "-m", "ui.cli", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"crossmedia {args} failed:\n{result.stderr[-2000:]}")
        return result

    return crossmedia


def speak(text: str, path: Path, voice: str = "en-us", speed: int = 150) -> Path:
    """Synthesise a clip with espeak-ng (22.05 kHz mono WAV)."""
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(path), text], check=True)
    return path


@pytest.fixture(scope="session")
def postgres():
    """One real PostgreSQL server for the run (tests/postgres.py); skipped where the server
    binaries are not installed."""
    from tests.postgres import PostgresUnavailable, postgres_server

    try:
        with postgres_server() as server:
            yield server
    except PostgresUnavailable as exc:
        pytest.skip(f"PostgreSQL tests need its server binaries: {exc}")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> str:
    """A new, empty database: an SQLite file, then a database on the real PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'interactions.sqlite'}"
    return request.getfixturevalue("postgres").create_database()
