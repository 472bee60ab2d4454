"""Initialization for real: Ansible and Puppet bring real test hosts (network namespaces, sshd, apt from a local
repository) to the base state; read back from the hosts, the second run changes nothing, failures stay per host.

The engine's step (work.initialize) and the re-run services run in this process against PostgreSQL; the
hosts are real machines reached over SSH, see tests/hosts/README.md.
"""

import json

import pytest

from apps.configuration import services
from apps.configuration.choices import InitStatus
from apps.configuration.models import InitRun, KnownHost
from apps.inventory.choices import HostStatus
from apps.inventory.models import Host
from apps.provisioning import work
from tests.configuration.conftest import (
    DEFAULT_MIRROR,
    MIRRORS,
    PASSWORD,
    REGISTRY_URL,
    base_vars,
    hosts_for,
    start_hosts,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def testhosts():
    """Seven real hosts: two for Ansible, two for Puppet, three for the failure cases."""
    hosts = start_hosts(7, "cfg")
    yield hosts
    hosts.close()


@pytest.fixture(autouse=True)
def _no_engine_retries(settings):
    """A failed run fails its host at once (the retry policy has its own test)."""
    settings.DCP_INIT_RETRIES = 0


def rerun(hosts: list[Host]) -> list[InitRun]:
    """Run initialization again on ready hosts in one run, as a pool's re-run through the API does; the runs."""
    runs = services.claim(services.load([host.pk for host in hosts]), rerun=True)
    services.execute(runs)
    return list(InitRun.objects.filter(pk__in=[run.pk for run in runs]))


def assert_base_state(machine, *, mirror: str, ntp_server: str) -> None:
    """What the ntp, sysctl, docker and registry roles promise, read back from the host itself."""
    chrony = machine.read_file("/etc/chrony/chrony.conf")
    assert f"server {ntp_server} iburst" in chrony
    assert "-x" in machine.read_file("/etc/default/chrony")
    assert machine.run(["pgrep", "-x", "chronyd"]).returncode == 0
    tracking = machine.run(["chronyc", "-n", "tracking"]).stdout
    assert "Leap status     : Normal" in tracking, tracking
    sysctl = machine.read_file("/etc/sysctl.d/90-dcp.conf")
    assert "net.core.somaxconn" in sysctl and "vm.max_map_count" in sysctl
    wanted = next(line for line in sysctl.splitlines() if line.startswith("net.core.somaxconn"))
    assert machine.run(["sysctl", "-n", "net.core.somaxconn"]).stdout.strip() == wanted.split("=")[1].strip()
    assert machine.run(["dpkg-query", "-W", "-f", "${Status}", "docker.io"]).stdout == "install ok installed"
    assert machine.run(["sh", "-c", "ls /etc/rc2.d/S*docker"]).returncode == 0  # enabled at boot
    daemon = json.loads(machine.read_file("/etc/docker/daemon.json"))
    assert daemon["registry-mirrors"] == [mirror]
    assert daemon["log-driver"] == "json-file" and daemon["log-opts"]["max-size"]
    config = json.loads(machine.read_file("/root/.docker/config.json"))
    assert REGISTRY_URL in config["auths"]
    assert machine.run(["stat", "-c", "%a", "/root/.docker/config.json"]).stdout.strip() == "600"


def assert_no_secret_stored(hosts) -> None:
    """Neither the registry password nor the private key in any run's output or message."""
    for run in InitRun.objects.all():
        for text in (run.output, run.message):
            assert PASSWORD not in text
            assert hosts.private_key.split("\n")[1] not in text


@pytest.mark.parametrize(("method", "first"), [("ansible", 0), ("puppet", 2)])
def test_base_state_then_nothing_changes(testhosts, method, first):
    """First run: ready, changed, the state on the hosts; second run: no change; host keys recorded and kept."""
    machines = testhosts.hosts[first : first + 2]
    hosts = hosts_for(testhosts, machines, method=method, init_vars=base_vars(testhosts), zones=["bj-1", "sh-9"])
    work.initialize([h.pk for h in hosts])
    for host, machine, mirror in zip(hosts, machines, (MIRRORS["bj-1"], DEFAULT_MIRROR), strict=True):
        host.refresh_from_db()
        run = host.init_runs.get()
        assert host.status == HostStatus.READY, (run.message, run.output[-3000:])
        assert run.status == InitStatus.CHANGED and run.changed_tasks > 0 and run.duration_seconds > 0
        assert_base_state(machine, mirror=mirror, ntp_server=testhosts.ntp_server)
        recorded = {" ".join(line.split()[1:3]) for line in KnownHost.objects.get(host=host).keys.splitlines()}
        assert recorded and recorded <= {" ".join(key.split()[:2]) for key in machine.host_keys()}
    again = rerun(hosts)
    assert len(again) == 2
    for run in again:
        assert run.status == InitStatus.OK and run.changed_tasks == 0, run.output
    assert_no_secret_stored(testhosts)


@pytest.mark.parametrize(("method", "first"), [("ansible", 0), ("puppet", 2)])
def test_wrong_value_fails_with_a_clear_message(testhosts, method, first):
    """A value the roles refuse fails the run naming the variable; the host was left as it was."""
    machine = testhosts.hosts[first]
    bad = base_vars(testhosts, dcp_sysctl_overrides={"net.core.somaxconn": "plenty"})
    host = hosts_for(testhosts, [machine], method=method, init_vars=bad)[0]
    work.initialize([host.pk])
    host.refresh_from_db()
    run = host.init_runs.get()
    assert host.status == HostStatus.FAILED and run.status == InitStatus.FAILED
    assert "net.core.somaxconn" in run.message, run.message


def test_unreachable_and_failing_hosts_fail_alone(testhosts):
    """In one run: a healthy host becomes ready, a host whose task fails and a host that is down fail with why."""
    healthy, broken, down = testhosts.hosts[4:7]
    broken.run(["touch", "/etc/chrony"], check=True)  # a file where chrony's package puts its directory
    down.stop()
    try:
        quick = base_vars(testhosts, dcp_connect_timeout=5)
        hosts = hosts_for(testhosts, [healthy, broken, down], method="ansible", init_vars=quick)
        work.initialize([h.pk for h in hosts])
    finally:
        down.start()
    ready, failed, unreachable = (Host.objects.get(pk=h.pk) for h in hosts)
    assert ready.status == HostStatus.READY, ready.init_runs.get().output[-3000:]
    assert failed.status == HostStatus.FAILED and "/etc/chrony already exists as a file" in failed.status_message
    assert failed.init_runs.get().status == InitStatus.FAILED
    assert unreachable.status == HostStatus.FAILED and "unreachable" in unreachable.status_message
    assert unreachable.init_runs.get().status == InitStatus.UNREACHABLE
    assert_no_secret_stored(testhosts)


def test_changed_host_key_is_refused(testhosts):
    """A host whose key differs from the one recorded is not trusted: unreachable, saying why."""
    machine = testhosts.hosts[4]
    host = hosts_for(testhosts, [machine], method="ansible", init_vars=base_vars(testhosts, dcp_connect_timeout=5))[0]
    other = testhosts.hosts[5].host_keys()
    KnownHost.objects.create(host=host, address=machine.ip, keys="\n".join(f"{machine.ip} {k}" for k in other))
    work.initialize([host.pk])
    host.refresh_from_db()
    assert host.status == HostStatus.FAILED
    assert "host key differs" in host.init_runs.get().message
