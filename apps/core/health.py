"""/healthz: whether this process reaches its database and broker, and which queues a worker serves.

Load balancers and compose call it every few seconds, so it answers in bounded time: one query for
the database and worker heartbeats, and one broker connection whose every socket operation gives up
after BROKER_TIMEOUT seconds. The status says whether this process can serve (database and broker);
the body also says how many workers run and which of DCP's queues none consumes, for monitors.
"""

from urllib.parse import urlsplit

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from apps.core import workers
from dcp.celery import app

#: Seconds a broker connection, or any read or write on it, may take before the broker counts as down.
BROKER_TIMEOUT = 2.0
#: The transport options that bound socket operations, by broker URL scheme (the filesystem transport
#: of the embedded default has no sockets).
TIMEOUT_OPTIONS = {
    "redis": ("socket_timeout", "socket_connect_timeout"),
    "rediss": ("socket_timeout", "socket_connect_timeout"),
    "amqp": ("read_timeout", "write_timeout"),
    "amqps": ("read_timeout", "write_timeout"),
    "pyamqp": ("read_timeout", "write_timeout"),
}


def database_reachable() -> bool:
    """Whether a query on the database answers."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:  # noqa: BLE001 - any failure means unreachable
        return False
    return True


def broker_connection():
    """A connection to the broker whose connect and every socket operation give up after BROKER_TIMEOUT
    (not yet connected: use it in a with block and call ensure_connection(max_retries=0))."""
    scheme = urlsplit(app.conf.broker_url).scheme
    options = dict.fromkeys(TIMEOUT_OPTIONS.get(scheme, ()), BROKER_TIMEOUT)
    return app.connection_for_write(connect_timeout=BROKER_TIMEOUT, transport_options=options)


def broker_reachable() -> bool:
    """Whether the broker accepts a connection within BROKER_TIMEOUT (one attempt, no retries)."""
    try:
        with broker_connection() as conn:
            conn.ensure_connection(max_retries=0, timeout=BROKER_TIMEOUT)
    except Exception:  # noqa: BLE001 - any failure means unreachable
        return False
    return True


def worker_summary(database: bool) -> dict:
    """How many workers run, how many consume each of DCP's queues, and the queues none consumes
    (all null when the database, where workers write their heartbeats, cannot be read)."""
    try:
        if not database:
            raise ConnectionError("the database is down")
        count, queues = workers.consumers(settings.DCP_QUEUES)
    except Exception:  # noqa: BLE001 - unknown, said as null
        return {"workers": None, "queues": None, "queues_without_worker": None}
    return {"workers": count, "queues": queues, "queues_without_worker": [q for q, n in queues.items() if not n]}


@never_cache
@require_safe
def healthz(request):
    """200 when the database and broker are reachable, else 503 naming what is down; with the workers.

    {"database": "ok", "broker": "ok", "workers": 1, "queues": {"engine": 1, "provider": 1, "init": 1},
    "queues_without_worker": []}. A web process without workers is healthy (it can accept and queue
    work), so workers do not change the status. Reveals nothing else: no names, addresses or versions.
    """
    database = database_reachable()
    checks = {"database": "ok" if database else "down", "broker": "ok" if broker_reachable() else "down"}
    healthy = all(value == "ok" for value in checks.values())
    return JsonResponse({**checks, **worker_summary(database)}, status=200 if healthy else 503)
