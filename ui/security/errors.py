"""Typed errors of the serving edge; each message is one sentence a person can act on."""

from __future__ import annotations

from retrieval.errors import CrossmediaError


class AccessError(CrossmediaError):
    """A request is not allowed: wrong or missing API key, a foreign origin, too many requests."""


class IdentityError(AccessError):
    """A request names a user other than the one it is authenticated as."""


class UploadError(AccessError):
    """A file argument is not a file this client uploaded (a server path, a folder, a link)."""
