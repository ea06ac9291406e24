"""What a later turn may refer back to. A conversation's turns live in the database
(assistant.history), never only in one process: the Assistant reads the last few from there on
every turn, so a follow-up answered by another app process over the same database sees them."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class TurnRecord:
    """One earlier turn: its question, answer and the ids of the results it showed;
    ``small_talk``: a chat reply, which leaves the results on screen as they were."""

    question: str
    answer: str
    result_ids: list[str] = field(default_factory=list)
    small_talk: bool = False


def results_on_screen(turns: list[TurnRecord]) -> list[str]:
    """The ids of the results the page shows after ``turns``: the last search's (small talk
    leaves them in place), none before the first."""
    return next((t.result_ids for t in reversed(turns) if not t.small_talk), [])
