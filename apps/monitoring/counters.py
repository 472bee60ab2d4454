"""Counters kept in the database: what worker processes count, every web process reads at scrape time.

Provider API errors and retries happen in Celery workers, possibly on other machines than the web
server Prometheus scrapes, so a counter in a worker's memory (or prometheus_client's multiprocess
files, which are per machine) would never reach /metrics. Each event adds one to a row instead, with
one upsert that PostgreSQL and SQLite both run atomically. Errors are rare next to the calls they
count, so the write costs nothing worth measuring. Driver calls are made outside transactions (a
transaction is never held open across a provider call), so the count commits at once.
"""

from __future__ import annotations

import json
import logging

from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from apps.monitoring.models import CounterValue

logger = logging.getLogger(__name__)

PROVIDER_ERRORS = "provider_errors"
PROVIDER_RETRIES = "provider_retries"


def labels_key(labels: dict[str, object]) -> str:
    """The canonical text of a set of labels: one row per set."""
    return json.dumps({name: str(value) for name, value in labels.items()}, sort_keys=True, separators=(",", ":"))


def increment(name: str, labels: dict[str, object], amount: int = 1) -> None:
    """Add amount to the counter name{labels}; never raises (a counter must not break the work it counts)."""
    key = labels_key(labels)
    table = CounterValue._meta.db_table
    sql = (
        f"INSERT INTO {table} (name, labels, value, updated_at) VALUES (%s, %s, %s, %s) "  # noqa: S608 - our table
        f"ON CONFLICT (name, labels) DO UPDATE SET value = {table}.value + EXCLUDED.value, "
        "updated_at = EXCLUDED.updated_at"
    )
    try:
        # A savepoint inside a caller's transaction: a failed write must not abort the caller's work.
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, [name, key, amount, timezone.now()])
    except DatabaseError as exc:
        logger.warning("Counter %s%s not incremented: %s", name, key, exc)


def all_totals() -> dict[str, list[tuple[dict[str, str], int]]]:
    """Every counter's series, by counter name, in one query."""
    found: dict[str, list[tuple[dict[str, str], int]]] = {}
    for name, labels, value in CounterValue.objects.order_by().values_list("name", "labels", "value"):
        found.setdefault(name, []).append((json.loads(labels), value))
    return found
