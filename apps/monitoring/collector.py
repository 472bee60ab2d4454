"""The metrics computed from the database (and the broker) at scrape time: the fleet's state as it is now.

State is read, not remembered: every web process answers the same, and a restart loses nothing. The
cost is a fixed number of aggregate queries whatever the fleet's size (bench/metrics.py measures them
on 100,000 hosts): hosts by pool, provider and status; pools; providers; templates; jobs by kind and
status; the scale-out duration histogram; orphans; the counters
every process keeps (apps.monitoring.counters, read by apps.monitoring.events); worker heartbeats; the
clusters' run-rate and budgets (apps.monitoring.spend); scaling schedules and policies with what their
occurrences and triggers did. Queue lengths take one broker connection.

Names follow the Kubernetes cluster autoscaler where it reports the same thing (nodes by state, failed
scale-ups by reason, scale-up durations, cloud-provider errors) and celery-exporter for Celery.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterator
from datetime import timedelta

from django.conf import settings
from django.db import connection
from django.db.models import Count, DurationField, ExpressionWrapper, F, Max, Q, Sum
from django.db.models.functions import Now
from django.utils import timezone
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric

from apps.core import workers
from apps.core.models import WorkerHeartbeat
from apps.inventory.choices import HostStatus
from apps.inventory.models import Host, ServicePool
from apps.monitoring import counters
from apps.monitoring.events import event_metrics
from apps.monitoring.spend import spend_metrics
from apps.providers.models import CloudAccount, MachineTemplate
from apps.provisioning.choices import JobKind, JobStatus
from apps.provisioning.models import Job, OrphanInstance
from apps.scaling.models import PolicyTrigger, ScalingPolicy, ScalingSchedule, ScheduleOccurrence

logger = logging.getLogger(__name__)

#: Seconds from a scale request to its job's end: a physical machine in seconds, a cloud burst in minutes.
SCALE_OUT_BUCKETS = (10, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200)


def pool_labels(pools: dict, pool_id: int) -> list[str]:
    """The cluster and pool names of a pool (its id, should it have gone meanwhile)."""
    pool = pools.get(pool_id)
    return [pool["cluster_name"], pool["name"]] if pool else ["", str(pool_id)]


def provider_labels(providers: dict, provider_id) -> list[str]:
    """The name and kind of a provider account (its id, should it have gone)."""
    found = providers.get(int(provider_id))
    return [found["name"], found["kind"]] if found else [str(provider_id), ""]


def fetch(queryset) -> list[tuple]:
    """The rows of a values_list queryset straight from the cursor: ids, codes and counts need no conversion,
    and Django's per-row conversion of thousands of groups costs more than the query."""
    sql, params = queryset.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def duration_histogram(queryset, start: str, end: str, buckets: tuple, group: str) -> list:
    """One aggregate query: per value of ``group``, how many rows took at most each bucket's seconds from
    ``start`` to ``end`` (cumulative, as Prometheus counts them), how many in all, and their seconds summed."""
    taken = ExpressionWrapper(F(end) - F(start), output_field=DurationField())
    columns = {
        f"le_{index}": Count("pk", filter=Q(**{f"{end}__lte": F(start) + timedelta(seconds=bound)}))
        for index, bound in enumerate(buckets)
    }
    rows = (
        queryset.filter(**{f"{end}__isnull": False})
        .order_by()
        .values(group)
        .annotate(total=Count("pk"), seconds=Sum(taken), **columns)
    )
    found = []
    for row in rows:
        counts = [(str(float(bound)), row[f"le_{index}"]) for index, bound in enumerate(buckets)]
        counts.append(("+Inf", row["total"]))
        seconds = row["seconds"].total_seconds() if row["seconds"] is not None else 0.0
        found.append((row[group], counts, seconds))
    return found


class StateCollector:
    """A prometheus_client collector that reads DCP's state when scraped."""

    def collect(self) -> Iterator[Metric]:
        """Every metric; when the database cannot be read, only dcp_database_up 0 (and the broker's)."""
        up = GaugeMetricFamily("dcp_database_up", "Whether /metrics could read DCP's database (1) or not (0).")
        try:
            families = list(database_metrics())
        except Exception:
            logger.exception("Metrics could not be read from the database")
            families = []
        up.add_metric([], 1 if families else 0)
        yield up
        yield from families
        yield from broker_metrics()


def database_metrics() -> Iterator[Metric]:
    """The metrics read from the database."""
    providers = {row["pk"]: row for row in CloudAccount.objects.order_by().values("pk", "name", "kind")}
    templates = dict(MachineTemplate.objects.order_by().values_list("pk", "name"))
    pools = {
        row["pk"]: row
        for row in ServicePool.objects.order_by().values(
            "pk", "name", "desired_size", "below_desired_since", cluster_name=F("cluster__name")
        )
    }
    yield from host_metrics(pools, providers)
    yield from job_metrics()
    yield orphan_metrics(providers)
    yield from scaling_metrics(pools)
    totals = counters.all_totals()
    yield from event_metrics(
        totals,
        lambda pk: provider_labels(providers, pk),
        lambda pk: templates.get(int(pk), str(pk)),
    )
    yield from spend_metrics(totals)
    yield from worker_metrics()


def host_metrics(pools: dict, providers: dict) -> Iterator[Metric]:
    """Hosts by pool, provider and status; each pool's desired, active and ready hosts and time below desired."""
    hosts = GaugeMetricFamily(
        "dcp_hosts",
        "Hosts not terminated, by cluster, pool, provider and status.",
        labels=["cluster", "pool", "provider", "status"],
    )
    requested = CounterMetricFamily(
        "dcp_hosts_requested",
        "Hosts ever planned on each provider account (terminated ones too).",
        labels=["provider", "kind"],
    )
    active, ready = defaultdict(int), defaultdict(int)
    per_provider = defaultdict(int)
    # Grouped in host_pool_status_provider_idx's order, and COUNT(*): read from that index alone.
    rows = fetch(Host.objects.order_by().values_list("pool_id", "status", "provider_id").annotate(n=Count("*")))
    for pool_id, status, provider_id, count in rows:
        per_provider[provider_id] += count
        if status == HostStatus.TERMINATED:
            continue
        name = provider_labels(providers, provider_id)[0]
        hosts.add_metric([*pool_labels(pools, pool_id), name, status], count)
        if status in HostStatus.ACTIVE:
            active[pool_id] += count
        if status == HostStatus.READY:
            ready[pool_id] += count
    for provider_id, count in sorted(per_provider.items()):
        requested.add_metric(provider_labels(providers, provider_id), count)
    yield hosts
    yield requested
    yield from pool_metrics(pools, active, ready)


def pool_metrics(pools: dict, active: dict, ready: dict) -> Iterator[Metric]:
    """Each pool's desired size against its hosts, and how long it has had fewer ready hosts than desired."""
    labels = ["cluster", "pool"]
    desired = GaugeMetricFamily("dcp_pool_desired_hosts", "The pool's desired size.", labels=labels)
    counted = GaugeMetricFamily(
        "dcp_pool_active_hosts", "The pool's hosts pending, creating, initializing or ready.", labels=labels
    )
    good = GaugeMetricFamily("dcp_pool_ready_hosts", "The pool's ready hosts.", labels=labels)
    below = GaugeMetricFamily(
        "dcp_pool_below_desired_seconds",
        "Seconds the pool has had fewer ready hosts than desired (0 while it has enough).",
        labels=labels,
    )
    now = timezone.now()
    for pool_id, pool in pools.items():
        names = [pool["cluster_name"], pool["name"]]
        desired.add_metric(names, pool["desired_size"])
        counted.add_metric(names, active.get(pool_id, 0))
        good.add_metric(names, ready.get(pool_id, 0))
        since = pool["below_desired_since"]
        below.add_metric(names, max(0.0, (now - since).total_seconds()) if since else 0.0)
    yield from (desired, counted, good, below)


def job_metrics() -> Iterator[Metric]:
    """Jobs by kind and status, and how long scale-outs took from request to end."""
    jobs = GaugeMetricFamily("dcp_jobs", "Jobs by kind and status.", labels=["kind", "status"])
    seen = {
        (kind, status): count
        for kind, status, count in Job.objects.order_by().values_list("kind", "status").annotate(n=Count("pk"))
    }
    for kind in JobKind.values():
        for status in JobStatus.values():
            jobs.add_metric([kind, status], seen.get((kind, status), 0))
    yield jobs
    histogram = HistogramMetricFamily(
        "dcp_scale_out_duration_seconds",
        "Seconds from a scale-out request to its job's end, by how it ended.",
        labels=["status"],
    )
    finished = Job.objects.filter(kind=JobKind.SCALE_OUT, status__in=JobStatus.TERMINAL)
    for status, buckets, seconds in duration_histogram(
        finished, "created_at", "finished_at", SCALE_OUT_BUCKETS, "status"
    ):
        histogram.add_metric([status], buckets, seconds)
    yield histogram


def orphan_metrics(providers: dict) -> Metric:
    """Instances carrying DCP's tags that no host claims, as the sweep found them, by account and state."""
    orphans = GaugeMetricFamily(
        "dcp_orphan_instances",
        "Instances with DCP's tags that no host claims, found by the sweep, by provider account and state "
        "(reported, terminated, gone).",
        labels=["provider", "kind", "state"],
    )
    rows = OrphanInstance.objects.order_by().values_list("provider_id", "state").annotate(n=Count("pk"))
    for provider_id, state, count in rows:
        orphans.add_metric([*provider_labels(providers, provider_id), state], count)
    return orphans


def scaling_metrics(pools: dict) -> Iterator[Metric]:
    """Each pool's enabled schedules and policies, and what their occurrences and triggers did, by outcome.

    The occurrences and triggers are the ones recorded (a deleted schedule or policy takes its own with it),
    so they are gauges; the time of the latest of each outcome is what alerts use (a restart of Prometheus or a
    pool's first miss alerts alike). A missed occurrence is one DCP was down for past its grace.
    """
    labels = ["cluster", "pool"]
    plans = (
        (ScalingSchedule, "dcp_scaling_schedules", "Scaling schedules of the pool, by enabled."),
        (ScalingPolicy, "dcp_scaling_policies", "Alert-triggered scaling policies, by enabled."),
    )
    for model, name, text in plans:
        family = GaugeMetricFamily(name, text, labels=[*labels, "enabled"])
        for pool_id, enabled, count in fetch(
            model.objects.order_by().values_list("pool_id", "enabled").annotate(n=Count("*"))
        ):
            family.add_metric([*pool_labels(pools, pool_id), "true" if enabled else "false"], count)
        yield family
    occurrences = GaugeMetricFamily(
        "dcp_scaling_occurrences",
        "Schedule occurrences recorded, by kind (start, end) and status (scaled, unchanged, at_bound, "
        "budget_refused, refused, missed).",
        labels=[*labels, "kind", "status"],
    )
    occurred = GaugeMetricFamily(
        "dcp_scaling_occurrence_last_timestamp_seconds",
        "When the latest of those occurrences was due (Unix time): alert on a recent missed one.",
        labels=[*labels, "kind", "status"],
    )
    rows = ScheduleOccurrence.objects.order_by().values_list("schedule__pool_id", "kind", "status")
    for pool_id, kind, status, count, last in fetch(rows.annotate(n=Count("*"), last=Max("time"))):
        occurrences.add_metric([*pool_labels(pools, pool_id), kind, status], count)
        occurred.add_metric([*pool_labels(pools, pool_id), kind, status], last.timestamp())
    yield occurrences
    yield occurred
    triggers = GaugeMetricFamily(
        "dcp_scaling_triggers",
        "Policy triggers recorded (alert payloads and ends of stable periods), by what the policy decided.",
        labels=[*labels, "decision"],
    )
    triggered = GaugeMetricFamily(
        "dcp_scaling_trigger_last_timestamp_seconds",
        "When the latest of those triggers arrived (Unix time): alert on a recent refusal.",
        labels=[*labels, "decision"],
    )
    rows = PolicyTrigger.objects.order_by().values_list("policy__pool_id", "decision")
    for pool_id, decision, count, last in fetch(rows.annotate(n=Count("*"), last=Max("time"))):
        triggers.add_metric([*pool_labels(pools, pool_id), decision], count)
        triggered.add_metric([*pool_labels(pools, pool_id), decision], last.timestamp())
    yield triggers
    yield triggered


def worker_metrics() -> Iterator[Metric]:
    """Celery workers as their heartbeats tell: running or not, heartbeat age, consumers of each queue."""
    age = ExpressionWrapper(Now() - F("seen_at"), output_field=DurationField())
    rows = WorkerHeartbeat.objects.order_by().values_list("hostname", "queues").annotate(age=age)
    up = GaugeMetricFamily(
        "celery_worker_up", "Whether a worker's heartbeat is recent (1) or stale (0).", labels=["hostname"]
    )
    beat = GaugeMetricFamily(
        "dcp_worker_heartbeat_age_seconds", "Seconds since the worker's last heartbeat.", labels=["hostname"]
    )
    consumers = dict.fromkeys(settings.DCP_QUEUES, 0)
    ages: dict[str, float] = {}
    running = 0
    for hostname, queues, seen in rows:
        seconds = max(0.0, seen.total_seconds())
        ages[hostname] = min(seconds, ages.get(hostname, seconds))
        if seconds < workers.ALIVE_SECONDS:
            running += 1
            for name in set(queues) & consumers.keys():
                consumers[name] += 1
    for hostname, seconds in sorted(ages.items()):
        up.add_metric([hostname], 1 if seconds < workers.ALIVE_SECONDS else 0)
        beat.add_metric([hostname], seconds)
    count = GaugeMetricFamily("dcp_workers_running", "Celery workers whose heartbeat is recent.")
    count.add_metric([], running)
    consuming = GaugeMetricFamily(
        "celery_active_consumer_count", "Running workers that consume each of DCP's queues.", labels=["queue_name"]
    )
    for name, value in consumers.items():
        consuming.add_metric([name], value)
    yield from (up, beat, count, consuming)


def broker_metrics() -> Iterator[Metric]:
    """Messages waiting in each of DCP's queues, and whether the broker answered."""
    from apps.core.health import BROKER_TIMEOUT, broker_connection
    from dcp.celery import app

    up = GaugeMetricFamily("dcp_broker_up", "Whether /metrics could read the broker's queues (1) or not (0).")
    lengths = GaugeMetricFamily(
        "celery_queue_length", "Messages waiting in each of DCP's queues.", labels=["queue_name"]
    )
    try:
        with broker_connection() as conn:
            conn.ensure_connection(max_retries=0, timeout=BROKER_TIMEOUT)
            channel = conn.default_channel
            for name in settings.DCP_QUEUES:
                declared = app.amqp.queues[name].bind(channel).queue_declare()
                lengths.add_metric([name], declared.message_count)
        up.add_metric([], 1)
    except Exception:  # noqa: BLE001 - an unreachable broker is what dcp_broker_up 0 says
        logger.warning("Queue lengths could not be read from the broker", exc_info=True)
        up.add_metric([], 0)
        yield up
        return
    yield up
    yield lengths
