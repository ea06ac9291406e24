"""The chat history, on SQLite and on a real PostgreSQL server: the only memory of a
conversation, shared by every app process over the same database."""

from __future__ import annotations

from assistant.history import ChatHistory
from recsys.store import InteractionStore
from tests.processes import run_at_once


def _history(url: str) -> ChatHistory:
    return ChatHistory.beside(InteractionStore(url))


def _reply(answer: str, *items: str) -> dict:
    return {"answer": answer, "results": [{"item_id": i} for i in items]}


def test_turns_are_saved_listed_read_back_and_deleted(database_url):
    history = _history(database_url)
    history.append("ann", "s1", "Show me a   badger", _reply("A badger [1].", "i1", "i2"))
    history.append("ann", "s2", "a frog", _reply("A frog [1].", "i3"))
    history.append("ann", "s1", "more like the second one", _reply("More [1].", "i4"))
    listed = history.conversations("ann")
    assert [(c.session, c.title, c.turns) for c in listed] == [
        ("s1", "Show me a badger", 2),  # most recently used first, titled by its first question
        ("s2", "a frog", 1),
    ]
    other = _history(database_url)  # another process over the same database sees the same
    assert [t.question for t in other.turns("ann", "s1")] == [
        "Show me a   badger",
        "more like the second one",
    ]
    last = other.recent("ann", "s1", 1)
    assert [t.reply["results"][0]["item_id"] for t in last] == ["i4"]
    assert [t.answer for t in other.recent("ann", "s1", 5)] == ["A badger [1].", "More [1]."]
    assert other.turns("bob", "s1") == [] and other.recent("ann", "nope", 3) == []
    assert other.delete("ann", "s1") and not other.delete("ann", "s1")
    assert [c.session for c in history.conversations("ann")] == ["s2"]


def test_long_and_non_ascii_fields_fit_every_database(database_url):
    """PostgreSQL enforces column lengths (SQLite does not): the longest user and session ids
    the assistant accepts, long questions and replies, and any script fit."""
    history = _history(database_url)
    user, session = "ü" * 128, "会话" * 64
    question = "何か面白いものを見せて " * 180  # about 2,000 characters
    history.append(user, session, question, _reply("答え " * 3000, "i1"))
    (saved,) = history.conversations(user)
    assert saved.title == " ".join(question.split())[:60] and saved.turns == 1
    assert history.turns(user, session)[0].question == question


def _append_many(url: str, writer: int, start) -> None:
    history = _history(url)
    start.wait(timeout=60)
    for n in range(15):
        history.append("shared", f"chat-{n}", f"question {writer}-{n}", _reply("a", "i"))


def test_two_processes_starting_the_same_conversations_at_once_lose_no_turn(database_url):
    """Two app processes answer the first turns of the same conversations at the same moment:
    each conversation is made once and keeps both turns."""
    _history(database_url)  # the schema, as the app makes it at start
    run_at_once(_append_many, database_url)
    listed = _history(database_url).conversations("shared")
    assert len(listed) == 15 and all(c.turns == 2 for c in listed)
