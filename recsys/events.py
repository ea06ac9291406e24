"""Interaction events: who did what to which item, when (recsys.signals weighs them)."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from enum import StrEnum

from recsys.errors import InvalidEventError

MAX_ID_LENGTH = 512


class EventKind(StrEnum):
    """What the user did with the item."""

    VIEW = "view"
    CLICK = "click"
    PLAY = "play"
    LIKE = "like"
    DISLIKE = "dislike"
    RATING = "rating"


# A rating above this says the user liked the item (recsys.signals weighs it).
RATING_NEUTRAL = 3.0


@dataclass(frozen=True)
class Event:
    """One interaction: ``user`` did ``kind`` to ``item`` at ``timestamp`` (``value``: rating)."""

    user: str
    item: str
    kind: EventKind
    value: float = 1.0
    timestamp: float = field(default_factory=time.time)

    @classmethod
    def create(
        cls,
        user: object,
        item: object,
        kind: object,
        value: object = 1.0,
        timestamp: object | None = None,
    ) -> Event:
        """Validate raw fields (as they come from an API or a file) into an Event."""
        user_id, item_id = _identifier(user, "user"), _identifier(item, "item")
        try:
            event_kind = EventKind(str(kind).lower())
        except ValueError:
            allowed = ", ".join(k.value for k in EventKind)
            raise InvalidEventError(f"unknown event kind {kind!r}; use one of: {allowed}") from None
        number = _finite(value, "value")
        if event_kind is EventKind.RATING and not 0 <= number <= 10:
            raise InvalidEventError(f"a rating must be between 0 and 10, got {number}")
        when = time.time() if timestamp is None else _finite(timestamp, "timestamp")
        if when < 0:
            raise InvalidEventError(f"timestamp must be seconds since 1970, got {when}")
        return cls(user_id, item_id, event_kind, number, when)


def _identifier(raw: object, what: str) -> str:
    if raw is None or isinstance(raw, bool):
        raise InvalidEventError(f"the {what} id is missing")
    text = str(raw).strip()
    if not text:
        raise InvalidEventError(f"the {what} id is empty")
    if len(text) > MAX_ID_LENGTH:
        raise InvalidEventError(f"the {what} id is longer than {MAX_ID_LENGTH} characters")
    return text


def _finite(raw: object, what: str) -> float:
    try:
        number = float(raw)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InvalidEventError(f"{what} must be a number, got {raw!r}") from None
    if not math.isfinite(number):
        raise InvalidEventError(f"{what} must be finite, got {raw!r}")
    return number
