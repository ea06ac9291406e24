"""Serving the chat app: one process, models loaded once at start, a bounded queue, the
security edge (origins, per-client limits, uploads only, identity from the request), the
library's media by item id, spoken answers by key, and the widget's host page and loader next
to the app."""

from __future__ import annotations

import functools
import logging
import mimetypes
import re
import time
from importlib.resources import files
from pathlib import Path
from typing import Any

import gradio as gr
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, PlainTextResponse
from starlette.middleware.cors import CORSMiddleware
from starlette.routing import Mount

from assistant.errors import SpeechError
from assistant.service import Assistant
from assistant.speech.shared import SharedSpokenTexts
from assistant.speech.tts import Speaker, program_path
from ui.app import PAGE_CSS, THEME, build_app
from ui.public import MEDIA_ROUTE
from ui.security.identity import Identity, shared_secret
from ui.security.logins import share_logins
from ui.security.middleware import ClientLimits, OriginGuard, UploadsOnly
from ui.security.settings import SecuritySettings
from ui.security.usage import SharedUsage
from ui.speech import SPEECH_ROUTE

log = logging.getLogger(__name__)
WIDGET_PAGE = Path(__file__).parent / "widget" / "index.html"
STOP_GRACE_S = 2  # seconds a running request may finish in after a stop was asked for


@functools.cache
def _frontend_entry() -> str:
    """The hashed frontend asset the packaged ``gradio.js`` imports (read once)."""
    packaged = (files("gradio") / "templates" / "frontend" / "gradio.js").read_text()
    match = re.search(r"""import\(["']\./(assets/[^"']+)["']\)""", packaged)
    if match is None:
        raise RuntimeError("this Gradio version ships no web component loader")
    return match.group(1)


def gradio_loader_script(origin: str) -> str:
    """The web component loader pointing at this server's own copy of Gradio's frontend."""
    return f'import("{origin.rstrip("/")}/{_frontend_entry()}");\n'


def _gradio_app(app: FastAPI):
    """The Gradio sub-application mounted in ``app``."""
    from gradio.routes import App

    return next(r.app for r in app.routes if isinstance(r, Mount) and isinstance(r.app, App))


def create_server(
    assistant: Assistant,
    concurrency: int = 2,
    queue_size: int = 64,
    security: SecuritySettings | None = None,
) -> FastAPI:
    """The FastAPI app: the chat at ``/``, library media at ``/media/<item id>``, answers'
    audio at ``/speech/<key>.wav``, the widget host page at ``/widget/`` and the web component
    loader at ``/widget/gradio.js``."""
    security = security or SecuritySettings()
    started = time.perf_counter()
    assistant.warm_up()
    log.info("models loaded in %.1f s", time.perf_counter() - started)
    identity = Identity(security)
    secret = shared_secret(assistant.store.engine, assistant.config.library.data_dir)
    sweep = (security.cache_sweep_every, security.cache_max_age)
    speaker = _speaker(
        assistant.config.library.data_dir / "speech", SharedSpokenTexts(assistant.store.engine)
    )
    demo = build_app(
        assistant, identity, secret, delete_cache=sweep if all(sweep) else None, speaker=speaker
    )
    demo.queue(default_concurrency_limit=concurrency, max_size=queue_size)
    app = FastAPI(title="crossmedia", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/widget/gradio.js")
    def widget_loader(request: Request) -> PlainTextResponse:
        return PlainTextResponse(
            gradio_loader_script(str(request.base_url)), media_type="text/javascript"
        )

    @app.get("/widget/")
    def widget_page() -> HTMLResponse:
        return HTMLResponse(WIDGET_PAGE.read_text())

    @app.get(MEDIA_ROUTE + "{item_id}")
    def media(item_id: str, request: Request) -> FileResponse:
        """A library item's file, by id: no request can name any other file."""
        _require_signed_in(app, request, security, identity)
        known = re.fullmatch(r"[0-9a-f]{32}", item_id) is not None
        item = assistant.library.index.get(item_id) if known else None
        if item is None or not item.uri or not Path(item.uri).is_file():
            raise HTTPException(404, "no such item")
        kind = mimetypes.guess_type(item.uri)[0] or "application/octet-stream"
        return FileResponse(item.uri, media_type=kind, headers={"cache-control": "private"})

    @app.get(SPEECH_ROUTE + "{key}.wav")
    def speech(key: str, request: Request) -> FileResponse:
        """An answer's audio, by the key its Listen button carries: synthesised on first
        request, then from the cache. No request can make the server say anything else."""
        _require_signed_in(app, request, security, identity)
        if speaker is None:
            raise HTTPException(404, "this server cannot speak: espeak-ng is not installed")
        try:
            spoken = speaker.audio(key)
        except SpeechError as exc:
            raise HTTPException(404, str(exc)) from None
        private = {"cache-control": "private"}
        return FileResponse(spoken.path, media_type="audio/wav", headers=private)

    gr.mount_gradio_app(
        app,
        demo,
        path="/",
        theme=THEME,
        css=PAGE_CSS,
        max_file_size=security.max_file_size,
        auth=list(security.auth) or None,
        footer_links=["api"],
        show_error=True,
    )
    # gr.mount_gradio_app never marks the Blocks as launched, and until it is, Gradio's
    # preprocessing copies ANY server path named in a FileData argument into its cache (and
    # serves it). Launched, it accepts only files in its upload folder (ui.security.uploads
    # checks the same again in every handler).
    demo.has_launched = True
    # Logins made on any replica count on every other (Gradio keeps them per process).
    share_logins(_gradio_app(app), assistant.store.engine, secret)
    # Our CORS policy replaces Gradio's, which lets any localhost origin call with cookies.
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(security.allowed_origins),
        allow_credentials=True,
        allow_methods=["GET", "POST", "OPTIONS"],
        allow_headers=["*"],
    )
    app.add_middleware(UploadsOnly)
    # Counted in the shared database: N replicas give a client its limits once, not N times.
    app.add_middleware(ClientLimits, settings=security, usage=SharedUsage(assistant.store.engine))
    app.add_middleware(OriginGuard, allowed_origins=security.allowed_origins)
    app.state.demo = demo
    return app


def _speaker(cache_dir: Path, shared: SharedSpokenTexts) -> Speaker | None:
    """The answers' speaker, or None (and a warning saying how to fix it) without espeak-ng."""
    try:
        program_path()
    except SpeechError as exc:
        log.warning("answers have no Listen button: %s", exc)
        return None
    return Speaker(cache_dir, shared=shared)


def stop_gradio(app: FastAPI) -> None:
    """Close Gradio's queue and end its heartbeat streams, which would otherwise keep every
    open tab's connection (and so the server) alive long after a stop was asked for."""
    demo = getattr(app.state, "demo", None)
    if demo is None:
        return
    try:
        demo._queue.close()
    except Exception as exc:  # stopping anyway
        log.debug("closing the queue: %s", exc)
    demo.is_running = False
    _gradio_app(app).stop_event.set()


def _require_signed_in(
    app: FastAPI, request: Request, security: SecuritySettings, identity: Identity
) -> None:
    """Media of a server with logins, a proxy or API keys is for its signed-in users only."""
    if identity.has_valid_key(request):
        return
    if security.trusted_user_header and not request.headers.get(security.trusted_user_header):
        raise HTTPException(401, "sign in through the site first")
    if security.auth:
        gradio_app = _gradio_app(app)
        cookie = request.cookies.get(f"access-token-{gradio_app.cookie_id}") or request.cookies.get(
            f"access-token-unsecure-{gradio_app.cookie_id}"
        )
        if gradio_app.tokens.get(cookie) is None:
            raise HTTPException(401, "sign in first")
    elif security.api_keys and not security.trusted_user_header:
        raise HTTPException(401, "this server's media need an API key")


def serve(
    assistant: Assistant,
    host: str = "127.0.0.1",
    port: int = 7860,
    concurrency: int = 2,
    security: SecuritySettings | None = None,
) -> None:
    """Run the server until interrupted."""
    import uvicorn

    app = create_server(assistant, concurrency=concurrency, security=security)
    log.info("serving the chat on http://%s:%d/ (widget host page: /widget/)", host, port)

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: Any) -> None:
            log.info("stopping (signal %d): closing the queue and open streams", sig)
            stop_gradio(app)
            super().handle_exit(sig, frame)

    config = uvicorn.Config(
        app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=STOP_GRACE_S
    )
    Server(config).run()
