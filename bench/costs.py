"""Benchmark: cost queries over a year of churn, and the statements each one takes.

Builds a fleet of --slots host slots (default 10,000) over 1,000 pools in 100
clusters on four provider accounts in four currencies (USD, CNY, EUR, JPY), each
slot re-created every month or so through the year (--lives per slot, default
12: over 100,000 host lives); 20 instance types on 2 zones each, every type
re-priced 3 times in the year; a rate for each currency on the first of every
month (--daily-rates: every day); 500 physical machines allocated part of the year.
Then times the answers of GET /api/v1/costs/ (apps.costs.queries.answer) for a
system administrator: by pool for the year, one month, and a month by day; by
cluster and by provider for the year. Prints figures; asserts nothing.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/dcp_benchcosts .venv/bin/python bench/costs.py
"""

import argparse
import os
import random
import sys
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.common import QueryCounter, fresh_django  # noqa: E402 - needs ROOT on the path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dcp.settings")

YEAR = datetime(2025, 1, 1, tzinfo=UTC)
YEAR_END = datetime(2026, 1, 1, tzinfo=UTC)
ACCOUNTS = (("aws", "USD", "0.10"), ("aliyun", "CNY", "0.70"), ("openstack", "EUR", "0.09"), ("libcloud", "JPY", "15"))
RATES = {"CNY": Decimal("0.14"), "EUR": Decimal("1.08"), "JPY": Decimal("0.0068")}


def build_catalog(rng: random.Random, daily_rates: bool) -> list:
    """Accounts, 5 types each with 4 prices over the year (3 changes), and exchange rates."""
    from apps.costs.models import ExchangeRate, Price
    from apps.providers.models import CloudAccount, MachineTemplate

    templates = []
    for kind, currency, base in ACCOUNTS:
        account = CloudAccount.objects.create(name=f"bench-{kind}", kind=kind, region="r1")
        for t in range(5):
            template = MachineTemplate.objects.create(name=f"{kind}-t{t}", provider=account, instance_type=f"type{t}")
            templates.append(template)
            changes = sorted(rng.sample(range(20, 345), 3))
            starts = [YEAR - timedelta(days=30), *(YEAR + timedelta(days=d) for d in changes)]
            for i, start in enumerate(starts):
                end = starts[i + 1] if i + 1 < len(starts) else None
                Price.objects.create(
                    provider=account,
                    instance_type=template.instance_type,
                    currency=currency,
                    hourly_price=Decimal(base) * (t + 1) * (1 + Decimal(i) / 10),
                    billing="per_hour" if kind == "openstack" else "per_second",
                    minimum_seconds=0 if kind == "openstack" else 60,
                    valid_from=start,
                    valid_to=end,
                )
    days = 366 if daily_rates else 12
    ExchangeRate.objects.bulk_create(
        ExchangeRate(
            base=currency,
            quote="USD",
            rate=rate * (1 + Decimal(rng.randint(-50, 50)) / 1000),
            valid_from=(date(2025, 1, 1) + timedelta(days=d)) if daily_rates else date(2025, 1 + d, 1),
        )
        for currency, rate in RATES.items()
        for d in range(days)
        if daily_rates or d < 12
    )
    return templates


def build_fleet(rng: random.Random, slots: int, lives: int, templates: list) -> int:
    """Pools and clusters, and each slot's lives one after another through the year; returns the lives made."""
    from apps.inventory.models import Cluster, Host, ServicePool

    clusters = Cluster.objects.bulk_create(Cluster(name=f"c{i:03d}") for i in range(100))
    pools = ServicePool.objects.bulk_create(
        ServicePool(cluster=clusters[i % 100], name=f"p{i:04d}", max_size=1000) for i in range(1000)
    )
    batch, made, span = [], 0, (YEAR_END - YEAR).total_seconds()
    for slot in range(slots):
        template, pool = templates[slot % len(templates)], pools[slot % len(pools)]
        moment = YEAR + timedelta(seconds=rng.uniform(0, span / lives))
        for life in range(lives):
            length = timedelta(seconds=rng.expovariate(lives / span) if life < lives - 1 else span)
            end = moment + length
            batch.append(
                Host(
                    hostname=f"h{slot}-{life}",
                    pool=pool,
                    provider_id=template.provider_id,
                    template=template,
                    zone=f"z{slot % 2}",
                    instance_id=f"i-{slot}-{life}",
                    status="terminated" if end < YEAR_END else "ready",
                    launched_at=moment,
                    terminated_at=end if end < YEAR_END else None,
                )
            )
            made += 1
            moment = end + timedelta(seconds=rng.uniform(30, 600))
            if moment >= YEAR_END:
                break
        if len(batch) >= 5000:
            Host.objects.bulk_create(batch)
            batch = []
    Host.objects.bulk_create(batch)
    return made


def build_machines(rng: random.Random, count: int) -> None:
    """Physical machines, each allocated to a host for a stretch of the year and idle the rest."""
    from apps.inventory.machines import record_intervals
    from apps.inventory.models import Host, MachineInterval, PhysicalMachine, ServicePool
    from apps.providers.models import CloudAccount, MachineTemplate

    account = CloudAccount.objects.create(name="bench-idc", kind="physical", region="r1")
    template = MachineTemplate.objects.create(name="idc-c32", provider=account, instance_type="c32")
    pools = list(ServicePool.objects.all()[:100])
    machines = PhysicalMachine.objects.bulk_create(
        PhysicalMachine(
            provider=account,
            hostname=f"pm{i}",
            ip=f"10.9.{i // 250}.{i % 250 + 1}",
            cpu=32,
            memory_gb=64,
            machine_class="c32",
            idc="bj",
            monthly_cost=Decimal(500),
        )
        for i in range(count)
    )
    record_intervals(machines, YEAR)
    for machine in machines:
        start = YEAR + timedelta(days=rng.randint(0, 200))
        end = start + timedelta(days=rng.randint(1, 150))
        machine.state, machine.client_token = "allocated", f"tok-{machine.pk}"
        record_intervals([machine], start)
        Host.objects.create(
            hostname=machine.hostname,
            pool=rng.choice(pools),
            provider=account,
            template=template,
            batch_token=machine.client_token,
            instance_id=machine.hostname,
            status="terminated",
            launched_at=start,
            terminated_at=end,
        )
        machine.state, machine.client_token = "free", ""
        record_intervals([machine], end)
    print(f"physical: {count} machines, {MachineInterval.objects.count()} state intervals")


def measure(user, label: str, dims: list[str], start: datetime, end: datetime, step: str | None = None) -> None:
    """Time one answer (best of 3) and count its statements."""
    from django.db import connection

    from apps.costs.queries import CostQuery, answer

    query = CostQuery(dims, start, end, "USD", step=step)
    timings, counter = [], QueryCounter()
    for attempt in range(3):
        started = time.perf_counter()
        if attempt == 0:
            with connection.execute_wrapper(counter):
                result = answer(user, query, YEAR_END)
        else:
            result = answer(user, query, YEAR_END)
        timings.append(time.perf_counter() - started)
    rows = sum(len(item["rows"]) for item in result.get("series", [result]))
    print(
        f"{label:34s} {min(timings) * 1000:7.0f} ms (best of 3; first {timings[0] * 1000:5.0f} ms)  "
        f"{counter.count:2d} statements  {rows:6d} rows  total {result['total']} USD"
    )


def fleet_arguments(description: str, slots: int) -> argparse.ArgumentParser:
    """The arguments of a benchmark on this fleet: --slots, --lives, --seed."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--slots", type=int, default=slots)
    parser.add_argument("--lives", type=int, default=12)
    parser.add_argument("--seed", type=int, default=13)
    return parser


def main() -> None:
    """Parse arguments, build the fleet afresh, measure the queries."""
    parser = fleet_arguments(__doc__, slots=10_000)
    parser.add_argument("--machines", type=int, default=500)
    parser.add_argument("--daily-rates", action="store_true")
    args = parser.parse_args()
    fresh_django()
    from django.db import connection

    from apps.accounts.models import User

    rng = random.Random(args.seed)
    started = time.perf_counter()
    templates = build_catalog(rng, args.daily_rates)
    made = build_fleet(rng, args.slots, args.lives, templates)
    build_machines(rng, args.machines)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(
        f"fleet: {made} host lives on {args.slots} slots, 1000 pools, 20 types x 4 prices, "
        f"{'daily' if args.daily_rates else 'monthly'} rates; built in {time.perf_counter() - started:.0f} s"
    )
    user = User.objects.create(username="bench-admin", is_superuser=True)
    june, july = datetime(2025, 6, 1, tzinfo=UTC), datetime(2025, 7, 1, tzinfo=UTC)
    measure(user, "by pool, the year", ["pool"], YEAR, YEAR_END)
    measure(user, "by pool, June", ["pool"], june, july)
    measure(user, "by pool, June by day", ["pool"], june, july, "day")
    measure(user, "by cluster, the year", ["cluster"], YEAR, YEAR_END)
    measure(user, "by provider, the year", ["provider"], YEAR, YEAR_END)
    measure(user, "by cluster+instance_type, the year", ["cluster", "instance_type"], YEAR, YEAR_END)


if __name__ == "__main__":
    main()
