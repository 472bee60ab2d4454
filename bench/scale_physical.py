"""Benchmark: scale a physical pool out and in, and print what it cost.

Two modes:
- inline: the engine's steps run in this process, one after another, so the
  figures are the engine's own overhead (wall time, database queries per host);
- worker: a scale request through the API, real Celery worker processes and a
  real broker, timed until every host is ready (end to end).

Needs PostgreSQL (DATABASE_URL; the database is created and migrated afresh)
and, for worker mode, a broker (CELERY_BROKER_URL). Prints figures; asserts nothing.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/dcp_bench \
    CELERY_BROKER_URL=redis://127.0.0.1:6379/10 \
    .venv/bin/python bench/scale_physical.py --hosts 200 --mode both
"""

import argparse
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.common import QueryCounter, recreate_database  # noqa: E402 - needs ROOT on the path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dcp.settings")


def make_pool(hosts: int):
    """A pool on a physical template with exactly enough machines, and a user to scale it."""
    from apps.accounts.models import User
    from apps.inventory.models import Cluster, PhysicalMachine, PoolTemplate, ServicePool
    from apps.providers.models import CloudAccount, MachineTemplate

    user = User.objects.create(username=f"bench-{time.time_ns()}", is_superuser=True)
    provider = CloudAccount.objects.create(name=f"idc-{time.time_ns()}", kind="physical")
    PhysicalMachine.objects.bulk_create(
        PhysicalMachine(
            provider=provider,
            hostname=f"b{provider.pk}-{i}",
            ip=f"10.{provider.pk % 250}.{i // 250}.{i % 250 + 1}",
            cpu=32,
            memory_gb=Decimal(64),
            machine_class="c32",
            idc="bj-1",
            monthly_cost=Decimal(500),
        )
        for i in range(hosts)
    )
    template = MachineTemplate.objects.create(name=f"t-{provider.pk}", provider=provider, instance_type="c32")
    cluster = Cluster.objects.create(name=f"bench-{provider.pk}")
    pool = ServicePool.objects.create(cluster=cluster, name="p", max_size=hosts)
    PoolTemplate.objects.create(pool=pool, template=template, priority=0)
    return user, pool


def drive(pool) -> None:
    """Run the engine's steps in order until nothing moves (what the workers would do)."""
    from apps.inventory.choices import HostStatus as H
    from apps.inventory.models import Host
    from apps.provisioning import reconciler, work

    while True:
        reconciler.reconcile(pool.pk)
        hosts = Host.objects.filter(pool=pool)
        tokens = set(hosts.filter(status__in=(H.PENDING, H.CREATING)).values_list("batch_token", flat=True))
        initializing = list(hosts.filter(status=H.INITIALIZING).values_list("pk", flat=True))
        terminating = list(hosts.filter(status=H.TERMINATING).values_list("pk", flat=True))
        if not (tokens or initializing or terminating):
            reconciler.reconcile(pool.pk)
            return
        for token in tokens:
            work.create_batch(token)
        if initializing:
            work.initialize(initializing)
        if terminating:
            work.terminate(terminating)


def bench_inline(hosts: int) -> None:
    """Engine overhead: scale out and in with every step in this process."""
    from django.db import connection

    from apps.provisioning import services

    user, pool = make_pool(hosts)
    for label, request in (
        ("scale out", services.ScaleRequest(delta=hosts)),
        ("scale in", services.ScaleRequest(delta=-hosts)),
    ):
        counter = QueryCounter()
        started = time.perf_counter()
        with connection.execute_wrapper(counter):
            services.scale(pool.pk, user, request)
            drive(pool)
        elapsed = time.perf_counter() - started
        print(
            f"inline {label:9s} {hosts:5d} hosts: {elapsed:7.2f} s wall, {elapsed / hosts * 1000:6.1f} ms/host, "
            f"{counter.count:6d} queries, {counter.count / hosts:5.1f} queries/host"
        )


def bench_worker(hosts: int, concurrency: int) -> None:
    """End to end: API request, real workers, until all hosts are ready."""
    from django.conf import settings
    from rest_framework.test import APIClient

    from apps.inventory.models import Host

    if not settings.CELERY_BROKER_URL.startswith(("redis", "amqp")):
        sys.exit("worker mode needs CELERY_BROKER_URL (redis:// or amqp://)")
    user, pool = make_pool(hosts)
    log = open(ROOT / "var" / "bench-worker.log", "wb")  # noqa: SIM115 - held by the worker process
    subprocess.run(
        [sys.executable, "-m", "celery", "-A", "dcp", "purge", "-f"], cwd=ROOT, capture_output=True, check=True
    )
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "dcp",
            "worker",
            "-Q",
            "engine,provider,init",
            "-c",
            str(concurrency),
            "--without-gossip",
            "--without-mingle",
            "--loglevel",
            "WARNING",
        ],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        time.sleep(4)
        client = APIClient()
        client.force_authenticate(user)
        for label, delta, done in (
            ("scale out", hosts, lambda: Host.objects.filter(pool=pool, status="ready").count() == hosts),
            ("scale in", -hosts, lambda: Host.objects.filter(pool=pool, status="terminated").count() == hosts),
        ):
            started = time.perf_counter()
            answer = client.post(
                f"/api/v1/pools/{pool.pk}/scale/", {"delta": delta}, format="json", SERVER_NAME="localhost"
            )
            accepted = time.perf_counter() - started
            while not done():
                if time.perf_counter() - started > 600:
                    sys.exit(f"{label}: not done after 600 s")
                time.sleep(0.05)
            elapsed = time.perf_counter() - started
            print(
                f"worker {label:9s} {hosts:5d} hosts: answered {answer.status_code} in {accepted * 1000:5.0f} ms, "
                f"all done in {elapsed:6.2f} s ({hosts / elapsed:6.1f} hosts/s, {concurrency} worker processes)"
            )
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=30)


def main() -> None:
    """Parse arguments, prepare the database, run the chosen modes."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=200)
    parser.add_argument("--mode", choices=("inline", "worker", "both"), default="both")
    parser.add_argument("--concurrency", type=int, default=2)
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("set DATABASE_URL to a PostgreSQL database the benchmark may drop and recreate")
    import django

    django.setup()
    from django.conf import settings

    settings.ALLOWED_HOSTS.append("testserver")
    recreate_database()
    if args.mode in ("inline", "both"):
        bench_inline(args.hosts)
    if args.mode in ("worker", "both"):
        bench_worker(args.hosts, args.concurrency)


if __name__ == "__main__":
    main()
