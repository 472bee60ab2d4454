"""Benchmark: the daily price sync of one AWS account against the AWS emulator's Pricing API.

Lists --types instance types (default 200) in the emulator's price list and gives the account a
template of each, then times three syncs through apps.costs.sync.sync_account: the first (every
price added), the second (every price confirmed), and a third after --changes prices moved (those
changed, the rest confirmed); then one with the Pricing API failing (every price kept, from
Libcloud's data). Prints seconds, Pricing API calls and SQL statements per sync; asserts nothing.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/dcp_benchsync .venv/bin/python bench/price_sync.py
"""

import argparse
import os
import sys
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.common import QueryCounter, recreate_database  # noqa: E402 - needs ROOT on the path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dcp.settings")


def timed(label: str, account, emulator, now) -> None:
    """One sync, with its time, calls and statements printed."""
    from django.db import connection

    from apps.costs import sync

    calls_before = emulator.calls["GetProducts"]
    counter = QueryCounter()
    started = time.perf_counter()
    with connection.execute_wrapper(counter):
        result = sync.sync_account(account, now)
    elapsed = time.perf_counter() - started
    outcomes = Counter(finding.outcome for finding in result.findings)
    print(
        f"{label:<28} {elapsed:7.2f} s  {emulator.calls['GetProducts'] - calls_before:4d} GetProducts  "
        f"{counter.count:5d} SQL  {dict(sorted(outcomes.items()))}{'  error: ' + result.error if result.error else ''}"
    )


def main() -> None:
    """Parse arguments, build the account afresh, time the syncs."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--types", type=int, default=200)
    parser.add_argument("--changes", type=int, default=20)
    args = parser.parse_args()

    import django

    django.setup()
    from django.utils import timezone

    from apps.providers.models import CloudAccount, MachineTemplate
    from emulators.aws import AwsEmulator
    from emulators.base import Faults

    recreate_database()
    emulator = AwsEmulator()
    url = emulator.start()
    try:
        names = [f"bench{n}.large" for n in range(args.types)]
        emulator.set_prices({"us-east-1": {name: f"0.{n + 1000:04d}" for n, name in enumerate(names)}})
        account = CloudAccount.objects.create(
            name="bench-aws",
            kind="aws",
            region="us-east-1",
            endpoint_url=url,
            credentials={"access_key_id": emulator.ACCESS_KEY_ID, "secret_access_key": emulator.SECRET_ACCESS_KEY},
        )
        MachineTemplate.objects.bulk_create(
            MachineTemplate(name=f"t-{n}", provider=account, instance_type=name) for n, name in enumerate(names)
        )
        now = timezone.now()
        print(f"{args.types} instance types on one AWS account, {args.changes} re-priced before the third sync")
        timed("first sync (adds)", account, emulator, now)
        timed("second sync (confirms)", account, emulator, now + timedelta(days=1))
        emulator.set_prices({"us-east-1": {name: f"1.{n:04d}" for n, name in enumerate(names[: args.changes])}})
        timed("third sync (changes)", account, emulator, now + timedelta(days=2))
        emulator.faults = Faults(error_rate=1.0)
        timed("Pricing API failing", account, emulator, now + timedelta(days=3))
    finally:
        emulator.stop()


if __name__ == "__main__":
    main()
