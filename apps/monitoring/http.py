"""HTTP request metrics, named as django-prometheus names them so its dashboards read them unchanged.

These live in the web process that served the request: Prometheus scrapes every web instance and
adds them up. Under gunicorn, whose worker processes share one port, prometheus_client's
multiprocess mode keeps each process's values in files under PROMETHEUS_MULTIPROC_DIR, and /metrics
adds up those of every process on the machine (gunicorn.conf.py prepares the directory).
"""

from __future__ import annotations

import os
import time

from django.db import connection
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, multiprocess

#: Seconds: from a cache hit to a slow report.
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
#: The view label of a request no URL pattern matched (a 404, or refused before routing).
UNRESOLVED = "<unresolved>"

RESPONSES = Counter(
    "django_http_responses_total_by_status_view_method",
    "HTTP responses by status code, view (URL name) and method.",
    ("status", "view", "method"),
)
LATENCY = Histogram(
    "django_http_requests_latency_seconds_by_view_method",
    "Seconds from a request's arrival to its response, by view (URL name) and method.",
    ("view", "method"),
    buckets=LATENCY_BUCKETS,
)
QUERIES = Counter(
    "django_db_queries_by_view_method",
    "SQL statements run while answering requests, by view (URL name) and method: per request, divide by "
    "django_http_requests_latency_seconds_by_view_method_count.",
    ("view", "method"),
)
#: Methods counted under their own name; anything else (a client's invention) counts as "other".
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def view_name(request) -> str:
    """The matched URL's name (namespaced, e.g. ``pool-scale``, ``console:home``), else its view's dotted path."""
    match = getattr(request, "resolver_match", None)
    if match is None:
        return UNRESOLVED
    return match.view_name or UNRESOLVED


class HttpMetricsMiddleware:
    """Counts every response and its SQL statements and times every request, by view, method and status."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.perf_counter()
        counted = StatementCounter()
        with connection.execute_wrapper(counted):
            response = self.get_response(request)
        method = request.method if request.method in METHODS else "other"
        view = view_name(request)
        LATENCY.labels(view, method).observe(time.perf_counter() - started)
        RESPONSES.labels(str(response.status_code), view, method).inc()
        QUERIES.labels(view, method).inc(counted.count)
        return response


class StatementCounter:
    """A database execute wrapper that counts the statements run through it."""

    def __init__(self):
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        self.count += 1
        return execute(sql, params, many, context)


def process_registry() -> CollectorRegistry:
    """This machine's web metrics: every gunicorn process's in multiprocess mode, else this process's own."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY
