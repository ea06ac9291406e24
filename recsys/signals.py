"""How much each kind of event says about a user's taste, and how fast it fades.

Explicit feedback outweighs exposure: a like says far more than a click, a click more than a
play, and being shown an item (a view) says nothing about taste. An item shown again and again
and never acted on is weak evidence against it (``ignored_penalty``); a dislike filters the item
out. Confidences decay with ``half_life_days``, counted back from the user's own latest event
(a taste is not forgotten because the user was away, nor are imported histories). The defaults
were chosen with the session simulator (``bench/session_sim.py``, docs/recsys.md);
``LEGACY_SIGNALS`` is the weighting used before, kept as that bench's baseline.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable
from dataclasses import dataclass

from recsys.events import RATING_NEUTRAL, Event, EventKind


@dataclass(frozen=True)
class SignalWeights:
    """Confidence per event kind (Hu, Koren & Volinsky 2008 style), decay and ignore penalty.

    >>> from recsys.events import Event
    >>> w = SignalWeights()
    >>> w.confidence(Event.create("u", "i", "like"), now=None) > 50 * w.view
    True
    """

    like: float = 8.0
    click: float = 2.0
    play: float = 1.0
    view: float = 0.0
    rating: float = 1.0  # per rating point above neutral (3): a 5 weighs 2
    half_life_days: float = 7.0  # 0: no decay; chosen on MovieLens validation (docs/recsys.md)
    ignored_penalty: float = 0.1  # score penalty per showing without an action, in [0, 1]
    ignored_cap: int = 3  # showings that count towards the penalty
    recent_seconds: float = 1800.0  # likes this recent count as this session's

    def rating_confidence(self, rating: float) -> float:
        """A star rating's confidence: its points above neutral (a 4 weighs 1, a 5 weighs 2)."""
        return max(0.0, rating - RATING_NEUTRAL) * self.rating

    def base(self, event: Event) -> float:
        """The event's confidence before decay (0 for views and dislikes)."""
        if event.kind is EventKind.RATING:
            return self.rating_confidence(event.value)
        return {
            EventKind.LIKE: self.like,
            EventKind.CLICK: self.click,
            EventKind.PLAY: self.play,
            EventKind.VIEW: self.view,
            EventKind.DISLIKE: 0.0,
        }[event.kind]

    def confidence(self, event: Event, now: float | None = None) -> float:
        """The event's confidence seen from time ``now``, the user's latest event (None: no
        decay)."""
        base = self.base(event)
        if now is None or base == 0:
            return base
        return base * decay(now - event.timestamp, self.half_life_days)

    def ignored(self, showings: int) -> float:
        """The score penalty of an item shown ``showings`` times and never acted on."""
        return self.ignored_penalty * min(showings, self.ignored_cap)


DEFAULT_SIGNALS = SignalWeights()
# The weighting before issue 13: views counted as half a click, no decay, no ignore penalty.
LEGACY_SIGNALS = SignalWeights(
    like=4.0, click=1.0, play=1.0, view=0.5, half_life_days=0.0, ignored_penalty=0.0
)


def decay(age_seconds: float, half_life_days: float) -> float:
    """How much of a signal is left after ``age_seconds`` (1 when the half-life is 0: none)."""
    if not half_life_days:
        return 1.0
    return math.pow(0.5, max(0.0, age_seconds) / 86_400 / half_life_days)


def latest_by_user(events: Iterable[Event]) -> dict[str, float]:
    """Each user's latest event time: the moment their decay is counted from."""
    latest: dict[str, float] = {}
    for event in events:
        latest[event.user] = max(latest.get(event.user, event.timestamp), event.timestamp)
    return latest


def weighed_triples(
    events: Iterable[Event], signals: SignalWeights = DEFAULT_SIGNALS
) -> list[tuple[str, str, float, float]]:
    """(user, item, confidence, time) of every event that says something about a taste, each
    decayed from its user's own latest event: what a CF model is fitted on (``UserItems``)."""
    events = list(events)
    latest = latest_by_user(events)
    return [
        (e.user, e.item, c, e.timestamp)
        for e in events
        if (c := signals.confidence(e, latest[e.user])) > 0
    ]


def now() -> float:
    """The current time (seconds since 1970), against which "this session" is measured."""
    return time.time()
