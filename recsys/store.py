"""InteractionStore: events in SQLite (WAL, one file) or any SQLAlchemy database (PostgreSQL).

Users and items get integer ids on first sight; the string ids stay the public face. Writes
are short transactions that take the write lock up front (SQLite ``BEGIN IMMEDIATE``) and wait
for it, so two processes logging at once both succeed and lose nothing. On PostgreSQL, where
writers do not queue for one lock, a user or item first seen by two processes at once is added
once (``INSERT ... ON CONFLICT DO NOTHING``) and both use it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy.dialects import postgresql, sqlite

from recsys.errors import StoreError, UnknownUserError
from recsys.events import Event, EventKind
from recsys.matrix import UserItems
from recsys.signals import DEFAULT_SIGNALS, SignalWeights

log = logging.getLogger(__name__)
STORE_FILENAME = "interactions.sqlite"
BUSY_TIMEOUT_S = 30
SQLITE_URL = "sqlite:///"

metadata = sa.MetaData()
users_table = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("external_id", sa.String(512), nullable=False, unique=True),
)
items_table = sa.Table(
    "items",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("external_id", sa.String(512), nullable=False, unique=True),
)
# 64-bit event ids where the database has them (a chat turn logs about 11 views: 32 bits
# last some 200 million turns); SQLite's INTEGER primary key is already 64-bit.
EVENT_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
events_table = sa.Table(
    "events",
    metadata,
    sa.Column("id", EVENT_ID, primary_key=True, autoincrement=True),
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False, index=True),
    sa.Column("item_id", sa.Integer, sa.ForeignKey("items.id"), nullable=False, index=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("value", sa.Float, nullable=False),
    sa.Column("timestamp", sa.Float, nullable=False, index=True),
)


@contextmanager
def transaction(engine: sa.Engine, what: str, writing: bool = False) -> Iterator[sa.Connection]:
    """A connection in one transaction (a writer takes SQLite's lock up front); a database
    error comes out as a StoreError saying it could not ``what``."""
    try:
        connection = engine.connect()
        if writing:
            connection = connection.execution_options(writing=True)
        with connection, connection.begin():
            yield connection
    except sa.exc.SQLAlchemyError as exc:
        raise StoreError(f"cannot {what}: {exc}") from exc


def upsert_insert(dialect_name: str):
    """The ``insert`` that takes ``ON CONFLICT`` clauses on this database (SQLite,
    PostgreSQL), or None on another."""
    return {"postgresql": postgresql.insert, "sqlite": sqlite.insert}.get(dialect_name)


def insert_missing(connection: sa.Connection, table: sa.Table, rows: list[dict]) -> None:
    """Insert ``rows``, skipping those that would break a unique constraint (another process
    added them meanwhile): ``ON CONFLICT DO NOTHING`` on SQLite and PostgreSQL."""
    make = upsert_insert(connection.dialect.name)
    if make is None:  # another database: a plain insert (its writers must not race)
        connection.execute(table.insert(), rows)
        return
    connection.execute(make(table).on_conflict_do_nothing(), rows)


def _sqlite_engine(path: Path) -> sa.Engine:
    path.parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(
        f"sqlite:///{path}", connect_args={"timeout": BUSY_TIMEOUT_S, "isolation_level": None}
    )

    @sa_event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @sa_event.listens_for(engine, "begin")
    def _on_begin(connection) -> None:
        # Writers take the lock up front (and wait for it); readers get a snapshot.
        writing = connection.get_execution_options().get("writing", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writing else "BEGIN")

    return engine


class InteractionStore:
    """Append-only log of interaction events with string ids outside and integers inside."""

    def __init__(self, url_or_path: str | Path):
        """Open a store: a file path (SQLite) or an SQLAlchemy URL such as ``postgresql://...``."""
        target = str(url_or_path)
        self.location = shown_location(target)  # as messages and logs show it: no password
        try:
            if target.startswith(SQLITE_URL) and ":memory:" not in target:
                # a file all the same: WAL and write locks as for a path
                self.engine = _sqlite_engine(Path(target.removeprefix(SQLITE_URL)))
            elif "://" in target:
                self.engine = sa.create_engine(target, pool_pre_ping=True)
            else:
                self.engine = _sqlite_engine(Path(target))
            metadata.create_all(self.engine)
        except ModuleNotFoundError as exc:
            raise StoreError(
                f"the database driver for {self.location} is not installed ({exc}); for "
                "PostgreSQL: pip install 'crossmedia[postgres]'"
            ) from exc
        except Exception as exc:
            detail = str(exc).replace(target, self.location)
            raise StoreError(
                f"cannot open the interaction store at {self.location}: {detail}"
            ) from exc

    @classmethod
    def in_data_dir(cls, data_dir: Path) -> InteractionStore:
        """The default store: one SQLite file in the data directory."""
        return cls(Path(data_dir) / STORE_FILENAME)

    # -- writing ---------------------------------------------------------------------------

    def log(
        self,
        user: object,
        item: object,
        kind: object,
        value: object = 1.0,
        timestamp: object | None = None,
    ) -> Event:
        """Validate and record one event (raises InvalidEventError for bad input)."""
        event = Event.create(user, item, kind, value, timestamp)
        self.record([event])
        return event

    def record(self, events: Iterable[Event]) -> int:
        """Record validated events in one transaction; returns how many were written."""
        batch = list(events)
        if not batch:
            return 0
        try:
            with (
                self.engine.connect().execution_options(writing=True) as connection,
                connection.begin(),
            ):
                user_ids = self._ensure(connection, users_table, {e.user for e in batch})
                item_ids = self._ensure(connection, items_table, {e.item for e in batch})
                connection.execute(
                    events_table.insert(),
                    [
                        {
                            "user_id": user_ids[e.user],
                            "item_id": item_ids[e.item],
                            "kind": e.kind.value,
                            "value": e.value,
                            "timestamp": e.timestamp,
                        }
                        for e in batch
                    ],
                )
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError(
                f"could not write {len(batch)} events to {self.location} "
                f"({getattr(exc, 'orig', exc)}); nothing of this batch was kept"
            ) from exc
        return len(batch)

    def _ensure(
        self, connection: sa.Connection, table: sa.Table, external: set[str]
    ) -> dict[str, int]:
        """Integer ids for external ids, creating the missing ones."""
        column = table.c.external_id
        known = dict(
            connection.execute(sa.select(column, table.c.id).where(column.in_(external))).all()
        )
        missing = sorted(external - known.keys())
        if missing:
            insert_missing(connection, table, [{"external_id": x} for x in missing])
            known.update(
                connection.execute(sa.select(column, table.c.id).where(column.in_(missing))).all()
            )
        return known

    # -- reading ---------------------------------------------------------------------------

    def _fetch(self, *statements) -> list | tuple[list, ...]:
        """Run read statements in one snapshot; one result list per statement."""
        try:
            with self.engine.connect() as connection, connection.begin():
                results = tuple(list(connection.execute(s).all()) for s in statements)
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError(
                f"cannot read the interaction store at {self.location}: {exc}"
            ) from exc
        return results[0] if len(results) == 1 else results

    def users(self) -> list[str]:
        """Every user, in order of first sight."""
        return [
            r[0]
            for r in self._fetch(sa.select(users_table.c.external_id).order_by(users_table.c.id))
        ]

    def items(self) -> list[str]:
        """Every item, in order of first sight."""
        return [
            r[0]
            for r in self._fetch(sa.select(items_table.c.external_id).order_by(items_table.c.id))
        ]

    def count(self, after: int = 0, without: Iterable[EventKind] = ()) -> int:
        """Number of events; ``after``: only those written after the event of that id (see
        ``newest_id``); ``without``: not counting these kinds."""
        query = sa.select(sa.func.count()).select_from(events_table)
        if after:
            query = query.where(events_table.c.id > after)
        skipped = [k.value for k in without]
        if skipped:
            query = query.where(events_table.c.kind.not_in(skipped))
        return int(self._fetch(query)[0][0])

    def newest_id(self) -> int:
        """The id of the newest event, 0 when there is none. It grows with every write by any
        process, so ``count(after=newest_id())`` later says how many events came since (on
        PostgreSQL a transaction still open may commit a smaller id later: good enough to tell
        when a model is due for a refit, not for accounting)."""
        return int(self._fetch(sa.select(sa.func.max(events_table.c.id)))[0][0] or 0)

    def events(self, user: str | None = None, since: float | None = None) -> list[Event]:
        """Events in time order, optionally of one user and/or after ``since``."""
        query = _events_query()
        if user is not None:
            if not self._fetch(
                sa.select(users_table.c.id).where(users_table.c.external_id == user)
            ):
                raise UnknownUserError(f"unknown user {user!r}")
            query = query.where(users_table.c.external_id == user)
        if since is not None:
            query = query.where(events_table.c.timestamp > since)
        return [_event(row) for row in self._fetch(query)]

    def user_items(self, signals: SignalWeights = DEFAULT_SIGNALS) -> UserItems:
        """The users x items confidence matrix over all events (every known user and item),
        weighed by ``signals`` without decay, read from one consistent snapshot."""
        users, items, rows = self._fetch(
            sa.select(users_table.c.external_id).order_by(users_table.c.id),
            sa.select(items_table.c.external_id).order_by(items_table.c.id),
            _events_query(),
        )
        return UserItems.from_triples(
            ((e.user, e.item, signals.confidence(e)) for e in map(_event, rows)),
            users=[u for (u,) in users],
            items=[i for (i,) in items],
        )


def shown_location(target: str) -> str:
    """A store's location as shown to people: a URL's password masked."""
    if "://" not in target:
        return target
    try:
        return sa.engine.make_url(target).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return target.split("://", 1)[0] + "://..."


def _events_query() -> sa.Select:
    return (
        sa.select(
            users_table.c.external_id,
            items_table.c.external_id,
            events_table.c.kind,
            events_table.c.value,
            events_table.c.timestamp,
        )
        .join(users_table, users_table.c.id == events_table.c.user_id)
        .join(items_table, items_table.c.id == events_table.c.item_id)
        .order_by(events_table.c.timestamp, events_table.c.id)
    )


def _event(row) -> Event:
    user, item, kind, value, timestamp = row
    return Event(user, item, EventKind(kind), value, timestamp)
