"""Who is asking: the user comes from the request (login, the site's proxy, an API key's
holder naming a user) or from the browser's own anonymous id, never from an argument alone."""

from __future__ import annotations

import hmac
import secrets
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import sqlalchemy as sa

from recsys.errors import StoreError
from recsys.store import insert_missing
from ui.security.errors import AccessError, IdentityError
from ui.security.settings import SecuritySettings

ANONYMOUS_PREFIX = "anon-"
SECRET_FILE = "server-secret"


class RequestLike(Protocol):
    """What identity needs of a request (``gr.Request`` has it)."""

    username: str | None
    headers: dict


def new_anonymous_id() -> str:
    """A fresh random id for a browser without a login (kept in its local storage)."""
    return ANONYMOUS_PREFIX + uuid.uuid4().hex


def presented_api_key(headers) -> str | None:
    """The key in ``Authorization: Bearer KEY`` or ``X-API-Key: KEY``, if any."""
    bearer = headers.get("authorization") or ""
    if bearer.lower().startswith("bearer "):
        return bearer[7:].strip() or None
    return (headers.get("x-api-key") or "").strip() or None


LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


@dataclass(frozen=True)
class Identity:
    """Resolves the user of a page event or an API call under one server's settings."""

    settings: SecuritySettings

    def _authenticated(self, request: RequestLike | None) -> str | None:
        """The user the request itself proves: the proxy's header, else the login."""
        if request is None:
            return None
        header = self.settings.trusted_user_header
        if header:
            name = (request.headers.get(header.lower()) or "").strip()
            if not name:
                raise AccessError(
                    f"this server takes the user from the {header} header set by its proxy, "
                    "and the request had none: go through the site's address"
                )
            return name
        return getattr(request, "username", None) or None

    def may_change_library(self, request: RequestLike | None) -> bool:
        """Whether this request may change what every user sees (a caption correction): a
        signed-in user (login or the proxy's header) may; an anonymous one only on a server
        with no logins, asked from this machine itself and not through a proxy."""
        try:
            if self._authenticated(request):
                return True
        except AccessError:
            return False
        if request is None or self.settings.auth or self.settings.trusted_user_header:
            return False
        client = getattr(request, "client", None)
        host = getattr(client, "host", "") or ""
        proxied = any(request.headers.get(h) for h in ("x-forwarded-for", "forwarded"))
        return host in LOOPBACK and not proxied

    def for_page(self, request: RequestLike | None, browser_id: str) -> str:
        """The user of a chat page: the authenticated name, else the browser's anonymous id."""
        name = self._authenticated(request)
        if name:
            return name
        browser_id = (browser_id or "").strip()
        if not browser_id.startswith(ANONYMOUS_PREFIX):
            raise IdentityError("this page has no session yet: reload it")
        return browser_id

    def has_valid_key(self, request: RequestLike | None) -> bool:
        """True when the request carries one of the server's API keys."""
        headers = request.headers if request is not None else {}
        key = presented_api_key(headers)
        return key is not None and any(
            hmac.compare_digest(key.encode(), known.encode()) for known in self.settings.api_keys
        )

    def check_api_key(self, request: RequestLike | None) -> None:
        """When keys are set, an API call needs one (a logged-in caller without a key passes)."""
        if not self.settings.api_keys or self.has_valid_key(request):
            return
        headers = request.headers if request is not None else {}
        if presented_api_key(headers) is None and self._authenticated(request):
            return
        raise AccessError(
            "this server's API needs a valid key: send it as 'Authorization: Bearer KEY'"
        )

    def for_api(self, request: RequestLike | None, claimed: str) -> str:
        """The user of an API call. A key holder (a site's own backend) may name any user;
        an authenticated caller is that user (naming another is refused); on a server without
        logins or keys the caller names its own (anonymous) user."""
        keyed = self.has_valid_key(request)
        if not keyed:
            self.check_api_key(request)
        claimed = (claimed or "").strip()
        if claimed and keyed:
            return claimed
        name = self._authenticated(request)
        if name:
            if claimed and claimed != name:
                raise IdentityError(
                    f"you are signed in as {name!r} and cannot act as {claimed!r}; "
                    "leave the user empty or give your own name"
                )
            return name
        if not claimed:
            raise IdentityError("name the user this call is for (any id your client keeps)")
        return claimed


SECRET_NAME = "server-secret"
_secrets = sa.MetaData()
secrets_table = sa.Table(
    "server_secrets",
    _secrets,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.String(200), nullable=False),
)


def shared_secret(engine: sa.Engine, data_dir: Path) -> str:
    """The secret every app process over one database uses (kept in the database), so a
    browser's anonymous id made by one replica is read by every other. The first process to
    ask puts this data directory's secret there (an existing server keeps its visitors)."""
    query = sa.select(secrets_table.c.value).where(secrets_table.c.name == SECRET_NAME)
    try:
        _secrets.create_all(engine)
        with engine.connect() as connection, connection.begin():
            found = connection.execute(query).scalar()
        if found:
            return found
        seed = load_or_create_secret(data_dir)
        with (
            engine.connect().execution_options(writing=True) as connection,
            connection.begin(),
        ):
            insert_missing(connection, secrets_table, [{"name": SECRET_NAME, "value": seed}])
            return connection.execute(query).scalar_one()
    except sa.exc.SQLAlchemyError as exc:
        raise StoreError(f"cannot read or keep the server's secret in the database: {exc}") from exc


def load_or_create_secret(data_dir: Path) -> str:
    """A per-library secret (kept in ``DATA_DIR/server-secret``, readable by its owner only)
    that keeps a browser's anonymous id valid across server restarts."""
    path = data_dir / SECRET_FILE
    try:
        secret = path.read_text().strip()
        if secret:
            return secret
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    secret = secrets.token_urlsafe(32)
    temporary = path.with_name(f"{SECRET_FILE}.{uuid.uuid4().hex}.tmp")
    temporary.write_text(secret)
    temporary.chmod(0o600)
    temporary.replace(path)
    return secret
