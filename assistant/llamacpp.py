"""GGUF models through llama.cpp (the ``xllamacpp`` binding: a prebuilt wheel, no compiler) as a
LangChain LLM: string prompt in, completion out, with stop strings and, where the caller gives
one, a GBNF grammar that constrains what the model may write.

The packaged SmolLM2-135M loads in about a second and generates 30-90 tokens/s on 2 cores
(transformers: about 30 s to load and 10 tokens/s). llama.cpp's worker threads spin while they
wait, so on a small shared machine one thread is faster than two fighting for the cores: the
default thread count is half the usable CPUs, at least 1 and at most 8.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models.llms import LLM
from langchain_core.outputs import GenerationChunk
from pydantic import ConfigDict

from assistant.errors import LLMError
from retrieval.cpus import usable_cpus

log = logging.getLogger(__name__)
CONTEXT_TOKENS = 2048


def default_threads() -> int:
    """Threads for llama.cpp: half the CPUs this process may use (1 on a 2-core machine)."""
    return max(1, min(8, usable_cpus() // 2))


def start_server(path: Path, threads: int | None = None, context: int = CONTEXT_TOKENS) -> Any:
    """An in-process llama.cpp server over the GGUF file at ``path`` (logging quiet)."""
    try:
        import xllamacpp
    except ImportError as exc:
        raise LLMError(
            "GGUF models need llama.cpp's binding: pip install xllamacpp (setup.sh installs it)"
        ) from exc
    path = Path(path)
    if not path.is_file():
        raise LLMError(f"no GGUF model at {path}: give the path of a .gguf file")
    with path.open("rb") as handle:
        if handle.read(4) != b"GGUF":
            raise LLMError(f"{path} is not a GGUF model file (it does not start with 'GGUF')")
    n = threads or default_threads()
    params = xllamacpp.CommonParams()
    params.model.path = str(path)
    params.n_ctx = context
    params.cpuparams.n_threads = n
    params.cpuparams_batch.n_threads = n
    params.warmup = False
    params.verbosity = -1  # llama.cpp prints every slot's timings otherwise
    try:
        server = xllamacpp.Server(params)
    except Exception as exc:  # the binding raises plain RuntimeErrors
        raise LLMError(f"llama.cpp cannot load {path.name}: {exc}") from exc
    log.info("llama.cpp loaded %s (%d thread%s)", path.name, n, "" if n == 1 else "s")
    return server


class LlamaCppLLM(LLM):
    """A GGUF model served in-process by llama.cpp. ``invoke(prompt, stop=[...],
    grammar="root ::= ...")``: greedy unless ``temperature`` > 0."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    server: Any
    path: str
    max_new_tokens: int = 96
    temperature: float = 0.0
    supports_grammar: bool = True

    @property
    def _llm_type(self) -> str:
        return "llama.cpp"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model": self.path, "max_new_tokens": self.max_new_tokens}

    def _request(self, prompt: str, stop: list[str] | None, grammar: str | None) -> dict:
        request: dict[str, Any] = {
            "prompt": prompt,
            "max_tokens": self.max_new_tokens,
            "temperature": self.temperature,
            "cache_prompt": True,
        }
        if stop:
            request["stop"] = stop
        if grammar:
            request["grammar"] = grammar
        return request

    def _call(
        self,
        prompt: str,
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        grammar: str | None = None,
        **kwargs: Any,
    ) -> str:
        response = self.server.handle_completions(self._request(prompt, stop, grammar))
        return _text_of(response)

    def _stream(
        self,
        prompt: str,
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        grammar: str | None = None,
        **kwargs: Any,
    ) -> Iterator[GenerationChunk]:
        chunks: list[str] = []
        failures: list[Any] = []
        done = threading.Event()
        arrived = threading.Condition()

        def collect(event: Any) -> None:
            with arrived:
                if isinstance(event, dict) and "error" in event:
                    failures.append(event["error"])
                elif isinstance(event, dict):
                    chunks.append(_text_of(event))
                arrived.notify()

        def work() -> None:
            try:
                request = {**self._request(prompt, stop, grammar), "stream": True}
                self.server.handle_completions(request, collect)
            except Exception as exc:  # surfaced in the caller's thread below
                failures.append(exc)
            finally:
                done.set()
                with arrived:
                    arrived.notify()

        threading.Thread(target=work, name="llama-cpp-generate", daemon=True).start()
        sent = 0
        while True:
            with arrived:
                while sent == len(chunks) and not done.is_set():
                    arrived.wait(timeout=1.0)
                fresh, sent = chunks[sent:], len(chunks)
            for text in fresh:
                if text:
                    if run_manager:
                        run_manager.on_llm_new_token(text)
                    yield GenerationChunk(text=text)
            if done.is_set() and sent == len(chunks):
                break
        if failures:
            raise LLMError(f"the LLM failed to generate: {failures[0]}")


def _text_of(response: Any) -> str:
    if isinstance(response, dict) and "error" in response:
        raise LLMError(f"the LLM failed to generate: {response['error']}")
    try:
        return response["choices"][0].get("text") or ""
    except (KeyError, IndexError, TypeError) as exc:
        raise LLMError(f"llama.cpp answered in an unexpected form: {response!r:.200}") from exc
