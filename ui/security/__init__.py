"""What a public deployment needs at the edge: who is asking (identity), which pages may call
the server (origins), how much one client may send (rate and upload limits), which files a
request may name (uploads only), and messages that tell people what to do without showing
server internals. Everything here lives in ``ui/``; the rooms below receive a plain user id."""

from ui.security.errors import AccessError, IdentityError, UploadError
from ui.security.settings import SecuritySettings

__all__ = ["AccessError", "IdentityError", "SecuritySettings", "UploadError"]
