"""What each client has used lately (requests, uploaded files and bytes), counted in sliding
windows, for ``ClientLimits``.

``MemoryUsage`` counts in this process alone. ``SharedUsage`` counts in the database that every
replica shares, so N replicas give a client the limit once, not N times: amounts are summed in
one-second buckets per key (``INSERT ... ON CONFLICT DO UPDATE``), a window is the sum of its
buckets, and buckets older than the longest window are deleted (``ClientLimits`` asks once a
minute). A window may count what came up to a second before its start (its first bucket),
never less than asked. Two replicas admitting the same client at the same instant may both
pass its last request, so a limit can be overshot by one request per replica, never by more.
Times are wall-clock seconds, which every replica reads alike."""

from __future__ import annotations

from collections import defaultdict, deque
from typing import Any, Protocol

import sqlalchemy as sa

from recsys.errors import StoreError
from recsys.store import transaction, upsert_insert

metadata = sa.MetaData()
usage_table = sa.Table(
    "client_usage",
    metadata,
    sa.Column("key", sa.String(600), primary_key=True),
    sa.Column("second", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
    sa.Column("amount", sa.Float, nullable=False),
)


class UsageLedger(Protocol):
    """Amounts used per key (a client and what it used), with their times."""

    blocking: bool  # True where a call waits on I/O (run it off the event loop)

    def total(self, key: str, since: float) -> float:
        """The sum of the amounts added under ``key`` after ``since`` (a shared ledger may add
        what came up to a second before)."""

    def oldest(self, key: str, since: float) -> float | None:
        """When the oldest amount added under ``key`` after ``since`` was added, or None."""

    def add(self, key: str, now: float, amount: float = 1.0) -> None:
        """Record ``amount`` under ``key`` at ``now``."""

    def forget_before(self, moment: float) -> None:
        """Drop what was added before ``moment`` (no window reaches that far back)."""


class MemoryUsage:
    """The ledger of one process: each key's (time, amount) pairs, oldest first."""

    blocking = False

    def __init__(self) -> None:
        self._events: dict[str, deque[tuple[float, float]]] = defaultdict(deque)

    def _recent(self, key: str, since: float) -> deque[tuple[float, float]]:
        events = self._events.get(key)
        if events is None:
            return deque()
        while events and events[0][0] <= since:
            events.popleft()
        return events

    def total(self, key: str, since: float) -> float:
        return sum(amount for _, amount in self._recent(key, since))

    def oldest(self, key: str, since: float) -> float | None:
        events = self._recent(key, since)
        return events[0][0] if events else None

    def add(self, key: str, now: float, amount: float = 1.0) -> None:
        self._events[key].append((now, amount))

    def forget_before(self, moment: float) -> None:
        stale = [k for k, events in self._events.items() if not events or events[-1][0] < moment]
        for key in stale:
            del self._events[key]


class SharedUsage:
    """The ledger in a database every replica shares (SQLite file or PostgreSQL)."""

    blocking = True

    def __init__(self, engine: sa.Engine):
        self.engine = engine
        self._insert = upsert_insert(engine.dialect.name)
        if self._insert is None:
            raise StoreError(
                f"shared rate limits need SQLite or PostgreSQL, not {engine.dialect.name}: "
                "set the limits at the proxy instead"
            )
        with transaction(engine, "keep clients' request counts", writing=True) as db:
            metadata.create_all(db)

    def _run(self, statement: Any, writing: bool = False) -> Any:
        """One statement in its own transaction; a query's single value."""
        with transaction(self.engine, "read or count clients' requests", writing) as db:
            if writing and db.dialect.name == "postgresql":
                # A count lost in a crash only lets a client in early: no need to wait for the
                # disk on every request.
                db.exec_driver_sql("SET LOCAL synchronous_commit TO OFF")
            result = db.execute(statement)
            return result.scalar() if result.returns_rows else None

    def _recent(self, key: str, since: float) -> Any:
        return (usage_table.c.key == key) & (usage_table.c.second >= int(since))

    def total(self, key: str, since: float) -> float:
        total = sa.func.coalesce(sa.func.sum(usage_table.c.amount), 0.0)
        return float(self._run(sa.select(total).where(self._recent(key, since))) or 0.0)

    def oldest(self, key: str, since: float) -> float | None:
        oldest = sa.select(sa.func.min(usage_table.c.second)).where(self._recent(key, since))
        found = self._run(oldest)
        return None if found is None else float(found)

    def add(self, key: str, now: float, amount: float = 1.0) -> None:
        upsert = self._insert(usage_table).values(key=key, second=int(now), amount=float(amount))
        upsert = upsert.on_conflict_do_update(
            index_elements=[usage_table.c.key, usage_table.c.second],
            set_={"amount": usage_table.c.amount + upsert.excluded.amount},
        )
        self._run(upsert, writing=True)

    def forget_before(self, moment: float) -> None:
        self._run(usage_table.delete().where(usage_table.c.second < int(moment)), writing=True)
