"""Per-request and per-task context (request id, api or console, the ids being worked on) for logs and audit entries.

The web middleware sets the request id; Celery tasks take it over from the message that queued them (a
header ``dispatch`` adds), so a scale request and every engine step it caused carry the same id in the logs.
``bind`` adds the ids a piece of work concerns (job, pool, host, batch), which every log line in it carries.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_request_id: ContextVar[str] = ContextVar("dcp_request_id", default="")
_via: ContextVar[str] = ContextVar("dcp_via", default="system")
_fields: ContextVar[dict] = ContextVar("dcp_log_fields", default={})  # noqa: B039 - never mutated, only replaced


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
