"""CLI pieces for the assistant: the LLM and speech options shared by ``ask`` and ``serve``,
building the Assistant from them, and the ``ask`` command."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from ui.settings import (
    LLM_API_KEY_ENV,
    LLM_ENV,
    library_config,
    resolve_snapshot_dir,
    security_settings,
)

if TYPE_CHECKING:
    from assistant.service import Assistant
    from assistant.speech import Transcript
    from retrieval.library import Library


def add_llm_options(parser: argparse.ArgumentParser) -> None:
    """``--llm`` and its generation length, for commands that run chat turns."""
    parser.add_argument(
        "--llm",
        default=os.environ.get(LLM_ENV, "packaged"),
        help="packaged (SmolLM2-135M in llama.cpp, offline), gguf:<file.gguf>, "
        "hf:<hub id or folder>, or openai:<model>@<base url> for an OpenAI-compatible server "
        "($CROSSMEDIA_LLM)",
    )
    parser.add_argument("--max-new-tokens", type=int, default=96)
    parser.add_argument(
        "--llm-threads",
        type=int,
        default=None,
        help="llama.cpp threads for GGUF models (default: half the CPUs; 1 on 2 cores)",
    )


def build_assistant(args: argparse.Namespace, library: Library | None = None) -> Assistant:
    """An Assistant from parsed CLI options (the edge where settings are read), over
    ``library`` when the command already opened it."""
    from assistant.llm import parse_llm_setting
    from assistant.service import Assistant, AssistantConfig
    from retrieval.library import Library

    library_settings = library.config if library else library_config(args)
    config = AssistantConfig(
        library=library_settings,
        llm=parse_llm_setting(
            args.llm,
            api_key=os.environ.get(LLM_API_KEY_ENV),
            max_new_tokens=args.max_new_tokens,
            threads=args.llm_threads,
        ),
        speech_engine=args.speech_engine,
        speech_model=args.speech_model,
        speech_compute_type=args.compute_type,
        max_audio_seconds=args.max_audio_seconds,
        database_url=args.database_url,
        recommender_snapshots=resolve_snapshot_dir(None, library_settings.data_dir),
    )
    return Assistant(config, library=library or Library(config.library))


def cmd_ask(args: argparse.Namespace) -> int:
    """One turn: print the answer with its citations, the results and the recommendations."""
    reply = build_assistant(args).turn(
        args.user, "cli", args.question, args.image or (), args.audio, language=args.language
    )
    if args.json:
        json.dump(reply.to_dict(), sys.stdout, ensure_ascii=False, indent=2)
        print()
    else:
        print("\n" + reply.render())
    return 0


def serve_assistant(args: argparse.Namespace, library: Library | None = None) -> int:
    """Serve the chat app for the library the options name (blocks until interrupted)."""
    from ui.server import serve

    security = security_settings(args)
    assistant = build_assistant(args, library)
    serve(assistant, args.host, args.port, args.concurrency, security)
    return 0


def speech_transcriber(args: argparse.Namespace):
    """The speech model the ``--speech-*`` options name (loaded now)."""
    from assistant.speech import load_transcriber

    return load_transcriber(
        args.speech_engine, args.speech_model, args.compute_type, args.max_audio_seconds
    )


def speech_to_text(args: argparse.Namespace) -> Callable[[Path], Transcript]:
    """path -> what was heard (text and timed segments), loading the speech model only when
    the first audio or video file comes."""

    def transcribe(path: Path) -> Transcript:
        return speech_transcriber(args).transcribe(path)

    return transcribe


def cmd_serve(args: argparse.Namespace) -> int:
    """``crossmedia serve``: ingest ``--library`` if given, then serve."""
    library = None
    if args.library:
        from retrieval.library import Library

        library = Library(library_config(args))
        report = library.ingest(args.library, transcribe=speech_to_text(args))
        print(report.summary().splitlines()[0])
    return serve_assistant(args, library)
