"""Benchmark: from an Alertmanager webhook's arrival to the first provider create call.

Builds 100 clusters of 10 pools (1,000 pools), each pool on a template of the emulated AWS EC2 (moto
behind its signature-checking front, in this process), and 100 scaling policies on 100 of those pools.
DCP runs as it does in production: gunicorn (2 workers) serving the API, and a real Celery worker
process (queues engine, provider, init) on the Redis broker. For each run, one policy's webhook gets an
Alertmanager payload of two firing alerts (``Authorization: Bearer`` with the policy's token); the time
is taken from just before the request is sent until the emulator receives the RunInstances call that
the reconciler's create step makes for that pool. Runs are one after another, each on another policy.

Printed: the webhook's own answer time and the arrival → first create time (fastest, median, p95,
slowest), and the decision of every trigger (each must be ``scaled``). Asserts nothing.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/dcp_benchscaling \\
    CELERY_BROKER_URL=redis://127.0.0.1:6379/13 \\
    .venv/bin/python bench/scaling.py --runs 50

The database is dropped and created afresh; the broker's Redis database is flushed: give the benchmark
its own of each.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.common import fresh_django  # noqa: E402 - needs ROOT on the path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dcp.settings")

CLUSTERS = 100
POOLS_PER_CLUSTER = 10
POLICIES = 100


class CreateCalls:
    """The emulator's RunInstances calls, by arrival time (taken before the emulator handles them)."""

    def __init__(self, emulator):
        self.times: list[float] = []
        self.changed = threading.Condition()
        handle = emulator.handle

        def timed(request):
            if emulator.action_of(request) == "RunInstances":
                with self.changed:
                    self.times.append(time.time())
                    self.changed.notify_all()
            return handle(request)

        emulator.handle = timed

    def first_after(self, moment: float, timeout: float) -> float | None:
        """The first create call that arrived after moment, waiting up to timeout seconds."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                later = [when for when in self.times if when >= moment]
                if later:
                    return min(later)
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.changed.wait(left)


def build(harness) -> list[dict]:
    """The fleet: 1,000 pools on the AWS template, 100 policies (their ids and tokens)."""
    from apps.inventory.models import Cluster, PoolTemplate, ServicePool
    from apps.providers.models import MachineTemplate
    from apps.scaling import policies
    from apps.scaling.models import ScalingPolicy
    from emulators.demo import demo_clouds

    aws = next(cloud for cloud in demo_clouds() if cloud.kind == "aws")
    template = MachineTemplate.objects.create(
        name="bench-aws", provider=harness.account(), hourly_price=Decimal(aws.hourly_price), **aws.template
    )
    clusters = Cluster.objects.bulk_create(Cluster(name=f"bench-{c:03d}") for c in range(CLUSTERS))
    pools = ServicePool.objects.bulk_create(
        ServicePool(cluster=cluster, name=f"pool-{p}", max_size=100)
        for cluster in clusters
        for p in range(POOLS_PER_CLUSTER)
    )
    PoolTemplate.objects.bulk_create(PoolTemplate(pool=pool, template=template, priority=0) for pool in pools)
    made = []
    for number, pool in enumerate(pools[:: len(pools) // POLICIES][:POLICIES]):
        policy = ScalingPolicy(pool=pool, name=f"latency-{number}", alert_name="HighLatency", step_out=1)
        token = policies.new_token(policy)
        policy.cooldown_seconds = 0
        policy.save()
        made.append({"id": policy.pk, "token": token, "pool": pool.pk})
    return made


def alertmanager_body() -> bytes:
    """Alertmanager's webhook body with two firing alerts of the policy's alert."""
    alerts = [
        {
            "status": "firing",
            "labels": {"alertname": "HighLatency", "instance": f"lb-{i}"},
            "annotations": {"summary": "p99 latency above 800 ms"},
            "startsAt": "2026-12-05T08:00:00Z",
            "endsAt": "0001-01-01T00:00:00Z",
            "fingerprint": f"{i:016x}",
        }
        for i in range(2)
    ]
    body = {"version": "4", "status": "firing", "receiver": "dcp", "groupKey": "{}:{}", "alerts": alerts}
    return json.dumps(body).encode()


def start_worker(log_path: Path) -> subprocess.Popen:
    """A real Celery worker on DCP's queues; returns once it says it is ready."""
    log = open(log_path, "ab")  # noqa: SIM115 - held by the process
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "dcp", "worker", "--queues", "engine,provider,init"]
        + ["--concurrency", "2", "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel", "INFO"],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 90
    while b"ready." not in log_path.read_bytes():
        if time.monotonic() > deadline or process.poll() is not None:
            sys.exit(f"the worker did not start: see {log_path}")
        time.sleep(0.2)
    return process


def spread(values: list[float]) -> str:
    """Fastest, median, p95 and slowest, in milliseconds."""
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    parts = (ordered[0], statistics.median(ordered), p95, ordered[-1])
    return "  ".join(
        f"{label} {value * 1000:7.1f} ms" for label, value in zip(("min", "median", "p95", "max"), parts, strict=True)
    )


def main() -> None:
    """Build the fleet, start DCP, send the webhooks, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50, help=f"webhooks sent, each to another policy (≤ {POLICIES})")
    args = parser.parse_args()
    fresh_django()
    import redis
    import requests
    from django.conf import settings

    from apps.scaling.models import PolicyTrigger
    from tests.conftest import Server
    from tests.providers.harnesses.aws import AwsHarness

    redis.Redis.from_url(settings.CELERY_BROKER_URL).flushdb()
    harness = AwsHarness()
    harness.start()
    calls = CreateCalls(harness.emulator)
    log_dir = Path(tempfile.mkdtemp(prefix="dcp-bench-scaling-"))
    server = worker = None
    try:
        started = time.monotonic()
        made = build(harness)
        print(f"fleet: {CLUSTERS * POOLS_PER_CLUSTER} pools, {len(made)} policies ({time.monotonic() - started:.1f} s)")
        server = Server(dict(os.environ), log_dir / "gunicorn.log")
        server.start()
        worker = start_worker(log_dir / "worker.log")
        body = alertmanager_body()
        answers, arrivals, missing = [], [], 0
        for policy in made[: args.runs]:
            headers = {"Authorization": f"Bearer {policy['token']}", "Content-Type": "application/json"}
            sent = time.time()
            answer = requests.post(
                f"{server.url}/api/v1/scaling-policies/{policy['id']}/alerts/", data=body, headers=headers, timeout=60
            )
            answers.append(time.time() - sent)
            if answer.status_code != 200:
                sys.exit(f"the webhook answered {answer.status_code}: {answer.text[:500]}")
            created = calls.first_after(sent, timeout=30)
            if created is None:
                missing += 1
                continue
            arrivals.append(created - sent)
        decisions = sorted(set(PolicyTrigger.objects.values_list("decision", flat=True)))
        print(f"runs: {len(answers)}; decisions: {', '.join(decisions)}; no create call within 30 s: {missing}")
        print(f"webhook answered:           {spread(answers)}")
        if arrivals:
            print(f"arrival → first create call: {spread(arrivals)}  (target: median and p95 under 1000 ms)")
        print(f"logs: {log_dir}")
    finally:
        if worker is not None:
            os.killpg(worker.pid, 15)
            worker.wait(timeout=30)
        if server is not None:
            server.stop()
        harness.stop()


if __name__ == "__main__":
    main()
