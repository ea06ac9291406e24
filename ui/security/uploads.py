"""Files a request may name: only what its client uploaded through Gradio's upload route.

Gradio copies a ``FileData`` argument into its upload cache before a handler runs and refuses
a path outside that cache only once the app counts as launched (``gr.mount_gradio_app`` does
not set that; ``ui.server`` does). This check is the second wall: every handler that takes
files calls it, so a server-side path, a folder, a special file or a link never reaches the
models, whatever Gradio version runs."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ui.security.errors import UploadError


def upload_root() -> Path:
    """Gradio's upload cache (``$GRADIO_TEMP_DIR``, else the system temp folder's ``gradio``)."""
    from gradio.utils import get_upload_folder

    return Path(get_upload_folder()).resolve()


def is_inside_uploads(path: str, root: Path | None = None) -> bool:
    """True when ``path`` (resolved as Gradio resolves it, links followed) lies in the upload
    cache. A URL is never inside: Gradio would fetch it from the server (SSRF)."""
    root = root or upload_root()
    try:
        return Path(os.path.abspath(path)).resolve().is_relative_to(root)
    except (OSError, RuntimeError, ValueError):
        return False


def require_upload(path: str | os.PathLike[str], root: Path | None = None) -> Path:
    """``path`` as a resolved regular file inside the upload cache, else UploadError."""
    root = root or upload_root()
    given = Path(path)
    name = given.name or "the file"
    try:
        resolved = Path(os.path.abspath(given)).resolve(strict=True)
        mode = os.lstat(resolved).st_mode
    except (OSError, RuntimeError):
        raise UploadError(f"{name}: no such uploaded file; upload it first") from None
    if not resolved.is_relative_to(root):
        raise UploadError(f"{name}: only files uploaded to this server can be used")
    if not stat.S_ISREG(mode):
        raise UploadError(f"{name}: not a regular file")
    return resolved
