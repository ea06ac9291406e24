"""ASGI middleware in front of the whole server: which pages may call it (origins) and how much
one client may ask of it (requests per minute, uploads per window, upload bytes in total).

Refusals are JSON ``{"detail": ...}`` with the HTTP status a client expects (403, 411, 413,
429 with ``Retry-After``, 507) and a sentence that says what to do. A single file over the size
limit is refused by Gradio itself (``max_file_size``), per file, not here."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from typing import Any
from urllib.parse import urlsplit

import anyio

from ui.security.settings import SecuritySettings
from ui.security.uploads import is_inside_uploads, upload_root
from ui.security.usage import MemoryUsage, UsageLedger

log = logging.getLogger("crossmedia.requests")
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
UPLOAD_SUFFIX = "/gradio_api/upload"
API_PREFIX = "/gradio_api/"
ALL_UPLOAD_BYTES = "upload-bytes *"  # every client's uploads together
MAX_CALL_BODY = 4 * 1024 * 1024  # an event's JSON (a long text at most); files go by upload


def normalise_origin(origin: str) -> str:
    """``https://Example.org:443/`` -> ``https://example.org`` (scheme, host, non-default port)."""
    parts = urlsplit(origin.strip())
    if not parts.scheme or not parts.hostname:
        raise ValueError(f"{origin!r} is not an origin such as https://example.org")
    default = {"http": 80, "https": 443}.get(parts.scheme)
    port = f":{parts.port}" if parts.port and parts.port != default else ""
    return f"{parts.scheme}://{parts.hostname.lower()}{port}"


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}


async def _refuse(send: Send, status: int, detail: str, extra: dict[str, str] | None = None):
    body = json.dumps({"detail": detail, "error": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.encode(), v.encode()) for k, v in (extra or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class OriginGuard:
    """Refuses any request whose ``Origin`` is neither the server's own nor an allowed one, so
    another site (another port on localhost included) cannot call the API with a visitor's
    login cookie, nor post to it blind. Requests without ``Origin`` (API clients, navigation)
    pass; the login and API checks behind decide about them."""

    def __init__(self, app: ASGIApp, allowed_origins: tuple[str, ...] = ()):
        self.app = app
        self.allowed = {normalise_origin(o) for o in allowed_origins}

    def _same_origin(self, origin: str, scope: Scope, headers: dict[str, str]) -> bool:
        host = headers.get("host", "")
        scheme = "https" if scope.get("scheme") in ("https", "wss") else "http"
        try:
            return normalise_origin(origin) == normalise_origin(f"{scheme}://{host}")
        except ValueError:
            return False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        origin = headers.get("origin")
        if origin is None or self._same_origin(origin, scope, headers):
            await self.app(scope, receive, send)
            return
        try:
            allowed = normalise_origin(origin) in self.allowed
        except ValueError:
            allowed = False
        if allowed:
            await self.app(scope, receive, send)
            return
        log.info("refused a request from origin %s to %s", origin[:100], scope.get("path"))
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        await _refuse(
            send,
            403,
            f"pages from {origin[:100]} may not use this server; its operator can allow them "
            "with --allow-origin",
        )


class ClientLimits:
    """Per-client request rate and upload quotas, and a cap on upload bytes for all clients.

    A client is its proxy-given user name when a trusted header is set, else its address.
    ``usage`` counts what clients used: this process's memory by default, or the database the
    replicas share (``SharedUsage``), so that every replica applies one limit together."""

    def __init__(
        self,
        app: ASGIApp,
        settings: SecuritySettings,
        usage: UsageLedger | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self.app = app
        self.settings = settings
        self.usage = usage if usage is not None else MemoryUsage()
        self.clock = clock
        self._forgotten = clock()

    def client_of(self, scope: Scope, headers: dict[str, str]) -> str:
        header = self.settings.trusted_user_header
        if header and headers.get(header.lower()):
            return "user:" + headers[header.lower()]
        client = scope.get("client")
        return "addr:" + (client[0] if client else "unknown")

    async def _call(self, work: Callable[..., Any], *args: Any) -> Any:
        """``work(*args)``, off the event loop where the ledger waits on a database."""
        if self.usage.blocking:
            return await anyio.to_thread.run_sync(work, *args)
        return work(*args)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        client = self.client_of(scope, headers)
        is_upload = scope["path"].rstrip("/").endswith(UPLOAD_SUFFIX)
        refusal = await self._call(self._refusal, client, headers, is_upload)
        if refusal is not None:
            status, detail, extra = refusal
            log.info("refused %s %s for %s: %s", scope["method"], scope["path"], client, detail)
            await _refuse(send, status, detail, extra)
            return
        if not is_upload:
            await self.app(scope, receive, send)
            return
        await self.app(scope, receive, self._counting_uploads(send, client))

    def _refusal(
        self, client: str, headers: dict[str, str], is_upload: bool
    ) -> tuple[int, str, dict] | None:
        now = self.clock()
        self._forget_old(now)
        refusal = self._rate_refusal(client, now)
        if refusal is None and is_upload:
            refusal = self._upload_refusal(client, headers, now)
        return refusal

    def _forget_old(self, now: float) -> None:
        """Drop what no window reaches any more (bounded memory, a small table)."""
        if now - self._forgotten < 60.0:
            return
        self._forgotten = now
        self.usage.forget_before(now - max(60.0, float(self.settings.window_seconds)))

    def _rate_refusal(self, client: str, now: float) -> tuple[int, str, dict] | None:
        limit = self.settings.requests_per_minute
        if not limit:
            return None
        key, since = "requests " + client, now - 60.0
        if self.usage.total(key, since) >= limit:
            oldest = self.usage.oldest(key, since)
            wait = max(1, int(60 - (now - (oldest if oldest is not None else now))) + 1)
            return (
                429,
                f"too many requests ({limit} a minute); wait {wait} s and try again",
                {"retry-after": str(wait)},
            )
        self.usage.add(key, now)
        return None

    def _upload_refusal(
        self, client: str, headers: dict[str, str], now: float
    ) -> tuple[int, str, dict] | None:
        s = self.settings
        since = now - float(s.window_seconds)
        try:
            size = int(headers["content-length"])
        except (KeyError, ValueError):
            return 411, "an upload must state its size (Content-Length)", {}
        minutes = max(1, s.window_seconds // 60)
        if s.uploads_per_window and self.usage.total("upload-files " + client, since) >= (
            s.uploads_per_window
        ):
            return (
                429,
                f"too many uploads ({s.uploads_per_window} in {minutes} minutes); wait and retry",
                {"retry-after": "60"},
            )
        if s.upload_bytes_per_window and (
            self.usage.total("upload-bytes " + client, since) + size > s.upload_bytes_per_window
        ):
            return (
                429,
                f"upload quota used up ({s.upload_bytes_per_window // 2**20} MB in {minutes} "
                "minutes); wait and retry",
                {"retry-after": "60"},
            )
        if s.total_upload_bytes_per_window and (
            self.usage.total(ALL_UPLOAD_BYTES, since) + size > s.total_upload_bytes_per_window
        ):
            return 507, "the server takes no more uploads for now; try again later", {}
        self.usage.add("upload-bytes " + client, now, size)
        self.usage.add(ALL_UPLOAD_BYTES, now, size)
        return None

    def _counting_uploads(self, send: Send, client: str) -> Send:
        """Counts the files a successful upload stored (Gradio answers with their list)."""
        state = {"ok": False, "body": b""}

        async def counting(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["ok"] = message["status"] == 200
            elif message["type"] == "http.response.body" and state["ok"]:
                state["body"] += message.get("body", b"")
                if not message.get("more_body"):
                    try:
                        stored = len(json.loads(state["body"]))
                    except (ValueError, TypeError):
                        stored = 1
                    await self._call(
                        self.usage.add, "upload-files " + client, self.clock(), max(1, stored)
                    )
            await send(message)

        return counting


def _named_paths(value: Any) -> Iterator[str]:
    """Every ``path`` named by a file argument anywhere in an event's data."""
    if isinstance(value, dict):
        if isinstance(value.get("path"), str):
            yield value["path"]
        for inner in value.values():
            yield from _named_paths(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _named_paths(inner)


class UploadsOnly:
    """Refuses, before Gradio reads it, any event whose data names a file outside the upload
    cache: a server path, ``..``, a link out of the cache or a URL (which Gradio would fetch).
    Files reach the server only through the upload route."""

    def __init__(self, app: ASGIApp):
        self.app = app
        self.root = upload_root()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or API_PREFIX not in path
            or path.rstrip("/").endswith(UPLOAD_SUFFIX)
        ):
            await self.app(scope, receive, send)
            return
        body, more = b"", True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > MAX_CALL_BODY:
                await _refuse(send, 413, "the request is too large; send files by upload")
                return
        try:
            data = json.loads(body) if body else None
        except ValueError:
            data = None
        outside = [p for p in _named_paths(data) if not is_inside_uploads(p, self.root)]
        if outside:
            log.info("refused a file argument outside the uploads: %s", outside[0][:200])
            await _refuse(
                send, 400, "only files uploaded to this server can be used; upload the file first"
            )
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)
