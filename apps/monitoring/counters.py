"""Counters kept in the database: what worker processes count, every web process reads at scrape time.

Provider API errors and retries happen in Celery workers, possibly on other machines than the web
server Prometheus scrapes, so a counter in a worker's memory (or prometheus_client's multiprocess
files, which are per machine) would never reach /metrics. Each event adds one to a row instead, with
one upsert that PostgreSQL and SQLite both run atomically (several series in one statement). A provider
call, a rate-limiter wait or a Celery task takes milliseconds to seconds; one upsert beside it is noise.
Driver calls are made outside transactions (a transaction is never held open across a provider call),
so their counts commit at once; counts made inside a transaction (a host moved to ready) commit with it.

Histograms are counters too: one series per bucket an observation fell into (``le`` the bucket's upper
bound, not cumulative: apps.monitoring.collector adds them up at scrape time) and one for the sum of the
observed seconds, kept in microseconds under the histogram's name plus ``SUM_SUFFIX``.
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
PROVIDER_CALLS = "provider_calls"
PROVIDER_THROTTLES = "provider_throttles"
RATE_LIMIT_WAITS = "rate_limit_waits"
#: Microseconds the rate limiter held calls back.
RATE_LIMIT_WAIT_US = "rate_limit_wait_us"
RATE_LIMIT_DEFERRALS = "rate_limit_deferrals"
HOSTS_LOST = "hosts_lost"
HOST_FAILURES = "host_failures"
#: Gauges a periodic task sets (see replace()): each budget's spend and forecast over its amount, in millionths.
BUDGET_SPENT_PPM = "budget_spent_ppm"
BUDGET_FORECAST_PPM = "budget_forecast_ppm"
#: Gauges the same task sets: each cluster's run-rate (in millionths of DCP_CURRENCY per hour) and unpriced hosts.
RUN_RATE_MICRO = "cluster_run_rate_micro"
UNPRICED_HOSTS = "cluster_unpriced_hosts"
#: Histograms (see the module's docstring).
HOST_READY = "host_ready_seconds"
INIT_RUNS = "init_run_seconds"
TASK_RUNTIME = "task_runtime_seconds"
SUM_SUFFIX = ":sum_us"
#: Seconds from a host's request to its being ready (created, booted, initialized).
HOST_READY_BUCKETS = (10, 30, 60, 120, 180, 300, 600, 900, 1800, 3600)
#: Seconds an initialization run takes on one host (Ansible or Puppet over SSH).
INIT_RUN_BUCKETS = (5, 10, 30, 60, 120, 300, 600, 1200, 1800)
#: Seconds a Celery task runs: engine steps are short, an initialization long.
TASK_RUNTIME_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900)


def labels_key(labels: dict[str, object]) -> str:
    """The canonical text of a set of labels: one row per set."""
    return json.dumps({name: str(value) for name, value in labels.items()}, sort_keys=True, separators=(",", ":"))


def increment(name: str, labels: dict[str, object], amount: int = 1) -> None:
    """Add amount to the counter name{labels}; never raises (a counter must not break the work it counts)."""
    add([(name, labels, amount)])


def add(series: list[tuple[str, dict[str, object], int]]) -> None:
    """Add to several counters (name, labels, amount) in one statement; never raises."""
    totals: dict[tuple[str, str], int] = {}
    for name, labels, amount in series:
        key = (name, labels_key(labels))
        totals[key] = totals.get(key, 0) + int(amount)
    if not totals:
        return
    table = CounterValue._meta.db_table
    now = timezone.now()
    rows = ", ".join(["(%s, %s, %s, %s)"] * len(totals))
    sql = (
        f"INSERT INTO {table} (name, labels, value, updated_at) VALUES {rows} "  # noqa: S608 - our table
        f"ON CONFLICT (name, labels) DO UPDATE SET value = {table}.value + EXCLUDED.value, "
        "updated_at = EXCLUDED.updated_at"
    )
    # Sorted, so two processes adding to the same rows lock them in the same order (no deadlock).
    params = [value for (name, key), amount in sorted(totals.items()) for value in (name, key, amount, now)]
    try:
        # A savepoint inside a caller's transaction: a failed write must not abort the caller's work.
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, params)
    except DatabaseError as exc:
        logger.warning("Counters %s not incremented: %s", sorted(totals), exc)


def bucket_of(seconds: float, buckets: tuple) -> str:
    """The upper bound (as Prometheus writes it) of the first bucket holding seconds."""
    for bound in buckets:
        if seconds <= bound:
            return str(float(bound))
    return "+Inf"


def observations(name: str, labels: dict[str, object], seconds: float, buckets: tuple) -> list[tuple]:
    """The counter series one histogram observation adds to (give them to add())."""
    return [
        (name, {**labels, "le": bucket_of(seconds, buckets)}, 1),
        (name + SUM_SUFFIX, labels, round(max(seconds, 0.0) * 1_000_000)),
    ]


def observe(name: str, labels: dict[str, object], seconds: float, buckets: tuple) -> None:
    """Record one observation of the histogram name{labels}; never raises."""
    add(observations(name, labels, seconds, buckets))


def replace(names: list[str], series: list[tuple[str, dict[str, object], int]]) -> None:
    """Set gauges that a periodic task computes: every series of these names is replaced by these; never
    raises (the task's own work goes on)."""
    now = timezone.now()
    try:
        with transaction.atomic():
            CounterValue.objects.filter(name__in=names).delete()
            CounterValue.objects.bulk_create(
                CounterValue(name=name, labels=labels_key(labels), value=value, updated_at=now)
                for name, labels, value in series
            )
    except DatabaseError as exc:
        logger.warning("Gauges %s not kept: %s", names, exc)


def all_totals() -> dict[str, list[tuple[dict[str, str], int]]]:
    """Every counter's series, by counter name, in one query."""
    found: dict[str, list[tuple[dict[str, str], int]]] = {}
    for name, labels, value in CounterValue.objects.order_by().values_list("name", "labels", "value"):
        found.setdefault(name, []).append((json.loads(labels), value))
    return found
