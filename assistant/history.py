"""Chat history that lasts: every turn of every conversation, kept in the interaction store's
database (SQLite by default, any SQLAlchemy database), so conversations survive a reload and a
server restart, are listed newest first, and can be reopened where they were left. It is the
only memory of a conversation: every app process over the same database reads a follow-up's
earlier turns from here, whichever process answered them."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from recsys.errors import StoreError
from recsys.store import insert_missing

TITLE_CHARS = 60
metadata = sa.MetaData()
conversations_table = sa.Table(
    "conversations",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("user", sa.String(512), nullable=False, index=True),
    sa.Column("session", sa.String(512), nullable=False),
    sa.Column("title", sa.String(200), nullable=False),
    sa.Column("created", sa.Float, nullable=False),
    sa.Column("updated", sa.Float, nullable=False, index=True),
    sa.UniqueConstraint("user", "session"),
)
turns_table = sa.Table(
    "conversation_turns",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column(
        "conversation_id",
        sa.Integer,
        sa.ForeignKey("conversations.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("question", sa.Text, nullable=False),
    sa.Column("answer", sa.Text, nullable=False),
    sa.Column("reply", sa.Text, nullable=False),  # the Reply as JSON
    sa.Column("timestamp", sa.Float, nullable=False),
)


@dataclass(frozen=True)
class ConversationSummary:
    """One conversation in the list: its session id, title (its first question), when it was
    last used and how many turns it has."""

    session: str
    title: str
    updated: float
    turns: int


@dataclass(frozen=True)
class StoredTurn:
    """One turn as it was asked and answered; ``reply`` is the Reply's JSON form."""

    question: str
    answer: str
    reply: dict[str, Any] = field(default_factory=dict)
    timestamp: float = 0.0


class ChatHistory:
    """Conversations per user, in the database behind ``engine``."""

    def __init__(self, engine: sa.Engine, location: str = ""):
        self.engine = engine
        self.location = location
        try:
            metadata.create_all(engine)
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError(f"cannot open the chat history at {location}: {exc}") from exc

    @classmethod
    def beside(cls, store) -> ChatHistory:
        """The history in the same database as an InteractionStore."""
        return cls(store.engine, store.location)

    def append(self, user: str, session: str, question: str, reply: dict[str, Any]) -> None:
        """Add a turn to the conversation (made on its first turn, titled by its question)."""
        now = time.time()
        title = " ".join(question.split())[:TITLE_CHARS] or "(a picture or a recording)"
        try:
            with (
                self.engine.connect().execution_options(writing=True) as connection,
                connection.begin(),
            ):
                # made on its first turn (once, should two processes start it at once)
                insert_missing(
                    connection,
                    conversations_table,
                    [{"user": user, "session": session, "title": title,
                      "created": now, "updated": now}],
                )  # fmt: skip
                conversation = connection.execute(
                    conversations_table.update()
                    .where(
                        conversations_table.c.user == user,
                        conversations_table.c.session == session,
                    )
                    .values(updated=now)
                    .returning(conversations_table.c.id)
                ).scalar_one()
                connection.execute(
                    turns_table.insert().values(
                        conversation_id=conversation,
                        question=question,
                        answer=str(reply.get("answer", "")),
                        reply=json.dumps(reply, ensure_ascii=False),
                        timestamp=now,
                    )
                )
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError(
                f"could not save the chat turn to {self.location} ({getattr(exc, 'orig', exc)})"
            ) from exc

    def conversations(self, user: str, limit: int = 50) -> list[ConversationSummary]:
        """The user's conversations, most recently used first."""
        c, t = conversations_table.c, turns_table.c
        statement = (
            sa.select(c.session, c.title, c.updated, sa.func.count(t.id))
            .join(turns_table, t.conversation_id == c.id)
            .where(c.user == user)
            .group_by(c.id)
            .order_by(c.updated.desc(), c.id.desc())
            .limit(limit)
        )
        return [ConversationSummary(*row) for row in self._read(statement)]

    def turns(self, user: str, session: str) -> list[StoredTurn]:
        """A conversation's turns, oldest first (empty for an unknown one)."""
        c, t = conversations_table.c, turns_table.c
        statement = (
            sa.select(t.question, t.answer, t.reply, t.timestamp)
            .join(conversations_table, t.conversation_id == c.id)
            .where(c.user == user, c.session == session)
            .order_by(t.id)
        )
        return [StoredTurn(q, a, json.loads(r), ts) for q, a, r, ts in self._read(statement)]

    def recent(self, user: str, session: str, count: int) -> list[StoredTurn]:
        """A conversation's last ``count`` turns, oldest first (what a follow-up refers to)."""
        c, t = conversations_table.c, turns_table.c
        statement = (
            sa.select(t.question, t.answer, t.reply, t.timestamp)
            .join(conversations_table, t.conversation_id == c.id)
            .where(c.user == user, c.session == session)
            .order_by(t.id.desc())
            .limit(count)
        )
        rows = self._read(statement)[::-1]
        return [StoredTurn(q, a, json.loads(r), ts) for q, a, r, ts in rows]

    def delete(self, user: str, session: str) -> bool:
        """Delete a conversation and its turns; False when there was none."""
        c = conversations_table.c
        try:
            with (
                self.engine.connect().execution_options(writing=True) as connection,
                connection.begin(),
            ):
                found = connection.execute(
                    sa.select(c.id).where(c.user == user, c.session == session)
                ).first()
                if found is None:
                    return False
                connection.execute(
                    turns_table.delete().where(turns_table.c.conversation_id == found[0])
                )
                connection.execute(conversations_table.delete().where(c.id == found[0]))
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError(
                f"could not delete the conversation in {self.location}: {exc}"
            ) from exc
        return True

    def _read(self, statement) -> list:
        try:
            with self.engine.connect() as connection, connection.begin():
                return list(connection.execute(statement).all())
        except sa.exc.SQLAlchemyError as exc:
            raise StoreError(f"cannot read the chat history at {self.location}: {exc}") from exc
