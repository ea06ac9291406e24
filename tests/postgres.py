"""A throwaway PostgreSQL server for the tests and benches: Debian's server binaries
(``apt-get install postgresql``; ``$CROSSMEDIA_PG_BIN`` names another folder), a new cluster in a
temporary folder, listening on a free loopback port, stopped and deleted at the end.

PostgreSQL refuses to run as root: as root the cluster is made and run by the unprivileged
``postgres`` user (else ``nobody``) through ``runuser``.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

BIN_ENV = "CROSSMEDIA_PG_BIN"
SUPERUSER = "crossmedia"


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server binaries on this machine."""


def server_binaries() -> Path:
    """The folder holding ``initdb`` and ``pg_ctl``: ``$CROSSMEDIA_PG_BIN``, else the newest
    ``/usr/lib/postgresql/*/bin``, else the PATH."""
    chosen = os.environ.get(BIN_ENV)
    candidates = [Path(chosen)] if chosen else []
    candidates += sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    on_path = shutil.which("initdb")
    candidates += [Path(on_path).parent] if on_path else []
    for folder in candidates:
        if (folder / "initdb").is_file() and (folder / "pg_ctl").is_file():
            return folder
    raise PostgresUnavailable(
        "no PostgreSQL server binaries (initdb, pg_ctl): apt-get install postgresql, or set "
        f"${BIN_ENV} to the folder holding them"
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _runner() -> tuple[list[str], str | None]:
    """The command prefix that runs the server's programs, and the user it runs them as."""
    if os.geteuid() != 0:
        return [], None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
        except KeyError:
            continue
        return ["runuser", "-u", name, "--"], name
    raise PostgresUnavailable("running as root and no unprivileged user to run PostgreSQL as")


@dataclass
class PostgresServer:
    """A running server: ``url(database)`` is an SQLAlchemy URL (psycopg 3)."""

    port: int
    folder: Path

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str | None = None) -> str:
        """A new empty database; returns its URL."""
        import psycopg

        name = name or "db_" + uuid.uuid4().hex[:12]
        with psycopg.connect(
            f"host=127.0.0.1 port={self.port} user={SUPERUSER} dbname=postgres", autocommit=True
        ) as connection:
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


@contextmanager
def postgres_server(durable: bool = False, max_connections: int = 200) -> Iterator[PostgresServer]:
    """Start a new PostgreSQL cluster; stop and delete it on exit. ``durable``: keep fsync on
    (as a real deployment does; off by default, which is faster and enough for tests)."""
    binaries = server_binaries()
    prefix, user = _runner()
    folder = Path(tempfile.mkdtemp(prefix="crossmedia-pg-"))
    data, sockets, log = folder / "data", folder / "sockets", folder / "server.log"
    sockets.mkdir()
    if user is not None:
        entry = pwd.getpwnam(user)
        for path in (folder, sockets):
            os.chown(path, entry.pw_uid, entry.pw_gid)
    port = _free_port()
    run = {"check": True, "capture_output": True, "text": True, "cwd": folder}
    try:
        subprocess.run(
            [*prefix, str(binaries / "initdb"), "-D", str(data), "-U", SUPERUSER,
             "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"],
            **run,
        )  # fmt: skip
        options = (
            f"-p {port} -c listen_addresses=127.0.0.1 -k {sockets} "
            f"-c max_connections={max_connections}"
            + ("" if durable else " -c fsync=off -c synchronous_commit=off")
        )
        subprocess.run(
            [*prefix, str(binaries / "pg_ctl"), "-D", str(data), "-l", str(log), "-w",
             "-t", "60", "-o", options, "start"],
            **run,
        )  # fmt: skip
    except subprocess.CalledProcessError as exc:
        detail = exc.stderr or exc.stdout or ""
        if log.is_file():
            detail += log.read_text(errors="replace")
        shutil.rmtree(folder, ignore_errors=True)
        raise PostgresUnavailable(f"PostgreSQL did not start: {detail.strip()}") from exc
    try:
        yield PostgresServer(port, folder)
    finally:
        subprocess.run(
            [*prefix, str(binaries / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
            capture_output=True,
            cwd=folder,
        )
        shutil.rmtree(folder, ignore_errors=True)
