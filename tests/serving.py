"""Real ``crossmedia serve`` processes for the tests, and raw-HTTP calls of Gradio endpoints
(what an attacker or a non-Python client sends, without gradio_client's help)."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    """A running server: its URL, data directory, Gradio upload folder, log file and process."""

    url: str
    home: Path
    uploads: Path
    log: Path
    process: subprocess.Popen | None = None

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def served(
    workdir: Path, library: Path, model_cache: Path, *flags: str, port: int | None = None
) -> Iterator[Server]:
    """``crossmedia serve --library LIBRARY FLAGS`` in its own process, its own data directory
    and upload folder; stopped (and its single model load checked) at the end."""
    port = port or free_port()
    home, uploads = workdir / "home", workdir / "uploads"
    home.mkdir(parents=True, exist_ok=True)
    uploads.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "CROSSMEDIA_HOME": str(home), "CROSSMEDIA_CACHE_DIR": str(model_cache),
           "GRADIO_TEMP_DIR": str(uploads)}  # fmt: skip
    log_path = workdir / "server.log"
    log = open(log_path, "w")  # noqa: SIM115 - closed below
    command = [sys.executable, "-m", "ui.cli", "serve", "--library", str(library),
               "--port", str(port), *flags]  # fmt: skip
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 240
    while True:
        try:
            urllib.request.urlopen(url + "/gradio_api/info", timeout=2)
            break
        except urllib.error.HTTPError:  # up, but wants a login
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                log.close()
                raise AssertionError("server did not start:\n" + log_path.read_text()) from None
            time.sleep(1)
    try:
        yield Server(url, home, uploads, log_path, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:  # a worker thread still busy: stop it the hard way
            process.kill()
            process.wait(timeout=30)
        log.close()
    assert log_path.read_text().count("models loaded in") == 1


@dataclass
class ChromaServer:
    """A running Chroma server: its URL and process."""

    url: str
    process: subprocess.Popen

    def stop(self) -> None:
        """Stop the server (it can be started again on the same port and data)."""
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)


@contextmanager
def chroma_served(workdir: Path, port: int | None = None) -> Iterator[ChromaServer]:
    """A real Chroma server (the ``chroma`` program chromadb installs) on loopback, keeping its
    data in ``workdir/server-data``; stopped at the end."""
    import shutil

    import pytest

    chroma = shutil.which("chroma") or shutil.which("chroma", path=str(Path(sys.executable).parent))
    if chroma is None:
        pytest.skip("the chroma server program is not installed")
    port = port or free_port()
    log_path = workdir / "chroma.log"
    log = open(log_path, "a")  # noqa: SIM115 - closed below
    command = [chroma, "run", "--path", str(workdir / "server-data"),
               "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
    server = ChromaServer(
        f"http://127.0.0.1:{port}",
        subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT),
    )
    try:
        for _ in range(150):
            if server.process.poll() is not None:
                raise AssertionError("the Chroma server stopped:\n" + log_path.read_text()[-800:])
            try:
                urllib.request.urlopen(f"{server.url}/api/v2/heartbeat", timeout=1)
                break
            except OSError:
                time.sleep(0.2)
        else:
            raise AssertionError("the Chroma server did not start:\n" + log_path.read_text()[-800:])
        yield server
    finally:
        server.stop()
        log.close()


def file_data(path: str | Path) -> dict[str, Any]:
    """A FileData argument naming ``path`` (what an attacker sends instead of an upload)."""
    return {"path": str(path), "meta": {"_type": "gradio.FileData"}}


def call(
    client: httpx.Client, url: str, api_name: str, data: list, headers: dict | None = None
) -> tuple[str, Any]:
    """POST ``/gradio_api/call/NAME`` and read its result stream: ("complete", outputs) or
    ("error", message) — or ("refused", (status, body)) when the server refused the POST."""
    response = client.post(
        f"{url}/gradio_api/call/{api_name}", json={"data": data}, headers=headers or {}
    )
    if response.status_code == 400 and "upload" in response.text:  # refused before Gradio
        return "error", response.json()["detail"]
    if response.status_code != 200:
        return "refused", (response.status_code, response.text)
    event_id = response.json()["event_id"]
    stream = client.get(f"{url}/gradio_api/call/{api_name}/{event_id}", headers=headers or {})
    event, payload = "", None
    for line in stream.text.splitlines():
        if line.startswith("event: "):
            event = line[7:].strip()
        elif line.startswith("data: ") and event in ("complete", "error"):
            payload = json.loads(line[6:])
            if event == "error" and isinstance(payload, dict):
                payload = payload.get("error")
            return event, payload
    return event or "none", stream.text


def call_page_handler(client: httpx.Client, url: str, fn_index: int, data: list) -> dict:
    """Run a page (private) event handler through the queue as the browser does; returns the
    final ``process_completed`` message."""
    session = uuid.uuid4().hex
    joined = client.post(
        f"{url}/gradio_api/queue/join",
        json={"data": data, "fn_index": fn_index, "session_hash": session,
              "event_data": None, "trigger_id": None},
    )  # fmt: skip
    if joined.status_code != 200:
        return {"msg": "refused", "status": joined.status_code, "detail": joined.json()}
    with client.stream(
        "GET", f"{url}/gradio_api/queue/data", params={"session_hash": session}, timeout=120
    ) as stream:
        for line in stream.iter_lines():
            if line.startswith("data: "):
                message = json.loads(line[6:])
                if message.get("msg") == "process_completed":
                    return message
    raise AssertionError("the queue closed without completing the event")


def page_handler_index(client: httpx.Client, url: str, input_elem_id: str) -> int:
    """The fn_index of the page event whose first input is the component with this elem_id."""
    config = client.get(f"{url}/config").json()
    ids = {
        c["id"] for c in config["components"] if c.get("props", {}).get("elem_id") == input_elem_id
    }
    for index, dependency in enumerate(config["dependencies"]):
        if dependency["inputs"] and dependency["inputs"][0] in ids:
            return dependency.get("id", index)
    raise AssertionError(f"no event takes #{input_elem_id}")


def login(url: str, user: str, password: str) -> httpx.Client:
    """An httpx client holding a login cookie."""
    client = httpx.Client(timeout=120)
    response = client.post(f"{url}/login", data={"username": user, "password": password})
    assert response.status_code == 200, response.text
    return client


def store_rows(home: Path) -> list[tuple[str, str, str]]:
    """(user, item, kind) of every event in a server's real SQLite interaction store."""
    with sqlite3.connect(home / "interactions.sqlite") as db:
        return list(
            db.execute(
                "select u.external_id, i.external_id, e.kind from events e "
                "join users u on u.id = e.user_id join items i on i.id = e.item_id order by e.id"
            )
        )
