"""The texts answers' Listen buttons stand for, kept in the database so that every app process
over it can speak an answer another one registered (a load balancer may send the button's
request anywhere). Each process still synthesises into its own folder: a key is a hash of what
is said, so a cached WAV is right for its key wherever it was made."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from recsys.errors import StoreError
from recsys.store import insert_missing

KEEP_SECONDS = 30 * 24 * 3600  # registrations older than this are dropped now and then
metadata = sa.MetaData()
spoken_table = sa.Table(
    "spoken_texts",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("voice", sa.String(64), nullable=False),
    sa.Column("created", sa.Float, nullable=False, index=True),
)


class SharedSpokenTexts:
    """key -> (text, voice) in the database behind ``engine``."""

    def __init__(self, engine: sa.Engine, keep_seconds: float = KEEP_SECONDS):
        self.engine = engine
        self.keep_seconds = keep_seconds
        try:
            metadata.create_all(engine)
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError(f"cannot keep answers' speech texts in the database: {exc}") from exc

    def add(self, key: str, text: str, voice: str) -> None:
        """Register a text under its key (once: the key is a hash of voice, rate and text)."""
        row = {"key": key, "text": text, "voice": voice, "created": time.time()}
        with self._writing() as connection:
            insert_missing(connection, spoken_table, [row])

    def get(self, key: str) -> tuple[str, str] | None:
        """(text, voice) of a registered key, or None."""
        query = sa.select(spoken_table.c.text, spoken_table.c.voice).where(
            spoken_table.c.key == key
        )
        try:
            with self.engine.connect() as connection, connection.begin():
                found = connection.execute(query).first()
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError(f"cannot read answers' speech texts: {exc}") from exc
        return (found[0], found[1]) if found else None

    def prune(self) -> None:
        """Drop registrations older than ``keep_seconds``."""
        oldest = time.time() - self.keep_seconds
        with self._writing() as connection:
            connection.execute(spoken_table.delete().where(spoken_table.c.created < oldest))

    @contextmanager
    def _writing(self) -> Iterator[sa.Connection]:
        """A write transaction; database errors come out as a StoreError."""
        try:
            with (
                self.engine.connect().execution_options(writing=True) as connection,
                connection.begin(),
            ):
                yield connection
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError(f"cannot keep answers' speech texts in the database: {exc}") from exc
