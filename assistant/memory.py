"""Conversation memory: the last few turns of each (user, session), isolated from each other,
with a bound on how many sessions are kept (least recently used go first)."""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from dataclasses import dataclass, field


@dataclass(frozen=True)
class TurnRecord:
    """What a later turn may refer back to."""

    question: str
    answer: str
    result_ids: list[str] = field(default_factory=list)


class SessionMemory:
    """The last ``turns`` turns per (user, session)."""

    def __init__(self, turns: int = 4, max_sessions: int = 10_000):
        self.turns = turns
        self.max_sessions = max_sessions
        self._sessions: OrderedDict[tuple[str, str], deque[TurnRecord]] = OrderedDict()
        self._lock = threading.Lock()

    def history(self, user: str, session: str) -> list[TurnRecord]:
        """The session's remembered turns, oldest first (empty for a new session)."""
        with self._lock:
            turns = self._sessions.get((user, session))
            return list(turns) if turns else []

    def remember(self, user: str, session: str, record: TurnRecord) -> None:
        """Add a turn to the session, forgetting its oldest beyond ``turns``."""
        with self._lock:
            key = (user, session)
            turns = self._sessions.setdefault(key, deque(maxlen=self.turns))
            turns.append(record)
            self._sessions.move_to_end(key)
            while len(self._sessions) > self.max_sessions:
                self._sessions.popitem(last=False)

    def forget(self, user: str, session: str) -> None:
        """Drop a session (a "new chat")."""
        with self._lock:
            self._sessions.pop((user, session), None)
