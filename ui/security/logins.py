"""Logins shared by every app process over one database. Gradio keeps a login's token in a dict
of its own process and names its cookie after a random id per process, so a login made on one
replica meant nothing to another; ``share_logins`` gives Gradio a token table in the database
and a cookie name derived from the shared secret instead."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator, MutableMapping
from typing import Any

import sqlalchemy as sa

from recsys.errors import StoreError
from recsys.store import insert_missing, transaction

LOGIN_DAYS = 30  # a login older than this no longer counts (sign in again)
metadata = sa.MetaData()
tokens_table = sa.Table(
    "login_tokens",
    metadata,
    sa.Column("token", sa.String(128), primary_key=True),
    sa.Column("username", sa.String(512), nullable=False, index=True),
    sa.Column("created", sa.Float, nullable=False),
)


class SharedLogins(MutableMapping[str, str]):
    """token -> user name, in the database behind ``engine`` (what Gradio's ``app.tokens`` is
    used as: looked up on every request, set at login, deleted at logout). Logins older than
    ``days`` no longer count, and each new login deletes them."""

    def __init__(self, engine: sa.Engine, days: float = LOGIN_DAYS):
        self.engine = engine
        self.seconds = days * 24 * 3600
        with transaction(engine, "keep logins in the database", writing=True) as db:
            metadata.create_all(db)

    def _run(self, statement: Any, writing: bool = False) -> list:
        with transaction(self.engine, "read or change logins in the database", writing) as db:
            result = db.execute(statement)
            return list(result.all()) if result.returns_rows else []

    def _fresh(self) -> Any:
        return tokens_table.c.created >= time.time() - self.seconds

    def __getitem__(self, token: str) -> str:
        if not isinstance(token, str):
            raise KeyError(token)
        rows = self._run(
            sa.select(tokens_table.c.username).where(tokens_table.c.token == token, self._fresh())
        )
        if not rows:
            raise KeyError(token)
        return rows[0][0]

    def __setitem__(self, token: str, username: str) -> None:
        row = {"token": token, "username": username, "created": time.time()}
        try:
            with (
                self.engine.connect().execution_options(writing=True) as connection,
                connection.begin(),
            ):
                insert_missing(connection, tokens_table, [row])  # a token is random and new
                connection.execute(tokens_table.delete().where(sa.not_(self._fresh())))
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError(f"cannot keep a login in the database: {exc}") from exc

    def __delitem__(self, token: str) -> None:
        self._run(tokens_table.delete().where(tokens_table.c.token == token), writing=True)

    def __iter__(self) -> Iterator[str]:
        rows = self._run(sa.select(tokens_table.c.token).where(self._fresh()))
        return iter([r[0] for r in rows])

    def __len__(self) -> int:
        return len(self._run(sa.select(tokens_table.c.token).where(self._fresh())))


def cookie_id(secret: str) -> str:
    """The id in the login cookie's name, the same in every process sharing ``secret``."""
    return hashlib.sha256(f"crossmedia login cookie\n{secret}".encode()).hexdigest()[:32]


def share_logins(gradio_app: Any, engine: sa.Engine, secret: str) -> None:
    """Make a mounted Gradio app keep its logins in the database, under a shared cookie name."""
    gradio_app.tokens = SharedLogins(engine)
    gradio_app.cookie_id = cookie_id(secret)
