"""Benchmark: every list of the API, and the console's list pages, on a fleet of 100,000 hosts.

Builds the fleet of bench/fleet.py (100 clusters, 1,000 pools, 100,000 hosts,
10,000 jobs with events, init runs, audit entries, physical machines) on
PostgreSQL, then asks every list endpoint of /api/v1/ (plus the filtered,
ordered and deep-offset variants users send) as a system administrator and
as a member of three clusters (whose lists restrict() narrows with a
subquery), and the console's pages (lists, a pool, a cluster). Each request runs through
Django's full stack (middleware, authentication, serializers) in this process,
``--repeat`` times after one warm-up; printed per row: status code, fastest,
median and p95 wall time, and the SQL statements of one request (the fastest
time says what the code costs when the machine is shared and busy). Like a
gunicorn worker (gunicorn.conf.py), the process freezes what it keeps for
life after loading and after its 1st, 10th, 100th and 1000th request
(dcp/heap.py). Asserts nothing.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/dcp_benchapi \\
    .venv/bin/python bench/api.py --repeat 20

``--keep`` benchmarks the fleet already in the database (after migrating it),
so code changes can be measured without building it again.
"""

import argparse
import logging
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.common import QueryCounter, recreate_database  # noqa: E402 - needs ROOT on the path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dcp.settings")

# (label, path); {big}, {second}, {pool}, {cluster} are filled from the fleet.
API_LISTS = (
    ("providers", "/api/v1/providers/"),
    ("physical-machines", "/api/v1/physical-machines/"),
    ("physical-machines ?state=free", "/api/v1/physical-machines/?state=free"),
    ("templates", "/api/v1/templates/"),
    ("clusters", "/api/v1/clusters/"),
    ("clusters, costs computed now", "/api/v1/clusters/"),
    ("members", "/api/v1/clusters/{cluster}/members/"),
    ("pools", "/api/v1/pools/"),
    ("pools, costs computed now", "/api/v1/pools/"),
    ("pools ?cluster=", "/api/v1/pools/?cluster={cluster}"),
    ("pools ?ordering=-created_at", "/api/v1/pools/?ordering=-created_at"),
    ("pools offset=900", "/api/v1/pools/?offset=900"),
    ("jobs", "/api/v1/jobs/"),
    ("jobs ?status=succeeded&limit=50", "/api/v1/jobs/?status=succeeded&limit=50"),
    ("jobs ?ordering=-created_at", "/api/v1/jobs/?ordering=-created_at"),
    ("jobs ?pool=", "/api/v1/jobs/?pool={pool}"),
    ("jobs offset=9000", "/api/v1/jobs/?offset=9000"),
    ("hosts", "/api/v1/hosts/"),
    ("hosts ?status=ready&limit=100", "/api/v1/hosts/?status=ready&limit=100"),
    ("hosts ?status=ready offset=60000", "/api/v1/hosts/?status=ready&limit=100&offset=60000"),
    ("hosts offset=90000", "/api/v1/hosts/?offset=90000"),
    ("hosts ?pool=big&status=ready", "/api/v1/hosts/?pool={big}&status=ready"),
    ("hosts ?cluster=", "/api/v1/hosts/?cluster={cluster}"),
    ("hosts ?ordering=-created_at", "/api/v1/hosts/?ordering=-created_at"),
    ("hosts ?ordering=-hostname", "/api/v1/hosts/?ordering=-hostname"),
    ("orphans", "/api/v1/orphans/"),
    ("init-runs", "/api/v1/init-runs/"),
    ("init-runs ?status=failed", "/api/v1/init-runs/?status=failed"),
    ("ssh-keys", "/api/v1/ssh-keys/"),
    ("registries", "/api/v1/registries/"),
    ("users", "/api/v1/users/"),
    ("audit", "/api/v1/audit/"),
    ("audit ?cluster=", "/api/v1/audit/?cluster={cluster}"),
)
CONSOLE_PAGES = (
    ("console home", "/"),
    ("console home page 10", "/?page=10"),
    ("console pool (10,000 hosts)", "/pools/{big}/"),
    ("console pool (2,000 hosts)", "/pools/{second}/"),
    ("console pool, hosts page 5", "/pools/{big}/?page=5"),
    ("console pool of a member", "/pools/{pool}/"),
    ("console hosts", "/hosts/"),
    ("console hosts page 1000", "/hosts/?page=1000"),
    ("console hosts by -hostname", "/hosts/?ordering=-hostname"),
    ("console hosts by hostname page 600", "/hosts/?ordering=hostname&page=600"),
    ("console hosts ?status=failed", "/hosts/?status=failed"),
    ("console hosts ?q=", "/hosts/?q=h000123"),
    ("console hosts ?q= pool part", "/hosts/?q=pool-0042"),
    ("console hosts ?q= instance id", "/hosts/?q=i-0000abc"),
    ("console hosts ?q= no match", "/hosts/?q=nowhere"),
    ("console hosts ?q= by -hostname", "/hosts/?q=h00012&ordering=-hostname"),
    ("console hosts ?pool= CSV", "/hosts/?pool={second}&export=csv"),
    ("console jobs", "/jobs/"),
    ("console audit", "/audit/"),
    ("console cluster", "/clusters/{cluster}/"),
)


REQUESTS = [0]  # requests this process has answered, as a gunicorn worker counts them


def measure(client, path: str, repeat: int, headers: dict) -> tuple[int, float, float, float, int]:
    """Status, fastest, median and p95 ms, and statements of one request, over repeat requests after a warm-up."""
    from django.db import connection

    from dcp.heap import SETTLE_AFTER_REQUESTS, settle

    def get():
        answer = client.get(path, **headers)
        if answer.streaming:  # a CSV export: its rows are made while it is read
            b"".join(answer.streaming_content)
        REQUESTS[0] += 1
        if REQUESTS[0] in SETTLE_AFTER_REQUESTS:  # as gunicorn's post_request hook does, after the answer
            settle()
        return answer

    counter = QueryCounter()
    with connection.execute_wrapper(counter):
        answer = get()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        get()
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
    return answer.status_code, times[0], statistics.median(times), p95, counter.count


def run(fleet, repeat: int, only: str) -> None:
    """Ask every list as both users and print a row per (list, user)."""
    from django.conf import settings
    from django.test import Client

    from apps.accounts.models import Token, User

    places = {
        "big": fleet.big_pool,
        "second": fleet.second_pool,
        "pool": fleet.member_pool,
        "cluster": fleet.cluster,
    }
    kept_for = settings.DCP_COST_FIGURES_MAX_AGE
    print(f"{'list':38s} {'user':7s} {'code':>4s} {'min':>9s} {'median':>9s} {'p95':>9s} {'queries':>7s}")
    for who, user_id in (("admin", fleet.admin_id), ("member", fleet.member_id)):
        user = User.objects.get(pk=user_id)
        _, key = Token.issue(user, description="bench")
        api = Client()
        console = Client()
        console.force_login(user)
        cases = [(label, path, api, {"HTTP_AUTHORIZATION": f"Token {key}"}) for label, path in API_LISTS]
        cases += [(label, path, console, {}) for label, path in CONSOLE_PAGES]
        for label, path, client, headers in cases:
            if only and only not in label:
                continue
            # Lists of pools and clusters show kept cost figures (apps.costs.kept); "computed now" rows ask with
            # none still true, as the first list after a scale-out or a price change does.
            settings.DCP_COST_FIGURES_MAX_AGE = 0 if "computed now" in label else kept_for
            code, fastest, median, p95, queries = measure(client, path.format(**places), repeat, headers)
            print(
                f"{label:38s} {who:7s} {code:4d} {fastest:7.1f}ms {median:7.1f}ms {p95:7.1f}ms {queries:7d}", flush=True
            )


def main() -> None:
    """Parse arguments, build (or keep) the fleet, run the lists."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=20, help="timed requests per list (after one warm-up)")
    parser.add_argument("--hosts", type=int, default=100_000)
    parser.add_argument("--pools", type=int, default=1000)
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--keep", action="store_true", help="benchmark the fleet already built (migrate only)")
    parser.add_argument("--only", default="", help="only the lists whose label contains this")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("set DATABASE_URL to a PostgreSQL database the benchmark may drop and recreate")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from bench import fleet

    settings.ALLOWED_HOSTS.append("testserver")
    # A member's 403 on orphans is an expected answer, not news for the log.
    logging.getLogger("django.request").setLevel(logging.ERROR)
    if args.keep:
        call_command("migrate", verbosity=0)
        built = fleet.describe()
    else:
        recreate_database()
        started = time.perf_counter()
        built = fleet.build(pools=args.pools, hosts=args.hosts, jobs=args.jobs, clusters=max(args.pools // 10, 3))
        elapsed = time.perf_counter() - started
        print(f"fleet: {args.hosts} hosts, {args.pools} pools, {args.jobs} jobs, built in {elapsed:.0f} s")
    from apps.costs.kept import keep_all

    started = time.perf_counter()
    kept = keep_all()
    took = time.perf_counter() - started
    print(f"kept the cost figures of {kept} pools and clusters (the beat task) in {took:.1f} s")
    from dcp.heap import settle

    settle()  # as gunicorn's post_worker_init hook does
    run(built, args.repeat, args.only)


if __name__ == "__main__":
    main()
