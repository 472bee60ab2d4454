"""Per-request context (request id, api or console) for logs and audit entries."""

from contextvars import ContextVar

_request_id: ContextVar[str] = ContextVar("dcp_request_id", default="")
_via: ContextVar[str] = ContextVar("dcp_via", default="system")


def current_request_id() -> str:
    """The id of the request being served, or '' outside a request."""
    return _request_id.get()


def current_via() -> str:
    """'api', 'console', or 'system' outside a request."""
    return _via.get()


def set_request(request_id: str, via: str) -> tuple:
    """Set the context for one request; returns tokens for reset_request()."""
    return _request_id.set(request_id), _via.set(via)


def reset_request(tokens: tuple) -> None:
    """Undo set_request()."""
    _request_id.reset(tokens[0])
    _via.reset(tokens[1])
