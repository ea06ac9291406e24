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
