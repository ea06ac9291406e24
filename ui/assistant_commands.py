"""CLI pieces for the assistant: the LLM and speech options shared by ``ask`` and ``serve``,
building the Assistant from them, and the ``ask`` command."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TYPE_CHECKING

from ui.settings import LLM_API_KEY_ENV, LLM_ENV, resolve_cache_dir, resolve_data_dir

if TYPE_CHECKING:
    from assistant.service import Assistant


def add_llm_options(parser: argparse.ArgumentParser) -> None:
    """``--llm`` and ``--user`` for commands that run chat turns."""
    parser.add_argument(
        "--llm",
        default=os.environ.get(LLM_ENV, "packaged"),
        help="packaged (SmolLM2-135M, offline), hf:<hub id or folder>, or "
        "openai:<model>@<base url> for an OpenAI-compatible server ($CROSSMEDIA_LLM)",
    )
    parser.add_argument("--max-new-tokens", type=int, default=40)
    parser.add_argument("--user", default="cli", help="whose recommendations and history")


def build_assistant(args: argparse.Namespace) -> Assistant:
    """An Assistant from parsed CLI options (the edge where settings are read)."""
    from assistant.llm import parse_llm_setting
    from assistant.service import Assistant, AssistantConfig
    from retrieval.library import Library, LibraryConfig

    data_dir = resolve_data_dir(args.data_dir)
    library_config = LibraryConfig(
        data_dir, args.encoder, args.chroma_url, resolve_cache_dir(data_dir)
    )
    llm = parse_llm_setting(
        args.llm,
        api_key=os.environ.get(LLM_API_KEY_ENV),
        max_new_tokens=args.max_new_tokens,
    )
    config = AssistantConfig(
        library=library_config,
        llm=llm,
        speech_engine=args.speech_engine,
        speech_model=args.speech_model,
        max_audio_seconds=args.max_audio_seconds,
    )
    return Assistant(config, library=Library(library_config))


def cmd_ask(args: argparse.Namespace) -> int:
    """One turn: print the answer with its citations, the results and the recommendations."""
    assistant = build_assistant(args)
    if not args.json:
        for update in assistant.stream_turn(
            args.user, "cli", args.question, args.image or (), args.audio
        ):
            if update.kind == "reply":
                print("\n" + update.value.render())
        return 0
    reply = assistant.turn(args.user, "cli", args.question, args.image or (), args.audio)
    json.dump(reply.to_dict(), sys.stdout, ensure_ascii=False, indent=2)
    print()
    return 0


def serve_assistant(args: argparse.Namespace) -> int:
    """Serve the chat app for the library the options name (blocks until interrupted)."""
    from ui.server import serve

    assistant = build_assistant(args)
    serve(assistant, args.host, args.port, args.concurrency, args.auth or None)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """``crossmedia serve``: ingest ``--library`` if given, then serve."""
    if args.library:
        from retrieval.library import Library, LibraryConfig

        data_dir = resolve_data_dir(args.data_dir)
        library = Library(
            LibraryConfig(data_dir, args.encoder, args.chroma_url, resolve_cache_dir(data_dir))
        )
        print(library.ingest(args.library).summary().splitlines()[0])
    return serve_assistant(args)
