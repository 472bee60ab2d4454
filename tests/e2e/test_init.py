"""End to end with real hosts: the seed's paths, each scaled out through the API with a real worker.

- OpenStack (emulated) with Ansible, by 4: the servers build for a second, hiding their addresses meanwhile;
- Aliyun ECS (emulated) with Ansible, by 3: ECS answers the create with instance ids only and the instances
  boot for a second, so every address, core count and memory size comes from a later answer;
- physical machines with Puppet, by 3, at the same time as the ECS pool.

The clouds' instances get the test hosts' addresses and the physical machines are the test hosts, so every
host is initialized for real over SSH; each ends ready with what its provider reports of it, read through
the API, and the base state is read back from the hosts themselves.
"""

from decimal import Decimal

import pytest

from apps.configuration.choices import InitStatus
from apps.configuration.models import InitRun
from apps.inventory.choices import HostStatus
from apps.inventory.models import Host, PhysicalMachine
from tests.configuration.conftest import DEFAULT_MIRROR, MIRRORS, PASSWORD, base_vars, registry, start_hosts, trust
from tests.configuration.test_hosts import assert_base_state
from tests.conftest import client_for, serving, wait_for
from tests.e2e.test_cloud_scale import hosts_as_reported
from tests.e2e.test_placement import ask_scale, scale, template_on
from tests.factories import PhysicalProviderFactory, PoolFactory, TemplateFactory, with_template
from tests.providers.harnesses.openstack import OpenStackHarness
from tests.providers.harnesses.physical import PhysicalHarness

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def machines():
    """Ten real hosts: four for OpenStack's instances, three for ECS's, three as physical machines."""
    hosts = start_hosts(10, "e2e")
    yield hosts
    hosts.close()


@pytest.fixture(scope="module")
def cloud():
    """The OpenStack emulator."""
    yield from serving(OpenStackHarness)


def ansible_pool(harness, machines, mine: list, cluster, name: str):
    """A pool on the emulated cloud, initialized with Ansible, whose instances are these test hosts.

    The instances boot for a second, as on a real cloud (ECS's create answers ids only, Nova hides a
    server's addresses while it builds): their addresses come with a later answer.
    """
    harness.reset()
    harness.set_faults(boot_seconds=1)
    harness.hand_out([m.ip for m in mine])
    init_vars = base_vars(machines)
    template = template_on(harness, f"{name}-init", init_method="ansible", init_vars=init_vars, registry=registry())
    pool = with_template(PoolFactory(cluster=cluster, name=name), template)
    trust(machines, pool=pool)
    return pool


def test_scale_out_by_four_ends_initialized_and_ready(worker, machines, cloud, cluster, users):
    """Instances created on the cloud are the test hosts; each is initialized for real and ready."""
    mine = machines.hosts[:4]
    pool = ansible_pool(cloud, machines, mine, cluster, "web")

    job = scale(pool, 4, timeout=900)

    assert job["status"] == "succeeded", job
    hosts = list(Host.objects.filter(pool=pool))
    assert len(hosts) == 4 and {h.status for h in hosts} == {HostStatus.READY}
    assert {h.private_ip for h in hosts} == {m.ip for m in mine}
    runs = InitRun.objects.filter(host__in=hosts)
    assert {r.status for r in runs} == {InitStatus.CHANGED} and runs.count() == 4
    for machine in mine:
        assert f"server {machines.ntp_server} iburst" in machine.read_file("/etc/chrony/chrony.conf")
        assert machine.exists("/root/.docker/config.json")
    steps = {event["kind"] for host in job["hosts"] for event in host["steps"]}
    assert {"created", "running", "initialized", "ready"} <= steps
    client = client_for(users["developer"])
    assert len(hosts_as_reported(client, pool, cloud)) == 4
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


def assert_initialized(client, pool, provider, mine, machines, mirror: str) -> None:
    """Three hosts, read through the API: ready, on these test hosts, each as its provider reports it, and each
    one's base state read back from the test host itself after a run that changed it."""
    hosts = hosts_as_reported(client, pool, provider)
    assert sorted(h["private_ip"] for h in hosts) == sorted(m.ip for m in mine)
    runs = client.get("/api/v1/init-runs/", {"limit": 100}).json()["results"]
    mine_runs = [run for run in runs if run["host"] in {h["id"] for h in hosts}]
    assert sorted(run["status"] for run in mine_runs) == [InitStatus.CHANGED] * 3, mine_runs
    for machine in mine:
        assert_base_state(machine, mirror=mirror, ntp_server=machines.ntp_server)


def physical_pool(machines, mine: list, cluster, name: str):
    """A pool of physical machines, initialized with Puppet: the machines are these test hosts, of three sizes."""
    account = PhysicalProviderFactory()
    for machine, (cpu, memory) in zip(mine, ((12, "16"), (16, "32"), (24, "48")), strict=True):
        PhysicalMachine.objects.create(
            provider=account,
            hostname=machine.name,
            ip=machine.ip,
            cpu=cpu,
            memory_gb=Decimal(memory),
            machine_class="c12",
            idc="bj-1",
            monthly_cost=Decimal(300),
        )
    template = TemplateFactory(
        provider=account,
        instance_type="c12",
        cpu=12,
        memory_gb=Decimal(16),
        init_method="puppet",
        init_vars=base_vars(machines),
        registry=registry(),
    )
    pool = with_template(PoolFactory(cluster=cluster, name=name), template)
    trust(machines, pool=pool)
    return pool


def test_the_seed_paths_scale_out_by_three_each(worker, machines, ecs_emulator, cluster, users):
    """An ECS pool initialized with Ansible and a pool of physical machines initialized with Puppet, each +3
    through the API at the same time (the worker initializes both at once): every host ends initialized and
    ready, with what its provider reports of it."""
    burst = ansible_pool(ecs_emulator, machines, machines.hosts[4:7], cluster, "burst")
    core = physical_pool(machines, machines.hosts[7:10], cluster, "core")

    waits = [ask_scale(pool, 3) for pool in (burst, core)]
    jobs = [wait(timeout=900) for wait in waits]

    assert [job["status"] for job in jobs] == ["succeeded", "succeeded"], jobs
    client = client_for(users["developer"])
    assert_initialized(client, burst, ecs_emulator, machines.hosts[4:7], machines, DEFAULT_MIRROR)
    assert_initialized(client, core, PhysicalHarness(), machines.hosts[7:10], machines, MIRRORS["bj-1"])
