"""Benchmark: import physical machines through the API, and print what one import costs.

Each run posts one import of N machines (a JSON list, or the same rows as CSV)
to ``POST /api/v1/physical-machines/import/`` as a system administrator,
through Django's test client (no network), and prints the wall time, the SQL
statements it ran, and the same per row. A second figure times a refused
import of the same size (two rows share a hostname), whose answer is decided
by the duplicate check without saving anything. Several sizes show how the
time grows with N: linear work doubles when N doubles.

The body limit is raised to 8 MiB (DCP_MAX_BODY_BYTES) unless set: 10,000 rows
of JSON are about 1.7 MB, past the default of 1 MiB.

Needs PostgreSQL (DATABASE_URL; the database is created and migrated afresh).
Prints figures; asserts nothing.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/dcp_bench \
    .venv/bin/python bench/import_machines.py --rows 2500,5000,10000
"""

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.common import QueryCounter, recreate_database  # noqa: E402 - needs ROOT on the path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dcp.settings")
# 10,000 rows of JSON are about 1.7 MB, past the default body limit of 1 MiB.
os.environ.setdefault("DCP_MAX_BODY_BYTES", str(8 * 1024 * 1024))
URL = "/api/v1/physical-machines/import/"


def rows(provider_id: int, count: int, prefix: str, octet: int) -> list[dict]:
    """count distinct machines on the provider; prefix and octet keep one set's names and IPs apart."""
    return [
        {
            "provider": provider_id,
            "hostname": f"{prefix}-{i}.idc.test",
            "ip": f"10.{octet}.{i // 250}.{i % 250 + 1}",
            "cpu": 32,
            "memory_gb": "64",
            "machine_class": "c32",
            "idc": "bj-1",
            "monthly_cost": "500.00",
        }
        for i in range(count)
    ]


def as_csv(data: list[dict]) -> bytes:
    """The same rows as CSV with a header row."""
    header = list(data[0])
    lines = [",".join(header), *(",".join(str(row[key]) for key in header) for row in data)]
    return "\n".join(lines).encode()


def post(client, body: bytes, content_type: str):
    """One import request: the answer, seconds, statements."""
    from django.db import connection

    counter = QueryCounter()
    started = time.perf_counter()
    with connection.execute_wrapper(counter):
        answer = client.post(URL, body, content_type=content_type, SERVER_NAME="localhost")
    return answer, time.perf_counter() - started, counter.count


def report(label: str, count: int, answer, elapsed: float, queries: int) -> None:
    """One line of figures."""
    print(
        f"{label:22s} {count:6d} rows: answered {answer.status_code} in {elapsed:7.2f} s "
        f"({elapsed / count * 1000:6.2f} ms/row), {queries:6d} queries ({queries / count:5.2f}/row)"
    )


def bench(count: int, client, provider_id: int, run: int) -> None:
    """Time a JSON import, a CSV import and a refused import of count rows."""
    good = rows(provider_id, count, f"j{run}", 3 * run + 1)
    report("import json", count, *post(client, json.dumps(good).encode(), "application/json"))
    report("import csv", count, *post(client, as_csv(rows(provider_id, count, f"c{run}", 3 * run + 2)), "text/csv"))
    dupes = rows(provider_id, count, f"d{run}", 3 * run + 3)
    dupes[-1]["hostname"] = dupes[0]["hostname"]
    report("refused (duplicate)", count, *post(client, json.dumps(dupes).encode(), "application/json"))


def main() -> None:
    """Parse arguments, prepare the database, run each size."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", default="2500,5000,10000", help="comma-separated import sizes")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("set DATABASE_URL to a PostgreSQL database the benchmark may drop and recreate")
    import django

    django.setup()
    from rest_framework.test import APIClient

    from apps.accounts.models import User
    from apps.providers.models import CloudAccount

    recreate_database()
    user = User.objects.create(username="bench-admin", is_superuser=True)
    provider = CloudAccount.objects.create(name="idc-bench", kind="physical")
    client = APIClient()
    client.force_authenticate(user)
    for run, count in enumerate(int(n) for n in args.rows.split(",")):
        bench(count, client, provider.pk, run)


if __name__ == "__main__":
    main()
