"""Benchmark: what the database spends on the hosts list's sort by name and its search, with and without indexes.

On the fleet bench/api.py builds (100,000 hosts; run that first, or pass
--build), runs the console's host queries (a page by -hostname, a deep page by
hostname, ``?q=`` on hostname or instance id: the count and the page) under
EXPLAIN ANALYZE, ``--repeat`` times, and prints the fastest and median
execution time PostgreSQL reports and the plan's scan: once with the indexes
of migration inventory 0007_host_search_indexes dropped (inside a transaction
that is rolled back) and once with them. The database's own figure leaves out
the busy machine's Python time, so before and after compare what the indexes
change. Asserts nothing.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/dcp_benchapi \\
    .venv/bin/python bench/host_search.py --repeat 10
"""

import argparse
import json
import os
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dcp.settings")

INDEXES = ("host_hostname_order_idx", "host_hostname_trgm_idx", "host_instance_id_trgm_idx")
SEARCHES = ("h000123", "pool-0042", "i-0000abc", "nowhere")


def cases():
    """(label, SQL, params) of the queries the console's hosts list sends for a system administrator."""
    from django.db.models import Q

    from apps.inventory.models import Host

    def sql(queryset, count=False):
        text, params = queryset.query.get_compiler("default").as_sql()
        counted = f"SELECT COUNT(*) FROM ({text}) counted"  # noqa: S608 - Django's own compiled SQL, params apart
        return (counted, params) if count else (text, params)

    made = [
        ("page by -hostname", *sql(Host.objects.order_by("-hostname", "pk").values("pk")[:100])),
        ("page 300 by hostname", *sql(Host.objects.order_by("hostname", "pk").values("pk")[29900:30000])),
    ]
    for term in SEARCHES:
        found = Host.objects.filter(Q(hostname__icontains=term) | Q(instance_id__icontains=term))
        made.append((f"?q={term} count", *sql(found.values("pk"), count=True)))
        made.append((f"?q={term} page", *sql(found.order_by("pool_id", "pk").values("pk")[:100])))
    return made


def measure(cursor, text: str, params, repeat: int) -> tuple[float, float, str]:
    """Fastest and median execution time (ms) PostgreSQL reports, and the plan's scans."""
    times, scans = [], set()
    for _ in range(repeat + 1):
        cursor.execute(f"EXPLAIN (ANALYZE, FORMAT JSON) {text}", params)
        plan = cursor.fetchone()[0]
        plan = json.loads(plan) if isinstance(plan, str) else plan
        times.append(plan[0]["Execution Time"])
        stack = [plan[0]["Plan"]]
        while stack:
            node = stack.pop()
            if "Scan" in node["Node Type"]:
                scans.add(f"{node['Node Type']}{' ' + node['Index Name'] if 'Index Name' in node else ''}")
            stack.extend(node.get("Plans", []))
    times = sorted(times[1:])
    return times[0], statistics.median(times), ", ".join(sorted(scans))


def run(repeat: int) -> None:
    """Print each query's figures without, then with, the indexes."""
    from django.db import connection, transaction

    print(f"{'query':26s} {'indexes':8s} {'min':>9s} {'median':>9s}  scans")
    for with_indexes in (False, True):
        with transaction.atomic():
            with connection.cursor() as cursor:
                if not with_indexes:
                    for name in INDEXES:
                        cursor.execute(f'DROP INDEX IF EXISTS "{name}"')
                cursor.execute("ANALYZE inventory_host")
                for label, text, params in cases():
                    fastest, median, scans = measure(cursor, text, params, repeat)
                    flag = "with" if with_indexes else "without"
                    print(f"{label:26s} {flag:8s} {fastest:7.2f}ms {median:7.2f}ms  {scans}", flush=True)
            transaction.set_rollback(True)


def main() -> None:
    """Parse arguments, build the fleet if asked, measure."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=10, help="timed runs per query (after one warm-up)")
    parser.add_argument("--build", action="store_true", help="build bench/fleet.py's fleet first (drops the database)")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("set DATABASE_URL to the PostgreSQL database of bench/api.py's fleet")
    import django

    django.setup()
    from django.core.management import call_command

    from bench import fleet
    from bench.common import recreate_database

    if args.build:
        recreate_database()
        fleet.build(pools=1000, hosts=100_000, jobs=10_000, clusters=100)
    else:
        call_command("migrate", verbosity=0)
    run(args.repeat)


if __name__ == "__main__":
    main()
