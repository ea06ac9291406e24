"""llama.cpp (xllamacpp) as the GGUF runtime: a tiny random Llama written here as a GGUF file,
and the packaged SmolLM2 itself (it loads in about a second)."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.errors import LLMError
from assistant.llamacpp import LlamaCppLLM, default_threads
from assistant.llm import LLMSettings, load_llm, packaged_gguf, parse_llm_setting
from tests.tiny_gguf import write_tiny_llama


@pytest.fixture(scope="module")
def tiny_gguf(tmp_path_factory) -> Path:
    return write_tiny_llama(packaged_gguf(), tmp_path_factory.mktemp("gguf") / "tiny.gguf")


def test_a_gguf_file_loads_generates_streams_and_obeys_a_grammar(tiny_gguf, tmp_path):
    llm = load_llm(parse_llm_setting(f"gguf:{tiny_gguf}", max_new_tokens=6), tmp_path)
    assert isinstance(llm, LlamaCppLLM) and llm.path == str(tiny_gguf)
    text = llm.invoke("The library holds")
    assert text.strip()  # a random model still writes tokens
    assert "".join(llm.stream("The library holds")) == text  # greedy: the same text, in pieces
    for _ in range(3):  # whatever the random weights prefer, the grammar decides the form
        assert llm.invoke("Is there a frog?", grammar='root ::= ("yes" | "no") " [1]"') in (
            "yes [1]",
            "no [1]",
        )


def test_bad_gguf_paths_are_refused_with_a_reason(tmp_path):
    with pytest.raises(LLMError, match="no GGUF model"):
        load_llm(LLMSettings(provider="gguf", model=str(tmp_path / "missing.gguf")), tmp_path)
    text = tmp_path / "notes.gguf"
    text.write_text("not a model")
    with pytest.raises(LLMError, match="not a GGUF model file"):
        load_llm(LLMSettings(provider="gguf", model=str(text)), tmp_path)
    with pytest.raises(LLMError, match="needs a model name"):
        parse_llm_setting("gguf:")


def test_thread_count_fits_the_machine():
    import os

    assert 1 <= default_threads() <= max(1, len(os.sched_getaffinity(0)) // 2)


@pytest.mark.slow
def test_the_packaged_model_runs_in_llama_cpp_and_answers_a_grounded_question(tmp_path):
    llm = load_llm(LLMSettings(max_new_tokens=24), tmp_path)
    assert isinstance(llm, LlamaCppLLM) and llm.path == str(packaged_gguf())
    prompt = (
        "Items:\n[1] A black cat. (image)\n[2] A tractor. (image)\n"
        "Question: Do you have a cat?\nAnswer:"
    )
    grammar = 'root ::= "Yes, I have " ("a black cat [1]" | "a tractor [2]") "."'
    assert llm.invoke(prompt, stop=["\n"], grammar=grammar) == "Yes, I have a black cat [1]."


def _chunk_packages(root: Path, source: Path, parts: int) -> tuple:
    """``source`` split into ``parts`` importable chunk packages under ``root``, as the opt-in
    models ship; returns their (module, path, sha256) entries."""
    import hashlib

    data = source.read_bytes()
    size = -(-len(data) // parts)
    chunks = []
    for n in range(parts):
        module = f"tiny_chunk_part{n + 1}"
        piece = data[n * size : (n + 1) * size]
        (root / module / "data").mkdir(parents=True)
        (root / module / "__init__.py").write_text("")
        (root / module / "data" / f"part{n + 1:02d}.bin").write_bytes(piece)
        chunks.append((module, f"data/part{n + 1:02d}.bin", hashlib.sha256(piece).hexdigest()))
    return tuple(chunks)


def test_a_chunked_packaged_gguf_is_verified_joined_once_and_loaded(
    tiny_gguf, tmp_path, monkeypatch
):
    import hashlib

    from assistant.packaged_llms import CHUNKED_GGUFS, ChunkedGGUF, joined_gguf

    packages = tmp_path / "site"
    monkeypatch.syspath_prepend(str(packages))
    chunks = _chunk_packages(packages, tiny_gguf, 3)
    data = tiny_gguf.read_bytes()
    model = ChunkedGGUF("tiny", "made in this test", "llm-tiny", chunks, len(data),
                        hashlib.sha256(data).hexdigest())  # fmt: skip
    monkeypatch.setitem(CHUNKED_GGUFS, "tiny", model)
    cache = tmp_path / "cache"
    joined = joined_gguf(model, cache)
    assert joined.read_bytes() == data and not list(cache.glob("*.partial"))
    llm = load_llm(parse_llm_setting("packaged:tiny", max_new_tokens=4), cache)
    assert isinstance(llm, LlamaCppLLM) and llm.path == str(joined) and llm.invoke("Hi")

    joined.unlink()
    (packages / "tiny_chunk_part2" / "data" / "part02.bin").write_bytes(b"tampered")
    with pytest.raises(LLMError, match="pinned SHA-256"):
        joined_gguf(model, cache)
    assert not joined.exists()
    missing = ChunkedGGUF("gone", "", "llm-gone", (("no_such_chunk_pkg", "a.bin", "0"),), 1, "0")
    with pytest.raises(LLMError, match=r'pip install "\.\[llm-gone\]"'):
        joined_gguf(missing, cache)
    with pytest.raises(LLMError, match=r"qwen2\.5-coder-1\.5b"):
        parse_llm_setting("packaged:no-such-model")
