"""Per-request and per-task context (request id, api or console, the ids being worked on) for logs and audit entries.

The web middleware sets the request id; Celery tasks take it over from the message that queued them (a
header ``dispatch`` adds), so a scale request and every engine step it caused carry the same id in the logs.
``bind`` adds the ids a piece of work concerns (job, pool, host, batch), which every log line in it carries.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.utils.functional import SimpleLazyObject, empty

_request_id: ContextVar[str] = ContextVar("dcp_request_id", default="")
_via: ContextVar[str] = ContextVar("dcp_via", default="system")
_fields: ContextVar[dict] = ContextVar("dcp_log_fields", default={})  # noqa: B039 - never mutated, only replaced
_http_request: ContextVar[object] = ContextVar("dcp_http_request", default=None)


def current_request_id() -> str:
    """The id of the request being served (or that queued the task being run), or ''."""
    return _request_id.get()


def current_via() -> str:
    """'api', 'console', or 'system' outside a request."""
    return _via.get()


def set_request(request_id: str, via: str) -> tuple:
    """Set the context for one request or task, with no ids bound yet; returns tokens for reset_request()."""
    return _request_id.set(request_id), _via.set(via), _fields.set({})


def reset_request(tokens: tuple) -> None:
    """Undo set_request()."""
    _request_id.reset(tokens[0])
    _via.reset(tokens[1])
    _fields.reset(tokens[2])


def set_http_request(request) -> object:
    """Keep the request being served, so log lines can name who made it; returns a token for reset_http_request()."""
    return _http_request.set(request)


def reset_http_request(token) -> None:
    """Undo set_http_request()."""
    _http_request.reset(token)


def current_username() -> str:
    """The user the request being served was authenticated as, once it has been, else ''.

    Never authenticates by itself (a log line must not query the database): Django's session user is read only
    once something has evaluated it (the console's login check), and DRF sets the request's user when its token
    or session authentication has run.
    """
    request = _http_request.get()
    user = getattr(request, "__dict__", {}).get("user")
    if isinstance(user, SimpleLazyObject):
        user = user._wrapped
        if user is empty:
            return ""
    return user.get_username() if getattr(user, "is_authenticated", False) else ""


def current_fields() -> dict:
    """The ids bound for the work being done now (``job``, ``pool``, ``host``, ...), for log lines."""
    return _fields.get()


def set_fields(**fields) -> object:
    """Add ids to the context (None and '' are left out); returns a token for reset_fields()."""
    given = {name: value for name, value in fields.items() if value not in (None, "")}
    return _fields.set({**_fields.get(), **given})


def reset_fields(token) -> None:
    """Undo set_fields()."""
    _fields.reset(token)


@contextmanager
def bind(**fields) -> Iterator[None]:
    """Within the block, every log line carries these ids too."""
    token = set_fields(**fields)
    try:
        yield
    finally:
        reset_fields(token)
