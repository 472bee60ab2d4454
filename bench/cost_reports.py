"""Benchmark: making one scheduled cost report over a year of churn, and its CSV, XLSX and e-mail.

Builds the fleet of bench/costs.py (--slots host slots over 1,000 pools, default
2,000 slots with 12 lives each), then makes a monthly report by pool of June 2025
for a system administrator's schedule (two cost answers: June and May), and
renders the report's CSV, XLSX and e-mail message (one row per pool). Prints
figures; asserts nothing.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/dcp_benchreports .venv/bin/python bench/cost_reports.py
"""

import os
import random
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.common import QueryCounter, fresh_django  # noqa: E402 - needs ROOT on the path
from bench.costs import YEAR_END, build_catalog, build_fleet, fleet_arguments  # noqa: E402

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dcp.settings")

JUNE = (datetime(2025, 6, 1, tzinfo=UTC), datetime(2025, 7, 1, tzinfo=UTC))


def timed(label: str, work, repeat: int = 3):
    """Run work repeat times; print the best and first time; the last result."""
    timings = []
    for _ in range(repeat):
        started = time.perf_counter()
        result = work()
        timings.append(time.perf_counter() - started)
    print(f"{label:34s} {min(timings) * 1000:7.0f} ms (best of {repeat}; first {timings[0] * 1000:5.0f} ms)")
    return result


def main() -> None:
    """Parse arguments, build the fleet afresh, measure one report."""
    args = fleet_arguments(__doc__, slots=2_000).parse_args()
    fresh_django()
    from django.db import connection, transaction

    from apps.accounts.models import User
    from apps.costs.reports import files, mail, services
    from apps.costs.reports.models import CostReport, CostReportSchedule

    rng = random.Random(args.seed)
    made = build_fleet(rng, args.slots, args.lives, build_catalog(rng, False))
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    owner = User.objects.create(username="bench-admin", is_superuser=True)
    schedule = CostReportSchedule.objects.create(
        name="bench", owner=owner, group_by="pool", currency="USD", frequency="monthly", time_zone="UTC",
        formats=["csv", "xlsx"], recipients=["finance@example.com"], created_at=JUNE[0],
    )  # fmt: skip
    CostReportSchedule.objects.filter(pk=schedule.pk).update(created_at=JUNE[0])
    print(f"fleet: {made} host lives on {args.slots} slots, 1000 pools")

    def make():
        with transaction.atomic():
            CostReport.objects.filter(schedule=schedule).delete()
            return services.make_report(schedule.pk, JUNE, YEAR_END, queue=False)

    counter = QueryCounter()
    with connection.execute_wrapper(counter):
        report = make()
    print(f"make_report: {counter.count} statements, {len(report.rows)} rows, total {report.total} USD")
    report = timed("make_report (June vs May, by pool)", make)
    report = CostReport.objects.select_related("schedule__cluster").get(pk=report.pk)
    csv_bytes = timed("CSV", lambda: files.as_csv(report))
    xlsx_bytes = timed("XLSX", lambda: files.as_xlsx(report))
    message = timed("e-mail message (HTML, text, files)", lambda: mail.message(report).message().as_bytes())
    print(f"sizes: CSV {len(csv_bytes)} B, XLSX {len(xlsx_bytes)} B, e-mail {len(message)} B")


if __name__ == "__main__":
    main()
