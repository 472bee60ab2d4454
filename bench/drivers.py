"""Benchmark: create, describe and destroy N instances through each provider driver, batched or one by one.

For each provider kind, N instances are created, described (get_nodes) and
destroyed through the driver, in two modes:

- batched, as DCP does: create_nodes in batches of the driver's max_batch,
  one get_nodes for all ids, one destroy_nodes for all ids (Libcloud has no
  multi-create, so its driver still makes one create call per node);
- per-instance, as tools that manage one instance at a time do:
  create_nodes(count=1), get_nodes([id]) and destroy_nodes([id]) per instance.

The cloud kinds (aws, aliyun, openstack, and libcloud through Libcloud's
OpenStack driver on the OpenStack emulator) run against their emulators, started
in this process on loopback ports with a fixed latency added to every API call
(``--latency``); the provider API calls each phase made are read from the
emulator's ``GET /_emulator/calls`` before and after it. The physical kind has
no API: its "provider" is DCP's own database, so no latency is added and SQL
statements are counted instead.

The drivers are constructed directly (``get_driver_class(kind)(account)``),
without the PacedDriver rate limiter, so the figures are the drivers' and the
providers' own cost, not the limiter's pacing.

Per-instance mode costs at least three round trips per instance (150 s per
kind for 1000 instances at 50 ms), so it runs on a sample of K instances
(``--per-instance-sample``) and its figures are scaled linearly to N; those are
labelled "extrapolated". (The linear scaling flatters per-instance mode where a
call's cost grows with the number of live instances, e.g. OpenStack's
get_nodes, which lists every server.)

Needs PostgreSQL (DATABASE_URL; the database is dropped, created and migrated
afresh, because accounts are saved models). Prints figures; asserts nothing.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/dcp_benchdrv \
    CELERY_BROKER_URL=redis://127.0.0.1:6379/3 \
    .venv/bin/python bench/drivers.py --instances 1000 --latency 0.05 --per-instance-sample 100
"""

import argparse
import json
import os
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.common import QueryCounter, recreate_database  # noqa: E402 - needs ROOT on the path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dcp.settings")

KINDS = ("physical", "aws", "aliyun", "openstack", "libcloud")
PHASES = ("create", "describe", "destroy")
TAGS = {"dcp-bench": "drivers"}


@dataclass
class Run:
    """One mode's figures for one kind: seconds and provider calls per phase, for `instances` instances."""

    instances: int
    seconds: dict[str, float] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)
    described: int = 0

    def scaled(self, instances: int) -> "Run":
        """These figures scaled linearly to another number of instances."""
        factor = instances / self.instances
        return Run(
            instances=instances,
            seconds={phase: value * factor for phase, value in self.seconds.items()},
            calls={phase: round(value * factor) for phase, value in self.calls.items()},
            described=round(self.described * factor),
        )

    @property
    def total_seconds(self) -> float:
        """Wall time of all phases."""
        return sum(self.seconds.values())

    @property
    def total_calls(self) -> int:
        """Provider calls (or SQL statements) of all phases."""
        return sum(self.calls.values())


class Target:
    """One provider kind under test: its harness, and how its calls are counted."""

    def __init__(self, kind: str, instances: int, latency: float):
        from tests.providers.harnesses import all_harnesses

        self.kind = kind
        self.instances = instances
        self.latency = latency
        self.harness = next(h for h in all_harnesses() if h.kind == kind)()
        self.counter = QueryCounter()

    @property
    def emulated(self) -> bool:
        """Whether the kind has an emulator (a provider API) rather than DCP's database."""
        return self.kind != "physical"

    def start(self) -> None:
        """Start the emulator, if the kind has one."""
        self.harness.start()

    def stop(self) -> None:
        """Stop it."""
        self.harness.stop()

    def fresh_driver(self):
        """A new account with a clean provider, the latency set, and a driver bound to it (not rate limited)."""
        from apps.providers.drivers.registry import get_driver_class

        self.harness.reset()
        account = self.harness.account()
        if self.emulated:
            self.harness.set_faults(latency=self.latency)
        else:
            self._add_machines(account)
        driver = get_driver_class(self.kind)(account)
        # Authentication and the first session set-up (Keystone token, service catalog) are
        # paid once per driver in DCP too, so they stay out of the timed phases.
        driver.check_credentials()
        return driver

    def _add_machines(self, account) -> None:
        """Enough free machines of the harness's class in its first zone for every instance."""
        from apps.inventory.models import PhysicalMachine

        zone = self.harness.zones[0]
        PhysicalMachine.objects.bulk_create(
            PhysicalMachine(
                provider=account,
                hostname=f"bench{account.pk}-{i}",
                ip=f"10.{account.pk % 250}.{100 + i // 250}.{i % 250 + 1}",
                cpu=32,
                memory_gb=Decimal(64),
                machine_class="c32",
                idc=zone,
                monthly_cost=Decimal(500),
            )
            for i in range(self.instances)
        )

    def calls(self) -> int:
        """Provider API calls so far: the emulator's own count, or SQL statements for physical."""
        if not self.emulated:
            return self.counter.count
        url = f"{self.harness.url}/_emulator/calls"
        with urllib.request.urlopen(url, timeout=30) as answer:  # noqa: S310 - the loopback emulator
            return sum(json.loads(answer.read()).values())


def measure(target: Target, phase: str, run: Run, work) -> object:
    """Run one phase, recording its wall time and the provider calls it made."""
    before = target.calls()
    started = time.perf_counter()
    result = work()
    run.seconds[phase] = time.perf_counter() - started
    run.calls[phase] = target.calls() - before
    return result


def run_batched(target: Target, instances: int) -> Run:
    """Create in batches of max_batch, describe all ids in one call, destroy all ids in one call."""
    driver = target.fresh_driver()
    spec = target.harness.spec()
    run = Run(instances=instances)

    def create() -> list[str]:
        ids: list[str] = []
        while len(ids) < instances:
            count = min(driver.max_batch, instances - len(ids))
            nodes = driver.create_nodes(spec, count, client_token=uuid.uuid4().hex, tags=TAGS)
            ids.extend(node.id for node in nodes)
        return ids

    ids = measure(target, "create", run, create)
    run.described = len(measure(target, "describe", run, lambda: driver.get_nodes(ids)))
    measure(target, "destroy", run, lambda: driver.destroy_nodes(ids))
    return run


def run_per_instance(target: Target, instances: int) -> Run:
    """Create, describe and destroy one instance per call."""
    driver = target.fresh_driver()
    spec = target.harness.spec()
    run = Run(instances=instances)

    def create() -> list[str]:
        ids: list[str] = []
        for _ in range(instances):
            nodes = driver.create_nodes(spec, 1, client_token=uuid.uuid4().hex, tags=TAGS)
            ids.extend(node.id for node in nodes)
        return ids

    def describe() -> int:
        return sum(len(driver.get_nodes([node_id])) for node_id in ids)

    def destroy() -> None:
        for node_id in ids:
            driver.destroy_nodes([node_id])

    ids = measure(target, "create", run, create)
    run.described = measure(target, "describe", run, describe)
    measure(target, "destroy", run, destroy)
    return run


def report(label: str, run: Run, unit: str) -> None:
    """One line of figures for a mode."""
    phases = "  ".join(f"{phase} {run.seconds[phase]:7.2f} s / {run.calls[phase]:5d}" for phase in PHASES)
    print(
        f"  {label:34s} {phases}  | total {run.total_seconds:7.2f} s / {run.total_calls:5d} {unit}"
        f"  ({run.described} described)"
    )


def bench_kind(kind: str, instances: int, latency: float, sample: int) -> None:
    """Both modes for one provider kind, and the speed-up of batched over per-instance."""
    from django.db import connection

    target = Target(kind, instances, latency)
    unit = "calls" if target.emulated else "SQL"
    target.start()
    try:
        with connection.execute_wrapper(target.counter):
            batched = run_batched(target, instances)
            sampled = run_per_instance(target, min(sample, instances))
    finally:
        target.stop()
    if target.emulated:
        how = f"emulator, {latency * 1000:.0f} ms per API call; provider API calls from GET /_emulator/calls"
    else:
        how = "DCP's database, no added latency; SQL statements counted instead of API calls"
    print(f"\n{kind}: {instances} instances ({how}); figures are wall time / {unit}")
    report("batched", batched, unit)
    if sampled.instances == instances:
        per_instance = sampled
        report("per-instance", per_instance, unit)
    else:
        per_instance = sampled.scaled(instances)
        report(f"per-instance, measured on {sampled.instances}", sampled, unit)
        report(f"per-instance, EXTRAPOLATED to {instances}", per_instance, unit)
    speedups = "  ".join(
        f"{phase} x{per_instance.seconds[phase] / batched.seconds[phase]:.1f}"
        if batched.seconds[phase]
        else f"{phase} n/a"
        for phase in PHASES
    )
    total = per_instance.total_seconds / batched.total_seconds if batched.total_seconds else float("nan")
    calls = per_instance.total_calls / batched.total_calls if batched.total_calls else float("nan")
    extrapolated = " (per-instance extrapolated)" if per_instance is not sampled else ""
    print(
        f"  speed-up of batched{extrapolated}: {speedups}  | total x{total:.1f} wall time;"
        f" per-instance makes x{calls:.1f} the {unit}"
    )


def main() -> None:
    """Parse arguments, prepare the database, run every chosen kind."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--instances", type=int, default=1000, help="instances per kind (N)")
    parser.add_argument("--latency", type=float, default=0.05, help="seconds added to every emulated API call")
    parser.add_argument(
        "--per-instance-sample",
        type=int,
        default=100,
        help="instances per-instance mode really runs on (K); its figures are scaled to N",
    )
    parser.add_argument("--kinds", default=",".join(KINDS), help=f"comma-separated, of {', '.join(KINDS)}")
    args = parser.parse_args()
    kinds = [kind.strip() for kind in args.kinds.split(",") if kind.strip()]
    unknown = sorted(set(kinds) - set(KINDS))
    if unknown:
        sys.exit(f"unknown kinds: {', '.join(unknown)}")
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("set DATABASE_URL to a PostgreSQL database the benchmark may drop and recreate")
    import django

    django.setup()
    import logging

    # The drivers log every create and destroy at INFO; a thousand such lines would bury the figures.
    logging.getLogger("apps.providers").setLevel(logging.WARNING)
    recreate_database()
    print(
        f"drivers benchmark: {args.instances} instances per kind, {args.latency * 1000:.0f} ms per emulated API call, "
        f"per-instance mode sampled on {min(args.per_instance_sample, args.instances)} instances; "
        "drivers constructed directly (get_driver_class(kind)(account)), no rate limiter"
    )
    started = time.perf_counter()
    for kind in kinds:
        bench_kind(kind, args.instances, args.latency, args.per_instance_sample)
    print(f"\nbenchmark wall time {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
