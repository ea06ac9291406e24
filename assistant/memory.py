"""What a later turn may refer back to. A conversation's turns live in the database
(assistant.history), never only in one process: the Assistant reads the last few from there on
every turn, so a follow-up answered by another app process over the same database sees them."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class TurnRecord:
    """One earlier turn: its question, answer and the ids of the results it showed."""

    question: str
    answer: str
    result_ids: list[str] = field(default_factory=list)
