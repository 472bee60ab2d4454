"""Benchmark: initialize 1, 4 and 8 real test hosts in one run, with Ansible and with Puppet, and check them for drift.

For each init method and host count, a fresh set of test hosts is started
(tests/hosts: network namespaces, sshd, an overlay of one Debian root, packages
from the harness's local repository) and the engine's initialization step
(``work.initialize``: claim, one ansible-runner run over all the hosts, record
per-host results) is timed twice on it:

- first run: from a bare host to the base state (chrony, sysctl, docker.io,
  registry login; for Puppet also installing puppet-agent and applying the
  manifests), the cost of a new host;
- second run: the same state again, nothing to change, the cost of a re-run;
- drift check: the same hosts in check mode (Ansible ``--check --diff``,
  Puppet ``--noop``), the cost of a scheduled or asked-for drift check.

Printed per row: wall time of the run, wall time per host, and the slowest
host's own duration; for the check its wall time and per host. Every host must
end ready, the second run must change nothing and the check must find every
host in its base state, else the benchmark stops with the reason. Needs root (the test hosts)
and PostgreSQL (DATABASE_URL; the database is dropped and recreated).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/dcp_benchinit \\
    .venv/bin/python bench/init_hosts.py --counts 1,4,8 --methods ansible,puppet
"""

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.common import recreate_database  # noqa: E402 - needs ROOT on the path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dcp.settings")


def timed_run(host_ids: list[int]) -> float:
    """Run the engine's initialization step once over these hosts; seconds it took."""
    from apps.provisioning import work

    started = time.perf_counter()
    work.initialize(host_ids)
    return time.perf_counter() - started


def rerun(host_ids: list[int]) -> float:
    """Re-run initialization on ready hosts (as the API's re-run does); seconds it took."""
    from apps.configuration import services

    started = time.perf_counter()
    services.execute(services.claim(services.load(host_ids), rerun=True))
    return time.perf_counter() - started


def check(host_ids: list[int]) -> float:
    """A drift check of these hosts (check mode, changes nothing), as a check job's worker runs it; seconds."""
    from apps.configuration import services

    started = time.perf_counter()
    services.execute(services.claim(services.load(host_ids), rerun=True, check=True), check=True)
    return time.perf_counter() - started


def measure(method: str, count: int, prefix: str = "bench") -> dict:
    """Start count fresh hosts, initialize them twice, check them for drift, check the outcomes; the figures."""
    from apps.configuration.choices import InitStatus
    from apps.configuration.models import InitRun
    from apps.inventory.choices import HostStatus
    from apps.inventory.models import Host
    from tests.configuration.conftest import base_vars, hosts_for, start_hosts

    hosts = start_hosts(count, f"{prefix}-{method[:2]}{count}")
    try:
        records = hosts_for(hosts, list(hosts), method=method, init_vars=base_vars(hosts))
        ids = [h.pk for h in records]
        first = timed_run(ids)
        failed = Host.objects.filter(pk__in=ids).exclude(status=HostStatus.READY)
        if failed.exists():
            runs = InitRun.objects.filter(host__in=failed)
            sys.exit(f"{method} x{count}: not ready: " + "; ".join(f"{r.host.hostname}: {r.message}" for r in runs))
        slowest_first = max(
            InitRun.objects.filter(host__in=ids, rerun=False).values_list("duration_seconds", flat=True)
        )
        second = rerun(ids)
        again = InitRun.objects.filter(host__in=ids, rerun=True)
        changed = [r for r in again if r.status != InitStatus.OK]
        if changed:
            sys.exit(f"{method} x{count}: second run not clean: {changed[0].host.hostname}: {changed[0].message}")
        slowest_second = max(r.duration_seconds for r in again)
        checked = check(ids)
        drifted = InitRun.objects.filter(host__in=ids, drift_check=True).exclude(status=InitStatus.OK)
        if drifted.exists():
            first_drifted = drifted.first()
            sys.exit(f"{method} x{count}: check found drift: {first_drifted.message} {first_drifted.changes}")
    finally:
        hosts.close()
    return {
        "method": method,
        "hosts": count,
        "first": first,
        "first_slowest": slowest_first,
        "second": second,
        "second_slowest": slowest_second,
        "check": checked,
    }


def main() -> None:
    """Parse arguments, prepare the database and the host image, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--counts", default="1,4,8")
    parser.add_argument("--methods", default="ansible,puppet")
    parser.add_argument("--prefix", default="bench", help="Name prefix of the test host sets (unique per run).")
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("set DATABASE_URL to a PostgreSQL database the benchmark may drop and recreate")
    if os.geteuid() != 0:
        sys.exit("the test hosts need root")
    import django

    django.setup()
    from django.conf import settings

    from tests.hosts import ensure_built

    settings.DCP_INIT_RETRIES = 0
    recreate_database()
    ensure_built()
    counts = [int(n) for n in args.counts.split(",")]
    rows = [measure(method, count, args.prefix) for method in args.methods.split(",") for count in counts]
    print(
        f"{'method':8} {'hosts':>5} {'first run':>10} {'per host':>9} {'slowest':>8} {'re-run':>8} {'per host':>9}"
        f" {'check':>8} {'per host':>9}"
    )
    for row in rows:
        print(
            f"{row['method']:8} {row['hosts']:>5} {row['first']:>9.1f}s {row['first'] / row['hosts']:>8.1f}s "
            f"{row['first_slowest']:>7.1f}s {row['second']:>7.1f}s {row['second'] / row['hosts']:>8.1f}s"
            f" {row['check']:>7.1f}s {row['check'] / row['hosts']:>8.1f}s"
        )


if __name__ == "__main__":
    main()
