"""Benchmark: budget figures (spent, forecast) for a page of budgets, the beat's check of every budget, a burn-down.

Builds the cost benchmark's fleet (bench/costs.py: --slots host slots over 1,000
pools in 100 clusters, four currencies, a year of churn, physical machines),
then a monthly budget per cluster and one per pool for the first --pool-budgets
pools, all with thresholds so high nothing fires, and measures on 2025-12-15:
GET /api/v1/budgets/ (a page of 50, as a system administrator sees it), the
beat's check_budgets over every budget, and one cluster budget's burn-down.
Prints figures; asserts nothing.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/dcp_benchbudgets .venv/bin/python bench/budgets.py
"""

import argparse
import os
import random
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.common import QueryCounter, recreate_database  # noqa: E402 - needs ROOT on the path
from bench.costs import build_catalog, build_fleet, build_machines  # noqa: E402

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dcp.settings")

NOW = datetime(2025, 12, 15, 9, 30, tzinfo=UTC)


def timed(label: str, call) -> object:
    """Run call three times; print the best time and the first run's statements."""
    from django.db import connection

    timings, counter, result = [], QueryCounter(), None
    for attempt in range(3):
        started = time.perf_counter()
        if attempt == 0:
            with connection.execute_wrapper(counter):
                result = call()
        else:
            result = call()
        timings.append(time.perf_counter() - started)
    print(
        f"{label:40s} {min(timings) * 1000:7.0f} ms (best of 3; first {timings[0] * 1000:5.0f} ms)  "
        f"{counter.count:3d} statements"
    )
    return result


def build_budgets(pool_budgets: int) -> int:
    """A monthly USD budget per cluster and per pool (the first pool_budgets), thresholds far away."""
    from apps.costs.budgets.models import Budget
    from apps.inventory.models import Cluster, ServicePool

    far = [{"percent": 1000, "of": "actual"}, {"percent": 1000, "of": "forecast"}]
    notify = {"notify": [{"email": "finance@example.test"}]}
    budgets = [
        Budget(cluster=c, amount=Decimal("100000"), currency="USD", thresholds=far, recipients=notify)
        for c in Cluster.objects.all()
    ]
    budgets += [
        Budget(
            cluster_id=p.cluster_id, pool=p, amount=Decimal("5000"), currency="USD", thresholds=far, recipients=notify
        )
        for p in ServicePool.objects.order_by("pk")[:pool_budgets]
    ]
    Budget.objects.bulk_create(budgets)
    return len(budgets)


def main() -> None:
    """Parse arguments, build the fleet afresh, measure."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--slots", type=int, default=10_000)
    parser.add_argument("--lives", type=int, default=12)
    parser.add_argument("--machines", type=int, default=500)
    parser.add_argument("--pool-budgets", type=int, default=200)
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("set DATABASE_URL to a PostgreSQL database the benchmark may drop and recreate")
    import django

    django.setup()
    import time_machine
    from django.db import connection
    from rest_framework.test import APIClient

    from apps.accounts.models import User
    from apps.costs.budgets import delivery
    from apps.costs.budgets.burndown import burndown
    from apps.costs.budgets.models import Budget

    recreate_database()
    rng = random.Random(args.seed)
    started = time.perf_counter()
    templates = build_catalog(rng, daily_rates=False)
    made = build_fleet(rng, args.slots, args.lives, templates)
    build_machines(rng, args.machines)
    count = build_budgets(args.pool_budgets)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(f"fleet: {made} host lives, 1000 pools, {count} budgets; built in {time.perf_counter() - started:.0f} s")
    client = APIClient()
    client.force_authenticate(User.objects.create(username="bench-admin", is_superuser=True))
    cluster_budget = Budget.objects.filter(pool__isnull=True).order_by("pk").first()
    with time_machine.travel(NOW, tick=False):
        page = timed(
            "GET /api/v1/budgets/ (50 of them)", lambda: client.get("/api/v1/budgets/?limit=50", HTTP_HOST="localhost")
        )
        if page.status_code != 200:
            sys.exit(f"GET /api/v1/budgets/ answered {page.status_code}")
        timed(f"check_budgets ({count} budgets)", lambda: delivery.check_budgets(NOW))
        timed("burndown of a cluster budget", lambda: burndown(cluster_budget, NOW))


if __name__ == "__main__":
    main()
