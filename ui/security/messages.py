"""Messages for people, logs for operators. A user error becomes one plain sentence (no server
paths, no traceback in the log); anything unexpected becomes a sentence with a reference id,
and the traceback goes to the log under that id."""

from __future__ import annotations

import functools
import logging
import re
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import gradio as gr

from recsys.errors import RecsysError
from retrieval.errors import CrossmediaError

log = logging.getLogger("crossmedia.requests")
USER_ERRORS: tuple[type[Exception], ...] = (CrossmediaError, RecsysError)
# An absolute path (two or more parts); only its last part is shown to people.
_ABSOLUTE_PATH = re.compile(r"(?<![\w.:/])/(?:[^/\s:'\"()]+/)+([^/\s:'\"()]+)")
_ERRNO = re.compile(r"\s*\[Errno -?\d+\]")

F = TypeVar("F", bound=Callable[..., Any])


def public_message(exc: BaseException) -> str:
    """The error's message with server paths cut to file names and errno numbers dropped."""
    text = _ABSOLUTE_PATH.sub(lambda m: m.group(1), str(exc))
    return _ERRNO.sub("", text).strip() or "The request could not be served."


def unexpected(exc: BaseException, what: str) -> str:
    """Log ``exc`` with its traceback under a new reference id; the sentence to show."""
    reference = uuid.uuid4().hex[:10]
    log.error("%s failed unexpectedly (reference %s)", what, reference, exc_info=exc)
    return (
        f"Something went wrong on the server (reference {reference}). "
        "Try again; if it keeps happening, give the reference to the site's operator."
    )


def sentence_for(exc: BaseException, what: str) -> str:
    """What to tell the person about an exception raised while serving ``what``: a user error's
    own message (one INFO log line), else a reference id (traceback in the log)."""
    if isinstance(exc, USER_ERRORS):
        message = public_message(exc)
        log.info("%s refused: %s", what, message)
        return message
    return unexpected(exc, what)


def as_gradio_error(exc: BaseException, what: str) -> gr.Error:
    """A gr.Error for an exception raised while serving ``what``."""
    return gr.Error(sentence_for(exc, what), print_exception=False)


def api_endpoint(what: str) -> Callable[[F], F]:
    """Decorate an API handler so that its errors reach the caller as described above."""

    def decorate(handler: F) -> F:
        @functools.wraps(handler)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            try:
                return handler(*args, **kwargs)
            except gr.Error:
                raise
            except Exception as exc:
                raise as_gradio_error(exc, what) from None

        return wrapped  # type: ignore[return-value]

    return decorate


def chat_warning(exc: BaseException, what: str) -> str:
    """The chat bubble for an exception raised during a turn."""
    return f"⚠️ {sentence_for(exc, what)}"
