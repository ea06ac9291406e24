"""Serving the chat app: one process, models loaded once at start, a bounded queue, an upload
size limit, and the widget's host page and loader next to the app."""

from __future__ import annotations

import functools
import logging
import re
import time
from importlib.resources import files
from pathlib import Path

import gradio as gr
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, PlainTextResponse

from assistant.service import Assistant
from ui.app import THEME, build_app

log = logging.getLogger(__name__)
WIDGET_PAGE = Path(__file__).parent / "widget" / "index.html"
MAX_UPLOAD = "25mb"


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


def create_server(
    assistant: Assistant,
    concurrency: int = 2,
    queue_size: int = 64,
    auth: list[tuple[str, str]] | None = None,
) -> FastAPI:
    """The FastAPI app: the chat at ``/``, the widget host page at ``/widget/`` and the web
    component loader at ``/widget/gradio.js``."""
    started = time.perf_counter()
    assistant.warm_up()
    log.info("models loaded in %.1f s", time.perf_counter() - started)
    demo = build_app(assistant).queue(default_concurrency_limit=concurrency, max_size=queue_size)
    app = FastAPI(title="crossmedia")

    @app.get("/widget/gradio.js")
    def widget_loader(request: Request) -> PlainTextResponse:
        script = gradio_loader_script(str(request.base_url))
        return PlainTextResponse(  # loaded as a module by other sites: CORS must allow them
            script, media_type="text/javascript", headers={"Access-Control-Allow-Origin": "*"}
        )

    @app.get("/widget/")
    def widget_page() -> HTMLResponse:
        return HTMLResponse(WIDGET_PAGE.read_text())

    return gr.mount_gradio_app(
        app,
        demo,
        path="/",
        theme=THEME,
        max_file_size=MAX_UPLOAD,
        auth=auth,
        footer_links=["api"],
    )


def serve(
    assistant: Assistant,
    host: str = "127.0.0.1",
    port: int = 7860,
    concurrency: int = 2,
    auth: list[tuple[str, str]] | None = None,
) -> None:
    """Run the server until interrupted."""
    import uvicorn

    app = create_server(assistant, concurrency=concurrency, auth=auth)
    log.info("serving the chat on http://%s:%d/ (widget host page: /widget/)", host, port)
    uvicorn.run(app, host=host, port=port, log_level="warning")
