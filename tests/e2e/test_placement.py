"""Placement across clouds with a real worker: quota spill-over and a zone without capacity.

The emulators run in this test process; the worker reaches them over HTTP
with the real SDKs. After each job the clouds' own inventories must hold
exactly the hosts DCP says are ready.
"""

import pytest

from apps.inventory.choices import HostStatus
from apps.inventory.models import Host
from apps.providers.models import MachineTemplate
from tests.conftest import client_for, wait_for
from tests.e2e.test_cloud_scale import finished, live_in_emulator
from tests.factories import PoolFactory, with_template
from tests.providers.harnesses import all_harnesses

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]
HARNESSES = {cls.kind: cls for cls in all_harnesses()}


@pytest.fixture(scope="module")
def clouds():
    """The Aliyun, AWS and OpenStack emulators, for this module."""
    started = {kind: HARNESSES[kind]() for kind in ("aliyun", "aws", "openstack")}
    for harness in started.values():
        harness.start()
    yield started
    for harness in started.values():
        harness.stop()


def template_on(harness, name: str, *, zones: tuple[str, ...] = (), **fields) -> MachineTemplate:
    """A template with the harness's spec; with zones, each on its own subnet (vSwitch) where the cloud has one."""
    account = harness.account()
    spec = harness.spec()
    return MachineTemplate.objects.create(
        name=name,
        provider=account,
        region=spec.region or account.region,
        zone="" if zones else spec.zone,
        zones=[{"zone": zone, "subnet": harness.spec(zone).subnet} for zone in zones],
        instance_type=spec.instance_type,
        image=spec.image,
        network=spec.network,
        subnet=spec.subnet,
        security_groups=list(spec.security_groups),
        key_name=spec.key_name,
        **fields,
    )


def ask_scale(pool, delta: int):
    """Scale the pool through the API as a developer; returns a function that waits for the job to end."""
    client = client_for(pool.cluster.memberships.get(role="developer").user)
    answer = client.post(f"/api/v1/pools/{pool.pk}/scale/", {"delta": delta}, format="json")
    assert answer.status_code == 202, answer.content

    def wait(timeout: float = 180) -> dict:
        return wait_for(lambda: finished(client, answer.json()["id"]), timeout=timeout, message=f"the job on {pool}")

    return wait


def scale(pool, delta: int, timeout: float = 180) -> dict:
    """Scale the pool through the API as a developer and wait for the job to end."""
    return ask_scale(pool, delta)(timeout)


def ready_ids(pool, template) -> set[str]:
    """Instance ids of the pool's ready hosts on template."""
    hosts = Host.objects.filter(pool=pool, template=template, status=HostStatus.READY)
    return set(hosts.values_list("instance_id", flat=True))


def test_fifty_hosts_spill_from_a_full_template_to_the_next(worker, clouds, users, cluster):
    """The first template's quota is 30: 30 hosts land on OpenStack and the other 20 on Aliyun."""
    for harness in clouds.values():
        harness.reset()
    private = template_on(clouds["openstack"], "private-30", max_hosts=30)
    public = template_on(clouds["aliyun"], "public-burst")
    pool = PoolFactory(cluster=cluster, name="spill", max_size=100)
    with_template(with_template(pool, private, 0), public, 1)

    job = scale(pool, 50)

    assert job["status"] == "succeeded", job
    assert job["progress"] == {"total": 50, "ready": 50, "removed": 0, "failed": 0, "drifted": 0}
    assert len(ready_ids(pool, private)) == 30 and len(ready_ids(pool, public)) == 20
    assert live_in_emulator(clouds["openstack"]) == ready_ids(pool, private)
    assert live_in_emulator(clouds["aliyun"]) == ready_ids(pool, public)
    assert {(p["template_name"], p["count"]) for p in job["plan"][0]["placements"]} == {
        ("private-30", 30),
        ("public-burst", 20),
    }


@pytest.mark.parametrize("kind", ["aliyun", "aws", "openstack"])
def test_a_zone_out_of_capacity_is_left_for_the_others(worker, clouds, users, cluster, kind):
    """One of the template's two zones has no capacity: the job still ends with every host ready, elsewhere."""
    harness = clouds[kind]
    harness.reset()
    empty, spare = harness.zones[0], harness.zones[1]
    harness.set_faults(exhausted_zones=[empty], boot_seconds=0.5)
    template = template_on(harness, f"{kind}-two-zones", zones=(empty, spare))
    pool = with_template(PoolFactory(cluster=cluster, name=f"{kind}-zones", max_size=20), template)

    job = scale(pool, 6)

    assert job["status"] == "succeeded", job
    ready = Host.objects.filter(pool=pool, status=HostStatus.READY)
    assert ready.count() == 6
    assert set(ready.values_list("zone", flat=True)) == {spare}
    assert live_in_emulator(harness) == ready_ids(pool, template)
    # The first plan split the hosts over both zones; the ones sent to the empty zone failed for capacity.
    first = {p["zone"]: p["count"] for p in job["plan"][0]["placements"]}
    assert first == {empty: 3, spare: 3}
    failed = Host.objects.filter(pool=pool, failed_at__isnull=False)
    assert failed.count() == 3 and all(h.status_message.startswith("capacity:") for h in failed)
    assert all(h.status == HostStatus.TERMINATED for h in failed)
