"""Typed errors of the recommender; each message says what the caller can do about it."""

from __future__ import annotations


class RecsysError(Exception):
    """Base class for every error the recommender raises on purpose."""


class InvalidEventError(RecsysError, ValueError):
    """An interaction event is malformed (unknown kind, empty id, bad value or time)."""


class UnknownUserError(RecsysError, KeyError):
    """No such user in the store or the model."""


class UnknownItemError(RecsysError, KeyError):
    """No such item in the store or the model."""


class StoreError(RecsysError):
    """The interaction store cannot be opened, read or written."""


class OrientationError(RecsysError, ValueError):
    """A matrix handed to a CF model is not users x items."""


class DatasetError(RecsysError):
    """A ratings or items file is missing or malformed."""


class LeakError(RecsysError):
    """An evaluation split lets test data into training (a user's test item, a cold item or a
    cold user's events in the training matrix)."""


class SnapshotError(RecsysError):
    """A fitted-model snapshot cannot be written or read (missing, half-written or corrupt)."""


class NoSnapshotError(SnapshotError):
    """No fitted-model snapshot has been written to the folder yet."""
