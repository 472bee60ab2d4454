"""Benchmark: one scrape of GET /metrics on a fleet of 100,000 hosts.

Builds the fleet of bench/fleet.py (100 clusters, 1,000 pools, 100,000 hosts, 10,000 jobs), worker
heartbeats, what the workers count (provider calls and errors, rate-limiter waits, histograms of hosts'
time to ready, init runs and Celery tasks), a price per instance type and a budget per cluster (whose
figures the budget check keeps) on PostgreSQL, then scrapes /metrics through Django's full stack
(middleware, the address check) ``--repeat`` times after one warm-up. Prints the fastest, median and
p95 wall time, the web process's CPU time, the SQL statements of one scrape, the size of the answer and
its number of samples, and the time of each part of the collector on its own. Asserts nothing.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/dcp_benchmetrics \\
    CELERY_BROKER_URL=redis://127.0.0.1:6379/7 .venv/bin/python bench/metrics.py --repeat 10

``--keep`` benchmarks the fleet already in the database (after migrating it).
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.common import QueryCounter, recreate_database  # noqa: E402 - needs ROOT on the path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dcp.settings")


def add_counters() -> None:
    """What workers would have counted: calls, errors and retries on every account and operation, rate-limiter
    waits, hosts' time to ready per account and template, init runs, Celery tasks; worker heartbeats."""
    from apps.core import workers
    from apps.monitoring import counters
    from apps.providers.models import MachineTemplate

    series = []
    for template in MachineTemplate.objects.values("pk", "provider_id"):
        labels = {"provider": template["provider_id"], "template": template["pk"]}
        for seconds in (5, 45, 100, 250, 700, 5000):
            series += counters.observations(counters.HOST_READY, labels, seconds, counters.HOST_READY_BUCKETS)
    for account in {template["provider_id"] for template in MachineTemplate.objects.values("provider_id")}:
        for operation in ("create_nodes", "get_nodes", "get_node", "destroy_nodes", "tag_nodes"):
            labels = {"provider": account, "operation": operation}
            series += [(counters.PROVIDER_CALLS, labels, 1000), (counters.PROVIDER_THROTTLES, labels, 3)]
            series += [(counters.PROVIDER_RETRIES, labels, 2)]
            for error in ("throttled", "transient", "capacity"):
                series.append((counters.PROVIDER_ERRORS, {**labels, "error": error}, 1))
        for action in ("create", "describe", "destroy", "catalog", "tag"):
            labels = {"provider": account, "action": action}
            series += [(counters.RATE_LIMIT_WAITS, labels, 5), (counters.RATE_LIMIT_WAIT_US, labels, 1_500_000)]
            series += [(counters.RATE_LIMIT_DEFERRALS, labels, 1)]
        series.append((counters.HOSTS_LOST, {"provider": account}, 4))
    for method in ("ansible", "puppet"):
        for outcome in ("ok", "changed", "failed", "unreachable"):
            for seconds in (20, 90, 400):
                labels = {"method": method, "outcome": outcome}
                series += counters.observations(counters.INIT_RUNS, labels, seconds, counters.INIT_RUN_BUCKETS)
    for task in ("reconcile_pool", "create_hosts", "poll_batch", "initialize_hosts", "terminate_hosts", "tick"):
        for outcome in ("succeeded", "failed", "retried"):
            for seconds in (0.02, 0.3, 4):
                labels = {"task": task, "outcome": outcome}
                series += counters.observations(counters.TASK_RUNTIME, labels, seconds, counters.TASK_RUNTIME_BUCKETS)
    counters.add(series)
    for number in range(8):
        workers.record(f"celery@bench-{number}", 1000 + number, ["engine", "provider", "init"])


def add_money() -> None:
    """A price for every template's instance type (the run-rate's input) and a monthly budget per cluster."""
    from datetime import UTC, datetime
    from decimal import Decimal

    from django.db import connection
    from django.db.models import F
    from django.utils import timezone

    from apps.costs.budgets.delivery import check_budgets
    from apps.costs.budgets.models import Budget
    from apps.costs.models import Price
    from apps.inventory.choices import HostStatus
    from apps.inventory.models import Cluster, Host
    from apps.monitoring.spend import record_run_rates
    from apps.providers.models import MachineTemplate

    since = datetime(2020, 1, 1, tzinfo=UTC)
    keys = set(MachineTemplate.objects.exclude(provider__kind="physical").values_list("provider_id", "instance_type"))
    Price.objects.bulk_create(
        Price(provider_id=account, instance_type=kind, currency="USD", hourly_price=Decimal("0.17"), valid_from=since)
        for account, kind in sorted(keys)
    )
    Budget.objects.bulk_create(
        Budget(cluster_id=pk, name=f"budget-{pk}", amount=Decimal(50_000), currency="USD")
        for pk in Cluster.objects.values_list("pk", flat=True)
    )
    # The fleet's hosts have no launch time; a host that got an instance costs from when it was made.
    Host.objects.exclude(status=HostStatus.PENDING).update(launched_at=F("created_at"))
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE inventory_host")  # as autovacuum would after so many updates
    started = time.perf_counter()
    check_budgets(timezone.now())
    record_run_rates()
    print(f"budget check (keeps the cost figures for /metrics): {(time.perf_counter() - started):.1f} s")


def parts() -> list[tuple[str, float]]:
    """Milliseconds each part of the collector takes on its own (one run each)."""
    from apps.inventory.models import ServicePool
    from apps.monitoring import collector, counters, events, spend
    from apps.providers.models import CloudAccount

    providers = {row["pk"]: row for row in CloudAccount.objects.values("pk", "name", "kind")}
    pools = {
        row["pk"]: row
        for row in ServicePool.objects.order_by().values(
            "pk", "name", "desired_size", "below_desired_since", cluster_name=collector.F("cluster__name")
        )
    }
    timed = []
    for label, run in (
        ("hosts by pool, provider, status + pools", lambda: list(collector.host_metrics(pools, providers))),
        ("jobs + scale-out histogram", lambda: list(collector.job_metrics())),
        ("orphans", lambda: collector.orphan_metrics(providers)),
        ("counters (calls, limiter, histograms)", lambda: list(events.event_metrics(counters.all_totals(), str, str))),
        ("cluster run-rate + budgets (as kept)", lambda: list(spend.spend_metrics(counters.all_totals()))),
        ("worker heartbeats", lambda: list(collector.worker_metrics())),
        ("broker queue lengths", lambda: list(collector.broker_metrics())),
    ):
        started = time.perf_counter()
        run()
        timed.append((label, (time.perf_counter() - started) * 1000))
    return timed


def run(repeat: int) -> None:
    """Scrape repeat times after a warm-up and print the figures."""
    from django.db import connection
    from django.test import Client
    from prometheus_client.parser import text_string_to_metric_families

    client = Client(REMOTE_ADDR="127.0.0.1")
    counter = QueryCounter()
    with connection.execute_wrapper(counter):
        answer = client.get("/metrics")
    body = answer.content.decode()
    samples = sum(len(family.samples) for family in text_string_to_metric_families(body))
    times, cpu = [], []
    for _ in range(repeat):
        started, used = time.perf_counter(), time.process_time()
        client.get("/metrics")
        times.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - used) * 1000)
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    print(
        f"scrape: status {answer.status_code}, {len(body) / 1024:.0f} KiB, {samples} samples, {counter.count} queries"
    )
    print(
        f"scrape time over {repeat}: min {times[0]:.1f} ms, median {statistics.median(times):.1f} ms, p95 {p95:.1f} ms"
    )
    # The web process's own CPU time: what a loaded machine's other processes inflate least.
    print(f"web process CPU per scrape: min {min(cpu):.1f} ms, median {statistics.median(cpu):.1f} ms")
    for label, ms in parts():
        print(f"  {label:42s} {ms:8.1f} ms")


def main() -> None:
    """Parse arguments, build (or keep) the fleet, scrape."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=10, help="timed scrapes (after one warm-up)")
    parser.add_argument("--hosts", type=int, default=100_000)
    parser.add_argument("--pools", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--keep", action="store_true", help="benchmark the fleet already built (migrate only)")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("set DATABASE_URL to a PostgreSQL database the benchmark may drop and recreate")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from bench import fleet

    settings.ALLOWED_HOSTS.append("testserver")
    settings.DCP_METRICS_TOKEN = ""
    if args.keep:
        call_command("migrate", verbosity=0)
    else:
        recreate_database()
        started = time.perf_counter()
        fleet.build(pools=args.pools, hosts=args.hosts, jobs=args.jobs, clusters=max(args.pools // 10, 3))
        add_counters()
        add_money()
        elapsed = time.perf_counter() - started
        print(f"fleet: {args.hosts} hosts, {args.pools} pools, {args.jobs} jobs, built in {elapsed:.0f} s")
    run(args.repeat)


if __name__ == "__main__":
    main()
