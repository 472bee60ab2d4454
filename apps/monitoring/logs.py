"""Log lines as JSON (DCP_LOG_FORMAT=json) or text, each with the ids of the request or task it belongs to.

A JSON line holds ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``message``, then whichever of
``request_id``, ``user`` (who made the request, once authenticated), ``task``, ``task_id``, ``job``,
``pool``, ``host``, ``hosts``, ``batch`` and ``provider`` are known: bound by the web middleware and the
Celery task signals (apps.core.context), or given to one call with ``extra={"job": ...}``. A text line
ends with the same ids as ``key=value``.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

from apps.core.context import current_fields, current_request_id, current_username

#: The context keys a line may carry, in the order they are written.
CONTEXT_KEYS = ("request_id", "user", "task", "task_id", "job", "pool", "host", "hosts", "batch", "provider")


def context_of(record: logging.LogRecord) -> dict:
    """The ids a log record carries: the bound context, overridden by what the call gave in ``extra``."""
    found = dict(current_fields())
    request_id = current_request_id()
    if request_id:
        found["request_id"] = request_id
    username = current_username()
    if username:
        found["user"] = username
    for key in CONTEXT_KEYS:
        value = getattr(record, key, None)
        if value not in (None, ""):
            found[key] = value
    return {key: found[key] for key in CONTEXT_KEYS if key in found}


class ContextFilter(logging.Filter):
    """Adds ``context`` (the ids as `` key=value`` text) to every record, for the text format."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Never drops a record; only annotates it."""
        ids = context_of(record)
        record.context = "".join(f" {key}={value}" for key, value in ids.items())
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as a JSON line, with its exception's traceback when it has one."""
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **context_of(record),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, default=str, ensure_ascii=False)
