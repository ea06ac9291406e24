"""The ``crossmedia`` command line: ingest, search, describe, correct, ask, eval, train, demo,
recommend."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from assistant.locales import LANGUAGES
from recsys.errors import RecsysError
from retrieval.errors import CrossmediaError
from ui.assistant_commands import (
    add_llm_options,
    cmd_ask,
    cmd_serve,
    serve_assistant,
    speech_to_text,
    speech_transcriber,
)
from ui.recommend_commands import add_recommend_parser, cmd_recommend
from ui.security.settings import SecuritySettings
from ui.settings import (
    API_KEYS_ENV,
    CHROMA_URL_ENV,
    DATABASE_URL_ENV,
    ENCODER_ENV,
    MAX_AUDIO_ENV,
    ORIGINS_ENV,
    SPEECH_ENGINE_ENV,
    SPEECH_MODEL_ENV,
    USER_HEADER_ENV,
    library_config,
    resolve_cache_dir,
    resolve_data_dir,
)

log = logging.getLogger("crossmedia")

DEMO_QUERIES = (
    "a frog",
    "a musical instrument",
    "something to eat",
    "a red car",
    "the planet Saturn",
)


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("crossmedia")
    except PackageNotFoundError:
        return "(not installed)"


def _speech(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--speech-engine",
        default=os.environ.get(SPEECH_ENGINE_ENV, "faster-whisper"),
        choices=["faster-whisper", "openai-whisper"],
    )
    parser.add_argument(
        "--speech-model",
        default=os.environ.get(SPEECH_MODEL_ENV, "tiny.en"),
        help="tiny.en (packaged), multilingual (packaged Whisper base), a model dir or id",
    )
    parser.add_argument("--compute-type", default="int8", help="faster-whisper: int8, float32, ...")
    parser.add_argument(
        "--max-audio-seconds",
        type=float,
        default=float(os.environ.get(MAX_AUDIO_ENV, 600)),
        help="refuse longer recordings (default 600 s)",
    )


def _serving(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on")
    parser.add_argument("--port", type=int, default=7860)
    parser.add_argument(
        "--concurrency", type=int, default=2, help="chat turns run at once (the rest queue)"
    )
    parser.add_argument(
        "--auth",
        nargs="*",
        default=[],
        metavar="USER:PASSWORD",
        type=_credential,
        help="require a login (Gradio auth); the login name is the user of every request",
    )
    parser.add_argument(
        "--api-key",
        action="append",
        default=[],
        metavar="KEY",
        help=f"a key API clients must send ('Authorization: Bearer KEY'); its holder may act "
        f"for any user it names (repeatable; also ${API_KEYS_ENV}, comma-separated)",
    )
    parser.add_argument(
        "--trust-user-header",
        metavar="HEADER",
        default=os.environ.get(USER_HEADER_ENV),
        help="take the user from this header, set by your reverse proxy (e.g. X-Forwarded-User)",
    )
    parser.add_argument(
        "--allow-origin",
        action="append",
        default=[],
        metavar="URL",
        help="another site whose pages may call this server, e.g. https://example.org "
        f"(repeatable; also ${ORIGINS_ENV}); default: this server's own pages only",
    )
    parser.add_argument(
        "--rate-limit",
        type=_non_negative,
        default=SecuritySettings.requests_per_minute,
        metavar="N",
        help="requests a minute per client (0: no limit)",
    )
    parser.add_argument(
        "--upload-limit",
        type=_non_negative,
        default=SecuritySettings.uploads_per_window,
        metavar="N",
        help="uploads per client in 10 minutes (0: no limit)",
    )
    parser.add_argument(
        "--cache-max-age",
        type=_positive,
        default=SecuritySettings.cache_max_age,
        metavar="SECONDS",
        help="delete uploaded and generated files older than this (default 3600)",
    )


def _non_negative(value: str) -> int:
    number = int(value)
    if number < 0:
        raise argparse.ArgumentTypeError(f"{value} is below 0")
    return number


def _positive(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value} must be 1 or more")
    return number


def _credential(value: str) -> tuple[str, str]:
    user, _, password = value.partition(":")
    if not user or not password:
        raise argparse.ArgumentTypeError(f"{value!r} is not USER:PASSWORD")
    return user, password


def _database(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--database-url",
        default=os.environ.get(DATABASE_URL_ENV),
        help="where events and chat history live: an SQLAlchemy URL such as "
        "postgresql+psycopg://user@host/db, shared by several serve processes "
        f"(also ${DATABASE_URL_ENV}; default: an SQLite file in the data directory)",
    )


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir", help="data directory (default: $CROSSMEDIA_HOME or the per-user folder)"
    )
    parser.add_argument(
        "--encoder",
        default=os.environ.get(ENCODER_ENV, "default"),
        help="encoder name: default (or default+embeddinggemma, the larger multilingual "
        "student, after fetch-model), conse, hf:<CLIP id or dir>, random[:dim]",
    )
    parser.add_argument(
        "--chroma-url",
        default=os.environ.get(CHROMA_URL_ENV),
        help="use a Chroma server instead of the embedded index",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log debug details")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="crossmedia", description="Cross-modal media search and assistant."
    )
    parser.add_argument("--version", action="version", version=f"crossmedia {_version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    ingest = sub.add_parser(
        "ingest", help="add a folder, image or JSONL/CSV manifest to the library"
    )
    ingest.add_argument("path")
    ingest.add_argument("--batch-size", type=int, default=32)
    ingest.add_argument(
        "--audio",
        choices=["all", "paired", "none"],
        default="all",
        help="which audio files of a folder to add (paired: sounds named like a picture)",
    )
    ingest.add_argument(
        "--ocr",
        choices=["gated", "all", "off"],
        default="gated",
        help="read the text in pictures where a detector sees some (default), in every "
        "picture (scans, screenshots), or not at all (faster)",
    )
    ingest.add_argument(
        "--no-describe",
        action="store_true",
        help="do not generate descriptions for pictures without a caption",
    )
    ingest.add_argument(
        "--ray",
        nargs="?",
        const="",
        metavar="ADDRESS",
        help="ingest with a pool of Ray workers (pip install 'crossmedia[ray]'); put it after "
        "the path. ADDRESS: auto, HOST:PORT or ray://HOST:PORT of a running cluster (then "
        "--chroma-url is needed); none starts a local cluster (docs/deployment-ray.md)",
    )
    ingest.add_argument(
        "--ray-workers",
        type=int,
        metavar="N",
        help="Ray workers, one CPU and one copy of the models each (default: every CPU of "
        "the cluster)",
    )
    ingest.add_argument("--json", action="store_true", help="print the summary as JSON")
    _common(ingest)
    _speech(ingest)

    search = sub.add_parser("search", help="search the library by text and/or image")
    search.add_argument("text", nargs="?", help="the text query")
    search.add_argument("--image", help="an image file to search with")
    search.add_argument("--audio", help="a spoken query: transcribed, then searched as text")
    search.add_argument("-k", type=_positive, default=5, help="how many results (default 5)")
    search.add_argument(
        "--modality",
        choices=["image", "text", "audio", "video"],
        help="only items of this modality",
    )
    search.add_argument(
        "--match",
        choices=["any", "content", "caption", "fused", "part"],
        default="any",
        help="match items by their content vector, their caption, their fused vector, their "
        "parts (a video's keyframes and speech), or any",
    )
    search.add_argument(
        "--language",
        help="the query's language (ISO 639-1: fr, zh, ...): read in it, and matched word for "
        "word with the items' captions in it",
    )
    search.add_argument("--json", action="store_true")
    _common(search)
    _speech(search)

    describe = sub.add_parser(
        "describe", help="what crossmedia would say about pictures that have no caption"
    )
    describe.add_argument("images", nargs="+", help="picture files")
    describe.add_argument("--text", help="text read in the picture (OCR), if any")
    describe.add_argument("--json", action="store_true")
    _common(describe)

    correct = sub.add_parser(
        "correct",
        help="correct a picture's description: it becomes the caption and a training pair",
    )
    correct.add_argument("item", help="the item id (crossmedia search --json lists them)")
    correct.add_argument("caption", help="what the picture shows, in a sentence")
    correct.add_argument("--json", action="store_true")
    _common(correct)

    corrections = sub.add_parser(
        "corrections",
        help="write every corrected description in the library as training pairs (JSONL)",
    )
    corrections.add_argument(
        "--out", help="the pairs file (default: DATA_DIR/corrections.jsonl)", default=None
    )
    _common(corrections)

    doctor = sub.add_parser(
        "doctor", help="check that everything the defaults need is installed, and how to fix it"
    )
    _common(doctor)
    _database(doctor)

    fetch = sub.add_parser(
        "fetch-model",
        help="download an opt-in packaged model from PyPI into the model cache (once)",
    )
    fetch.add_argument("model", choices=["embeddinggemma"])
    fetch.add_argument(
        "--data-dir", help="data directory (default: $CROSSMEDIA_HOME or the per-user folder)"
    )
    fetch.add_argument(
        "--cache-dir",
        help="model cache to fetch into (default: DATA_DIR/cache; the per-user cache is also "
        "searched when the model is loaded)",
    )

    transcribe = sub.add_parser("transcribe", help="speech to text with Whisper")
    transcribe.add_argument("file")
    transcribe.add_argument("--language", help="force a language (multilingual models detect it)")
    transcribe.add_argument("--json", action="store_true", help="text, language, segments, timing")
    _speech(transcribe)

    evaluate = sub.add_parser("eval", help="measure quality")
    eval_sub = evaluate.add_subparsers(dest="what", required=True)
    retrieval = eval_sub.add_parser("retrieval", help="Recall@K and median rank, both directions")
    source = retrieval.add_mutually_exclusive_group(required=True)
    source.add_argument("--dataset", choices=["tuxpaint"])
    source.add_argument("--pairs", help='JSONL lines {"image": path, "caption": text}')
    source.add_argument("--karpathy", help="a Karpathy-split dataset_*.json (needs --images)")
    retrieval.add_argument("--images", help="image root for --karpathy")
    retrieval.add_argument("--split", default="test", help="split to evaluate (default test)")
    retrieval.add_argument(
        "--grouping",
        choices=["folder", "caption"],
        default="folder",
        help="tuxpaint protocol: whole stamp folders on one side (default; the shipped heads "
        "never saw the test folders) or captions at random",
    )
    retrieval.add_argument(
        "--protocol",
        choices=["merged", "clip_benchmark"],
        default="merged",
        help="merged: identical captions are one query, ties go to the query (the project's "
        "tables so far); clip_benchmark: every caption of every image its own query, ties "
        "against (CLIP_benchmark / open_clip)",
    )
    retrieval.add_argument("--json", action="store_true")
    _common(retrieval)

    asr = eval_sub.add_parser("asr", help="WER, CER and real-time factor of speech recognition")
    asr.add_argument(
        "--manifest", required=True, help='JSONL lines {"audio": path, "text": reference}'
    )
    asr.add_argument("--language", default="en", help="language of the references (default en)")
    asr.add_argument("--json", action="store_true")
    _speech(asr)

    recsys = eval_sub.add_parser(
        "recsys",
        help="popularity, item-kNN, ALS, BPR, hybrid and two-tower on warm and cold protocols",
    )
    ratings = recsys.add_mutually_exclusive_group(required=True)
    ratings.add_argument("--dataset", choices=["ml-100k"])
    ratings.add_argument("--ratings", help="CSV with user,item,rating,timestamp")
    recsys.add_argument("--items", help="CSV with item and text columns (content for the hybrid)")
    recsys.add_argument("--seed", type=int, default=0)
    recsys.add_argument(
        "--protocols",
        default="warm,cold_items",
        help="comma-separated: warm, cold_items, cold_items_time, cold_users",
    )
    recsys.add_argument(
        "--models",
        default="popularity,itemknn,als,bpr,hybrid,twotower",
        help="comma-separated; also lightfm_tags, lightfm_content (bench/setup_lightfm.sh), "
        "genre_count, test_popularity_cheat",
    )
    recsys.add_argument("--json", action="store_true")
    _common(recsys)

    train = sub.add_parser("train", help="train the alignment heads on image-caption pairs")
    train.add_argument(
        "--out", required=True, help="folder for the trained heads, curve and checkpoint"
    )
    train.add_argument(
        "--pairs", nargs="*", default=[], help='JSONL files of {"image", "caption"} lines'
    )
    train.add_argument("--tuxpaint", action="store_true", help="add the Tux Paint TRAIN split")
    train.add_argument(
        "--openclipart",
        action="store_true",
        help="add Open Clip Art (apt-get install openclipart-svg), titles cleaned",
    )
    train.add_argument(
        "--openclipart-exclude",
        nargs="*",
        default=[],
        metavar="CATEGORY",
        help="Open Clip Art category folders to leave out (e.g. food, held out for few-shot)",
    )
    train.add_argument(
        "--dev-pairs", help="JSONL pairs to choose the epoch on (default: the Tux Paint DEV split)"
    )
    train.add_argument(
        "--init",
        help="start from trained heads: 'default' (the shipped ones) or a heads folder",
    )
    train.add_argument(
        "--half", action="store_true", help="store the heads in float16 (for packaging)"
    )
    train.add_argument(
        "--grouping",
        choices=["caption", "folder"],
        default="folder",
        help="Tux Paint split protocol (dev selection uses the same)",
    )
    train.add_argument("--loss", choices=["vsepp", "infonce"], default="vsepp")
    train.add_argument("--epochs", type=int, default=30)
    train.add_argument("--learning-rate", type=float, default=1e-4)
    train.add_argument("--weight-decay", type=float, default=1e-2)
    train.add_argument("--distill", type=float, default=0.0, help="weight of the distillation term")
    train.add_argument(
        "--adversarial", type=float, default=0.0, help="weight of the adversarial term"
    )
    train.add_argument("--seed", type=int, default=0)
    _common(train)

    ask = sub.add_parser(
        "ask", help="one chat turn: a grounded, cited answer, results and recommendations"
    )
    ask.add_argument("question", nargs="?", help="the question (optional with --image/--audio)")
    ask.add_argument("--image", nargs="*", help="image file(s) to ask about or with")
    ask.add_argument("--audio", help="a recording of the question")
    ask.add_argument("--json", action="store_true")
    ask.add_argument("--user", default="cli", help="whose recommendations and history")
    ask.add_argument(
        "--language",
        choices=LANGUAGES,
        help="the asker's language: the recording is heard in it (the multilingual Whisper for "
        "other languages than English), the question read in it, the answer given in it "
        "(default: told by what is said)",
    )
    _common(ask)
    _database(ask)
    _speech(ask)
    add_llm_options(ask)

    serve = sub.add_parser("serve", help="serve the chat app, its API and the widget page")
    serve.add_argument("--library", help="ingest this folder or manifest before serving")
    _serving(serve)
    _common(serve)
    _database(serve)
    _speech(serve)
    add_llm_options(serve)

    demo = sub.add_parser(
        "demo",
        help="ingest the packaged Tux Paint library (if the index is empty), show example "
        "searches and serve the chat app",
    )
    demo.add_argument("--library", help="folder to ingest instead of the Tux Paint stamps")
    demo.add_argument("--no-serve", action="store_true", help="stop after the example searches")
    _serving(demo)
    _common(demo)
    _database(demo)
    _speech(demo)
    add_llm_options(demo)
    add_recommend_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if getattr(args, "verbose", False) else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("httpx", "chromadb", "transformers", "urllib3", "faster_whisper"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    handlers = {
        "ingest": cmd_ingest,
        "search": cmd_search,
        "eval": cmd_eval,
        "demo": cmd_demo,
        "transcribe": cmd_transcribe,
        "train": cmd_train,
        "ask": cmd_ask,
        "serve": cmd_serve,
        "doctor": cmd_doctor,
        "fetch-model": cmd_fetch_model,
        "describe": cmd_describe,
        "correct": cmd_correct,
        "corrections": cmd_corrections,
        "recommend": cmd_recommend,
    }
    try:
        return handlers[args.command](args)
    except (CrossmediaError, RecsysError) as exc:
        print(f"crossmedia: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("crossmedia: interrupted", file=sys.stderr)
        return 130


def _library(args: argparse.Namespace):
    from retrieval.library import Library

    return Library(library_config(args))


def cmd_doctor(args: argparse.Namespace) -> int:
    from ui.doctor import diagnose, report

    return report(diagnose(resolve_data_dir(args.data_dir), args.chroma_url, args.database_url))


def cmd_fetch_model(args: argparse.Namespace) -> int:
    from retrieval.encoders.packaged_embeddinggemma import (
        EMBEDDINGGEMMA_WHEELS,
        fetch_chunked_wheels,
    )

    cache = Path(args.cache_dir) if args.cache_dir else None
    folder = fetch_chunked_wheels(
        EMBEDDINGGEMMA_WHEELS, cache or resolve_cache_dir(resolve_data_dir(args.data_dir))
    )
    print(f"{args.model}: {folder}")
    print("use it with --encoder default+embeddinggemma (or CROSSMEDIA_ENCODER)")
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    if args.ray is not None:
        return _ingest_on_ray(args)
    if args.ray_workers is not None:
        print("crossmedia: error: --ray-workers needs --ray", file=sys.stderr)
        return 2
    report = _library(args).ingest(
        args.path,
        progress=not args.json,
        batch_size=args.batch_size,
        audio=args.audio,
        transcribe=speech_to_text(args),
        ocr=args.ocr,
        describe=not args.no_describe,
    )
    print(json.dumps(report.to_dict()) if args.json else report.summary())
    return 0


def _ingest_on_ray(args: argparse.Namespace) -> int:
    """``ingest --ray``: the same pipeline on a pool of Ray workers; when some records were
    left (a worker died), what was done is printed before the error."""
    from retrieval.errors import IngestIncompleteError
    from retrieval.ray_ingest import IngestOptions, ingest_on_ray

    options = IngestOptions(
        batch_size=args.batch_size,
        transcribe=speech_to_text(args),
        ocr=args.ocr,
        describe=not args.no_describe,
    )
    try:
        report = ingest_on_ray(
            library_config(args),
            args.path,
            address=args.ray or None,
            workers=args.ray_workers,
            audio=args.audio,
            options=options,
            progress=not args.json,
        )
    except IngestIncompleteError as exc:
        done = {**exc.report.to_dict(), "unfinished": exc.unfinished}
        print(json.dumps(done) if args.json else exc.report.summary())
        raise
    print(json.dumps(report.to_dict()) if args.json else report.summary())
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from retrieval.errors import EmptyQueryError
    from retrieval.images import load_image

    heard = None
    if args.audio:
        heard = speech_transcriber(args).transcribe(args.audio, language=args.language)
        if not heard.is_speech:
            raise EmptyQueryError(f"{args.audio}: no speech was heard in the recording")
        args.text = " ".join(filter(None, [args.text, heard.text]))
    if not (args.text and args.text.strip()) and not args.image:
        raise EmptyQueryError("give a text query, --image FILE, --audio FILE, or a mix")
    image = load_image(args.image) if args.image else None
    from retrieval.index import VECTOR_KINDS

    kinds = VECTOR_KINDS if args.match == "any" else (args.match,)
    where = {"modality": args.modality} if args.modality else None
    language = args.language.lower() if args.language else None
    hits = _library(args).search(
        args.text, image, k=args.k, where=where, kinds=kinds, language=language
    )
    if args.json:
        query = {
            "text": args.text,
            "image": args.image,
            "audio": args.audio,
            "heard": heard.text if heard else None,
        }
        print(json.dumps({"query": query, "results": [h.to_dict() for h in hits]}))
    else:
        if heard:
            print(f'heard: "{heard.text}"')
        _print_hits(hits)
    return 0


def cmd_describe(args: argparse.Namespace) -> int:
    from retrieval.describe import describe_batch
    from retrieval.encoders import load_encoder
    from retrieval.images import load_image

    encoder = load_encoder(
        args.encoder, cache_dir=resolve_cache_dir(resolve_data_dir(args.data_dir))
    )
    paths = [Path(p) for p in args.images]
    images = [load_image(p) for p in paths]
    folders = [p.resolve().parent.name for p in paths]
    described = describe_batch(encoder, images, paths, folders, [args.text or ""] * len(paths))
    for path, description in zip(paths, described.descriptions, strict=True):
        if args.json:
            print(json.dumps({"image": str(path), **description.metadata()}, ensure_ascii=False))
        else:
            print(f"{path}: {description.text or '(nothing confident to say)'}")
    return 0


def cmd_correct(args: argparse.Namespace) -> int:
    from retrieval.corrections import correct_caption

    library = _library(args)
    done = correct_caption(
        library.index, library.encoder, args.item, args.caption, library.config.data_dir
    )
    if args.json:
        print(
            json.dumps(
                {
                    "item": done.item.id,
                    "caption": done.item.caption,
                    "train_command": done.train_command,
                },
                ensure_ascii=False,
            )
        )
        return 0
    print(f"{done.item.id}: the caption is now “{done.item.caption}”")
    print(f"to adapt the encoder to every correction in the library: {done.train_command}")
    return 0


def cmd_corrections(args: argparse.Namespace) -> int:
    from retrieval.corrections import export_pairs, pairs_file

    library = _library(args)
    out = Path(args.out) if args.out else pairs_file(library.config.data_dir)
    written = export_pairs(library.index, out)
    print(f"wrote {written} corrected description{'s' * (written != 1)} to {out}")
    return 0


def cmd_transcribe(args: argparse.Namespace) -> int:
    transcript = speech_transcriber(args).transcribe(args.file, language=args.language)
    if args.json:
        print(json.dumps(transcript.to_dict()))
    elif transcript.is_speech:
        print(transcript.text)
    else:
        print("(no speech heard)", file=sys.stderr)
    return 0


def _print_hits(hits) -> None:
    from retrieval.video import format_moment

    if not hits:
        print("  (no results: the library is empty; run 'crossmedia ingest PATH' first)")
    for rank, hit in enumerate(hits, 1):
        caption = hit.caption or Path(hit.uri).name
        where = f" at {format_moment(hit.moment)}" if hit.moment is not None else ""
        said = f" (“{hit.part_text}”)" if hit.part_text else ""
        print(
            f"  {rank:2d}. {hit.score:.3f}  {caption}{where}{said}  "
            f"[{hit.modality}, by {hit.part or hit.matched}]  {hit.uri}  id={hit.item_id}"
        )


def cmd_eval(args: argparse.Namespace) -> int:
    if args.what == "recsys":
        return cmd_eval_recsys(args)
    if args.what == "asr":
        return cmd_eval_asr(args)
    from retrieval.encoders import load_encoder
    from retrieval.evaluate import RetrievalEvaluator

    pairs = _eval_pairs(args)
    encoder = load_encoder(
        args.encoder, cache_dir=resolve_cache_dir(resolve_data_dir(args.data_dir))
    )
    result = RetrievalEvaluator(pairs, progress=not args.json).run(encoder, args.protocol)
    result["encoder"] = encoder.name
    result["dataset"] = pairs.name
    if args.json:
        print(json.dumps(result))
        return 0
    print(
        f"{pairs.name}: {result['n_images']} images, {result['n_captions']} captions, "
        f"encoder {encoder.name}"
    )
    for direction in ("text_to_image", "image_to_text"):
        m = result[direction]
        print(
            f"  {direction:14s} R@1 {m['R@1']:5.1f}  R@5 {m['R@5']:5.1f}  R@10 {m['R@10']:5.1f}  "
            f"median rank {m['median_rank']:g}  mean rank {m['mean_rank']:g}"
        )
    return 0


def cmd_eval_asr(args: argparse.Namespace) -> int:
    from assistant.speech.evaluate import evaluate_asr, load_asr_manifest

    transcriber = speech_transcriber(args)
    utterances = load_asr_manifest(args.manifest)
    result = evaluate_asr(transcriber, utterances, args.language, progress=not args.json)
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"{result['n']} clips, {result['audio_seconds']} s, {result['model']}: "
            f"WER {result['wer']:.2%}  CER {result['cer']:.2%}  RTF {result['rtf']:.3f}"
        )
    return 0


def cmd_eval_recsys(args: argparse.Namespace) -> int:
    from recsys.datasets import load_movielens_100k, load_ratings_csv
    from recsys.evaluation import Protocol, evaluate
    from retrieval.encoders import load_encoder

    if args.dataset == "ml-100k":
        dataset = load_movielens_100k()
    else:
        dataset = load_ratings_csv(args.ratings, args.items)
    encoder = load_encoder(
        args.encoder, cache_dir=resolve_cache_dir(resolve_data_dir(args.data_dir))
    )
    protocols = [p.strip() for p in args.protocols.split(",") if p.strip()]
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    try:
        report = evaluate(
            dataset,
            encoder.encode_texts,
            Protocol(seed=args.seed),
            progress=not args.json,
            protocols=protocols,
            models=models,
        )
    except ValueError as exc:
        raise RecsysError(str(exc)) from None
    report["content_encoder"] = encoder.name
    if args.json:
        print(json.dumps(report))
        return 0
    print(f"{dataset.name}: {report['protocol']['implicit_feedback']}; content: {encoder.name}")
    for label in protocols:
        print(f"\n{label}: {report['protocol'][label]}")
        print("  model                   P@10    R@10  nDCG@10  MAP@10   cover  fit+score s")
        for model, m in report[label].items():
            if "skipped" in m:
                print(f"  {model:20s} skipped: {m['skipped']}")
                continue
            print(
                f"  {model:20s} {m['precision@10']:7.4f} {m['recall@10']:7.4f} "
                f"{m['ndcg@10']:8.4f} {m['map@10']:7.4f} {m['coverage@10']:7.4f} "
                f"{m['fit_and_score_s']:8.2f}"
            )
    if "blend" in report:
        cf_share = report["blend"]["chosen"]["max_cf_weight"]
        print(f"\nhybrid CF share chosen on validation: {cf_share}")
    return 0


def _eval_pairs(args: argparse.Namespace):
    from retrieval.errors import DatasetError

    if args.dataset == "tuxpaint":
        from retrieval.datasets.tuxpaint import load_tuxpaint

        if args.split not in ("train", "dev", "test", "all"):
            raise DatasetError("the tuxpaint splits are train, dev, test and all")
        return load_tuxpaint(args.split, grouping=args.grouping)
    if args.pairs:
        from retrieval.datasets.pairs import load_pairs_jsonl

        return load_pairs_jsonl(args.pairs)
    from retrieval.datasets.karpathy import load_karpathy

    if not args.images:
        raise DatasetError(
            "--karpathy needs --images DIR (the folder the file names are relative to)"
        )
    return load_karpathy(args.karpathy, args.images, args.split)


def cmd_train(args: argparse.Namespace) -> int:
    from retrieval.datasets.pairs import load_pairs_jsonl
    from retrieval.datasets.tuxpaint import load_tuxpaint
    from retrieval.encoders.conse import ConSEConfig
    from retrieval.encoders.registry import build_conse, heads_dir
    from retrieval.errors import DatasetError
    from retrieval.training.features import concat_features, pair_features
    from retrieval.training.model import AlignedHeads
    from retrieval.training.trainer import TrainConfig, evaluate_heads, train_heads

    if not (args.pairs or args.tuxpaint or args.openclipart):
        raise DatasetError("give training pairs: --pairs FILE.jsonl ..., --tuxpaint, --openclipart")
    cache = resolve_cache_dir(resolve_data_dir(args.data_dir))
    conse = build_conse(ConSEConfig(), cache)
    sources = [load_pairs_jsonl(p) for p in args.pairs]
    if args.tuxpaint:
        sources.append(load_tuxpaint("train", grouping=args.grouping))
    if args.openclipart:
        from retrieval.datasets.openclipart import load_openclipart

        sources.append(load_openclipart(exclude=args.openclipart_exclude))
    train = concat_features([pair_features(s, conse, cache) for s in sources])
    if args.dev_pairs:
        dev = pair_features(load_pairs_jsonl(args.dev_pairs), conse, cache)
    elif args.tuxpaint:
        dev = pair_features(load_tuxpaint("dev", grouping=args.grouping), conse, cache)
    else:
        dev = None
    config = TrainConfig(
        loss=args.loss,
        epochs=args.epochs,
        learning_rate=args.learning_rate,
        weight_decay=args.weight_decay,
        distill_weight=args.distill,
        adversarial_weight=args.adversarial,
        seed=args.seed,
    )
    init = AlignedHeads.load(heads_dir(args.init)) if args.init else None
    if init is not None and dev is not None:
        m = evaluate_heads(init, dev)
        print(
            f"before: dev R@10 text->image {m['text_to_image']['R@10']:.1f}, "
            f"image->text {m['image_to_text']['R@10']:.1f}"
        )
    heads, history = train_heads(train, config, args.out, dev=dev, init=init, half=args.half)
    print(f"trained heads in {args.out} ({len(history)} epochs): use --encoder trained:{args.out}")
    if dev is not None:
        m = evaluate_heads(heads, dev)
        t2i, i2t = m["text_to_image"]["R@10"], m["image_to_text"]["R@10"]
        print(f"dev R@10: text->image {t2i:.1f}, image->text {i2t:.1f}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from retrieval.datasets.tuxpaint import captioned_stamps, stamps_dir
    from retrieval.images import load_image

    root = Path(args.library) if args.library else stamps_dir()
    library = _library(args)
    if args.library or library.index.count() == 0:
        print(f"Ingesting {root} ...")
        report = library.ingest(root, audio="paired", transcribe=speech_to_text(args))
        print(report.summary().splitlines()[0])
    print(f"The library holds {library.index.count()} items.\n")
    for text in DEMO_QUERIES:
        print(f'search "{text}":')
        _print_hits(library.search(text, k=5))
    if not args.library:
        probe = next((p for p, c in captioned_stamps(root) if "frog" in c.lower()), None)
        if probe:
            print(f"\nsearch by image {probe} (images only):")
            _print_hits(library.search(image=load_image(probe), k=5, kinds=("content",)))
        print('\nsearch "a rooster" (sounds only):')
        _print_hits(library.search("a rooster", k=3, where={"modality": "audio"}))
    print(
        '\nTry: crossmedia search "a red bird"  or  crossmedia search --image PICTURE.png'
        "  or  crossmedia search --audio QUESTION.wav"
    )
    if args.no_serve:
        return 0
    print(f"\nStarting the chat app on http://{args.host}:{args.port}/ (Ctrl+C stops it)")
    return serve_assistant(args, library)


if __name__ == "__main__":
    raise SystemExit(main())
