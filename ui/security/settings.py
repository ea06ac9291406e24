"""The security settings of one server, read once at the edge (the CLI) and passed down."""

from __future__ import annotations

from dataclasses import dataclass

MB = 1024 * 1024


@dataclass(frozen=True)
class SecuritySettings:
    """Who may use the server and how much.

    ``auth``: (user, password) logins (Gradio's login page); the login name is the user.
    ``api_keys``: keys for programmatic clients (``Authorization: Bearer KEY`` or
    ``X-API-Key: KEY``); when set, the named API endpoints need one, and a key holder (a
    site's own backend) may act for any user it names.
    ``trusted_user_header``: a header set by the site owner's reverse proxy (e.g.
    ``X-Forwarded-User``) that names the user; requests without it are refused.
    ``allowed_origins``: other sites (``https://host[:port]``) whose pages may call the server,
    besides the server's own origin.
    Limits are per client (its login, its proxy-given name, else its address) over
    ``window_seconds``; 0 switches a limit off. Uploaded files older than ``cache_max_age``
    seconds are deleted every ``cache_sweep_every`` seconds.
    """

    auth: tuple[tuple[str, str], ...] = ()
    api_keys: tuple[str, ...] = ()
    trusted_user_header: str | None = None
    allowed_origins: tuple[str, ...] = ()
    max_file_bytes: int = 25 * MB
    requests_per_minute: int = 240
    uploads_per_window: int = 60
    upload_bytes_per_window: int = 300 * MB
    total_upload_bytes_per_window: int = 2048 * MB
    window_seconds: int = 600
    cache_sweep_every: int = 600
    cache_max_age: int = 3600

    @property
    def max_file_size(self) -> str:
        """The upload size limit in Gradio's notation."""
        return f"{self.max_file_bytes}b"
