"""The metrics of events that leave no other trace, as the processes that met them counted them
(apps.monitoring.counters): provider calls, errors and throttles, rate-limiter waits, failed and lost hosts,
and the
histograms of hosts' time to ready, initialization runs and Celery tasks. All of them come from the one
query that reads every counter; ids in the stored labels become names here.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator

from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric

from apps.monitoring import counters

Totals = dict[str, list[tuple[dict[str, str], int]]]
Translate = Callable[[dict[str, str]], list[str]]
MICRO = 1_000_000


def counter_family(
    totals: Totals,
    counter: str,
    name: str,
    documentation: str,
    labels: list[str],
    translate: Translate,
    scale: float = 1,
) -> CounterMetricFamily:
    """A counter family of every stored series of counter, its labels translated (ids to names)."""
    family = CounterMetricFamily(name, documentation, labels=labels)
    for stored, value in totals.get(counter, []):
        family.add_metric(translate(stored), value / scale)
    return family


def histogram_family(
    totals: Totals, counter: str, name: str, documentation: str, labels: list[str], translate: Translate, buckets: tuple
) -> HistogramMetricFamily:
    """A histogram family from the stored per-bucket counts (made cumulative here) and sums.

    A count stored under a bound no longer in ``buckets`` is added to the first bucket that holds it.
    """
    sums = {counters.labels_key(stored): value for stored, value in totals.get(counter + counters.SUM_SUFFIX, [])}
    counts: dict[str, list[int]] = defaultdict(lambda: [0] * (len(buckets) + 1))
    series: dict[str, dict[str, str]] = {}
    bounds = [str(float(bound)) for bound in buckets] + ["+Inf"]
    for stored, value in totals.get(counter, []):
        labels_only = {key: text for key, text in stored.items() if key != "le"}
        key = counters.labels_key(labels_only)
        series[key] = labels_only
        le = stored.get("le", "+Inf")
        place = bounds.index(le) if le in bounds else bounds.index(counters.bucket_of(float(le), buckets))
        counts[key][place] += value
    family = HistogramMetricFamily(name, documentation, labels=labels)
    for key, per_bucket in counts.items():
        running, cumulative = 0, []
        for bound, count in zip(bounds, per_bucket, strict=True):
            running += count
            cumulative.append((bound, running))
        family.add_metric(translate(series[key]), cumulative, sums.get(key, 0) / MICRO)
    return family


def event_metrics(totals: Totals, provider_labels: Callable, template_name: Callable) -> Iterator[Metric]:
    """Every family kept in counters."""

    def on(*names: str) -> Translate:
        return lambda stored: [*provider_labels(stored["provider"]), *(stored[name] for name in names)]

    by_provider = ["provider", "kind"]
    yield counter_family(
        totals,
        counters.PROVIDER_CALLS,
        "dcp_provider_api_calls",
        "Calls made to a provider's API, by account and operation (driver call).",
        [*by_provider, "operation"],
        on("operation"),
    )
    yield counter_family(
        totals,
        counters.PROVIDER_ERRORS,
        "dcp_provider_errors",
        "Provider API calls that failed, by account, operation (driver call) and error kind.",
        [*by_provider, "operation", "error"],
        on("operation", "error"),
    )
    yield counter_family(
        totals,
        counters.PROVIDER_THROTTLES,
        "dcp_provider_throttles",
        "Provider API calls the provider refused as over its rate limit, by account and operation.",
        [*by_provider, "operation"],
        on("operation"),
    )
    yield counter_family(
        totals,
        counters.PROVIDER_RETRIES,
        "dcp_provider_retries",
        "Engine steps retried with back-off after a throttled or failed provider call, by account and step.",
        [*by_provider, "operation"],
        on("operation"),
    )
    yield counter_family(
        totals,
        counters.RATE_LIMIT_WAITS,
        "dcp_rate_limiter_waits",
        "Provider calls DCP's rate limiter held back briefly to stay under the provider's limits, by account "
        "and action (create, describe, destroy, catalog, tag).",
        [*by_provider, "action"],
        on("action"),
    )
    yield counter_family(
        totals,
        counters.RATE_LIMIT_WAIT_US,
        "dcp_rate_limiter_wait_seconds",
        "Seconds DCP's rate limiter held provider calls back, by account and action.",
        [*by_provider, "action"],
        on("action"),
        scale=MICRO,
    )
    yield counter_family(
        totals,
        counters.RATE_LIMIT_DEFERRALS,
        "dcp_rate_limiter_deferrals",
        "Provider calls the rate limiter put off to a later retry of their step (the wait would be too long).",
        [*by_provider, "action"],
        on("action"),
    )
    yield counter_family(
        totals,
        counters.HOST_FAILURES,
        "dcp_host_failures",
        "Hosts that failed (creation, boot or initialization), by provider account and reason.",
        [*by_provider, "reason"],
        on("reason"),
    )
    yield counter_family(
        totals,
        counters.HOSTS_LOST,
        "dcp_hosts_lost",
        "Hosts the sweep found gone from their provider (marked lost, then replaced), by account.",
        by_provider,
        on(),
    )
    yield histogram_family(
        totals,
        counters.HOST_READY,
        "dcp_host_ready_duration_seconds",
        "Seconds from a host's request to its being ready (created, booted, initialized), by provider account "
        "and template.",
        [*by_provider, "template"],
        lambda stored: [*provider_labels(stored["provider"]), template_name(stored["template"])],
        counters.HOST_READY_BUCKETS,
    )
    yield histogram_family(
        totals,
        counters.INIT_RUNS,
        "dcp_init_run_duration_seconds",
        "Seconds an initialization run took on one host, by method (ansible, puppet) and outcome.",
        ["method", "outcome"],
        lambda stored: [stored["method"], stored["outcome"]],
        counters.INIT_RUN_BUCKETS,
    )
    yield histogram_family(
        totals,
        counters.TASK_RUNTIME,
        "celery_task_runtime_seconds",
        "Seconds each Celery task ran, by task name and outcome (succeeded, failed, retried), in every worker.",
        ["name", "outcome"],
        lambda stored: [stored["task"], stored["outcome"]],
        counters.TASK_RUNTIME_BUCKETS,
    )
