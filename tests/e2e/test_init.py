"""End to end with real hosts: scale a pool out by 4 on the emulated OpenStack cloud, whose instances get the test
hosts' addresses; the real worker creates them, initializes them over SSH with Ansible, and they become ready.
"""

import json
import urllib.request

import pytest

from apps.configuration.choices import InitStatus
from apps.configuration.models import InitRun
from apps.inventory.choices import HostStatus
from apps.inventory.models import Host
from tests.configuration.conftest import PASSWORD, base_vars, registry, start_hosts, trust
from tests.conftest import client_for, wait_for
from tests.e2e.test_placement import scale, template_on
from tests.factories import PoolFactory, with_template
from tests.providers.harnesses.openstack import OpenStackHarness

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def machines():
    """Four real hosts for the cloud's instances."""
    hosts = start_hosts(4, "e2e")
    yield hosts
    hosts.close()


@pytest.fixture(scope="module")
def cloud():
    """The OpenStack emulator."""
    harness = OpenStackHarness()
    harness.start()
    yield harness
    harness.stop()


def test_scale_out_by_four_ends_initialized_and_ready(worker, machines, cloud, cluster, users):
    """Instances created on the cloud are the test hosts; each is initialized for real and ready."""
    request = urllib.request.Request(  # noqa: S310 - the emulator, on loopback
        f"{cloud.url}/_emulator/addresses",
        data=json.dumps({"addresses": [m.ip for m in machines]}).encode(),
        method="PUT",
        headers={"Content-Type": "application/json"},
    )
    urllib.request.urlopen(request, timeout=10).close()  # noqa: S310 - the emulator on loopback
    template = template_on(cloud, "os-init", init_method="ansible", init_vars=base_vars(machines), registry=registry())
    pool = with_template(PoolFactory(cluster=cluster, name="web"), template)
    trust(machines, pool=pool)

    job = scale(pool, 4, timeout=900)

    assert job["status"] == "succeeded", job
    hosts = list(Host.objects.filter(pool=pool))
    assert len(hosts) == 4 and {h.status for h in hosts} == {HostStatus.READY}
    assert {h.private_ip for h in hosts} == {m.ip for m in machines}
    runs = InitRun.objects.filter(host__in=hosts)
    assert {r.status for r in runs} == {InitStatus.CHANGED} and runs.count() == 4
    for machine in machines:
        assert f"server {machines.ntp_server} iburst" in machine.read_file("/etc/chrony/chrony.conf")
        assert machine.exists("/root/.docker/config.json")
    steps = {event["kind"] for host in job["hosts"] for event in host["steps"]}
    assert {"created", "running", "initialized", "ready"} <= steps
    client = client_for(users["developer"])
    # A re-run through the API runs on the worker, changes nothing, and leaves the hosts ready.
    answer = client.post(f"/api/v1/pools/{pool.pk}/initialize/")
    assert answer.status_code == 202 and len(answer.json()["runs"]) == 4
    reruns = InitRun.objects.filter(host__in=hosts, rerun=True)
    wait_for(lambda: not reruns.filter(status=InitStatus.RUNNING).exists(), timeout=300, message="the re-runs")
    assert {r.status for r in reruns} == {InitStatus.OK}
    assert set(Host.objects.filter(pool=pool).values_list("status", flat=True)) == {HostStatus.READY}
    seen = [client.get(path).content.decode() for path in (f"/api/v1/jobs/{job['id']}/", "/api/v1/init-runs/")]
    assert all(PASSWORD not in text for text in seen)
    assert PASSWORD not in worker.log_path.read_text(errors="replace")
