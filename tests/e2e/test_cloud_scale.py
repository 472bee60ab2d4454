"""Scaling pools on each emulated cloud through the API, with a real worker process.

The emulators run in this test process on loopback ports; the worker reaches
them over HTTP with the real SDKs, exactly as it would reach a cloud. After
each step the emulator's own inventory must match DCP's database.
"""

import re
import socket
from datetime import datetime, time, timedelta
from decimal import Decimal

import pytest

from apps.inventory.choices import HostStatus
from apps.inventory.models import Host
from apps.providers.drivers import get_driver
from apps.providers.models import CloudAccount, MachineTemplate
from emulators.aws import AwsEmulator
from tests.conftest import client_for, wait_for
from tests.factories import PoolFactory, with_template
from tests.providers.harnesses import all_harnesses
from tests.providers.harnesses.aws import REGION, AwsHarness

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]
CLOUDS = [cls for cls in all_harnesses() if cls.kind != "physical"]


@pytest.fixture(scope="module", params=[cls.kind for cls in CLOUDS])
def cloud(request):
    """One cloud's emulator, for this module."""
    harness = next(cls for cls in CLOUDS if cls.kind == request.param)()
    harness.start()
    yield harness
    harness.stop()


def template_for(harness, account) -> MachineTemplate:
    """A template with the harness's valid spec."""
    spec = harness.spec()
    return MachineTemplate.objects.create(
        name=f"{harness.kind}-tpl",
        provider=account,
        region=spec.region or account.region,
        zone=spec.zone,
        instance_type=spec.instance_type,
        image=spec.image,
        network=spec.network,
        subnet=spec.subnet,
        security_groups=list(spec.security_groups),
        key_name=spec.key_name,
    )


def live_in_emulator(harness) -> set[str]:
    """Instance ids the cloud itself holds as pending or running."""
    return {i for i, state in harness.inventory().items() if state in ("pending", "running")}


def hosts_as_reported(client, pool, harness) -> list[dict]:
    """The pool's ready hosts read through the API, after checking each against what its provider reports.

    Address, cores and memory must be there and equal the provider's own listing (the emulator's
    inventory, or the physical machine's record): Ansible and Puppet reach a host by its address.
    """
    answer = client.get("/api/v1/hosts/", {"pool": pool.pk, "status": "ready", "limit": 1000})
    assert answer.status_code == 200, answer.content
    hosts = answer.json()["results"]
    reported = harness.reported()
    for host in hosts:
        facts = reported[host["instance_id"]]
        seen = {key: host[key] for key in ("private_ip", "public_ip", "cpu", "memory_gb")}
        assert seen["private_ip"] and seen["cpu"] and seen["memory_gb"], (seen, facts)
        assert (seen["private_ip"], seen["public_ip"], seen["cpu"]) == (
            facts["private_ip"],
            facts["public_ip"],
            facts["cpu"],
        ), (seen, facts)
        assert Decimal(seen["memory_gb"]) == Decimal(str(facts["memory_gb"])), (seen, facts)
    return hosts


def finished(client, job_id):
    """The job's body once it has ended."""
    body = client.get(f"/api/v1/jobs/{job_id}/").json()
    return body if body["status"] not in ("pending", "running") else None


def test_scale_out_and_in_on_cloud(worker, cloud, users, cluster):
    """+3 with a boot time (so the engine polls), then -2: the cloud holds exactly what DCP says.

    The instances boot for a second, as on a real cloud: ECS's RunInstances answers ids only and Nova hides a
    server's addresses while it builds, so the hosts' addresses, cores and memory come from later answers.
    """
    cloud.reset()
    cloud.set_faults(boot_seconds=1.0)
    account = cloud.account()
    pool = with_template(PoolFactory(cluster=cluster, name=f"{cloud.kind}-pool"), template_for(cloud, account))
    client = client_for(users["developer"])

    answer = client.post(f"/api/v1/pools/{pool.pk}/scale/", {"delta": 3}, format="json")
    assert answer.status_code == 202, answer.content
    job = wait_for(lambda: finished(client, answer.json()["id"]), timeout=90, message="scale-out to end")
    assert job["status"] == "succeeded", job
    ready = set(Host.objects.filter(pool=pool, status=HostStatus.READY).values_list("instance_id", flat=True))
    assert len(ready) == 3
    assert live_in_emulator(cloud) == ready
    # Each host carries what the cloud reports of its instance, though the create answered before it ran.
    assert {h["instance_id"] for h in hosts_as_reported(client, pool, cloud)} == ready
    assert "running" in [e["kind"] for e in job["events"]]
    # Each instance names its own host in its tags (added once the host is ready, off the path to ready).
    driver = get_driver(account)
    for host in Host.objects.filter(pool=pool, status=HostStatus.READY):
        wait_for(
            lambda host=host: (
                [n.id for n in driver.list_nodes({"dcp-pool": str(pool.pk), "dcp-host": str(host.pk)})]
                == [host.instance_id]
            ),
            timeout=30,
            message=f"instance of {host.hostname} to carry its host tag",
        )

    answer = client.post(f"/api/v1/pools/{pool.pk}/scale/", {"delta": -2}, format="json")
    job = wait_for(lambda: finished(client, answer.json()["id"]), timeout=90, message="scale-in to end")
    assert job["status"] == "succeeded", job
    remaining = set(Host.objects.filter(pool=pool, status=HostStatus.READY).values_list("instance_id", flat=True))
    assert len(remaining) == 1
    assert live_in_emulator(cloud) == remaining


def test_throttling_and_errors_still_converge(worker, cloud, users, cluster):
    """A cloud answering 30% throttled and 10% 5xx: the job still succeeds, with no duplicate instances."""
    cloud.reset()
    cloud.set_faults(throttle_rate=0.3, error_rate=0.1, seed=7)
    account = cloud.account()
    pool = with_template(PoolFactory(cluster=cluster, name=f"{cloud.kind}-flaky"), template_for(cloud, account))
    client = client_for(users["developer"])
    answer = client.post(f"/api/v1/pools/{pool.pk}/scale/", {"delta": 4}, format="json")
    # One call per node (libcloud) under 40% failed calls takes several back-off rounds.
    job = wait_for(lambda: finished(client, answer.json()["id"]), timeout=300, message="job to end")
    assert job["status"] == "succeeded", job
    cloud.set_faults()
    ready = set(Host.objects.filter(pool=pool, status=HostStatus.READY).values_list("instance_id", flat=True))
    assert len(ready) == 4
    assert live_in_emulator(cloud) == ready


@pytest.fixture
def silent_port():
    """A loopback port held by a listener that accepts connections and never answers a request."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield listener.getsockname()[1]


def test_a_cloud_that_does_not_answer_says_so_on_the_jobs_timeline(worker, users, cluster, silent_port):
    """EC2's port is taken by a process that never answers: each retried call is on the job's timeline.

    One event per retried call (the batch's two hosts share it), saying what timed out and when the next
    try is; that try does come then.
    """
    account = CloudAccount.objects.create(
        name="burst-aws",
        kind="aws",
        region=REGION,
        endpoint_url=f"http://127.0.0.1:{silent_port}",
        credentials={"access_key_id": AwsEmulator.ACCESS_KEY_ID, "secret_access_key": AwsEmulator.SECRET_ACCESS_KEY},
        options={"connect_timeout": 1, "read_timeout": 1},
    )
    pool = with_template(PoolFactory(cluster=cluster, name="silent"), template_for(AwsHarness(), account))
    client = client_for(users["developer"])
    answer = client.post(f"/api/v1/pools/{pool.pk}/scale/", {"delta": 2}, format="json")
    assert answer.status_code == 202, answer.content

    def retries() -> list[dict]:
        events = client.get(f"/api/v1/jobs/{answer.json()['id']}/").json()["events"]
        found = [event for event in events if event["kind"] == "retrying"]
        return found if len(found) >= 2 else []

    first, second = wait_for(retries, timeout=90, message="two retried calls on the job's timeline")[:2]
    # The create's first call is the look-up of DCP's key pair, which must exist before RunInstances names it.
    assert first["message"].startswith("Creating 2 host(s) on burst-aws timed out: EC2 DescribeKeyPairs: Read timeout")
    assert first["host"] is None and "Read timeout" in second["message"]
    retry_at = re.search(r"retrying at (\d\d:\d\d:\d\d) UTC \(try 2 of 21\)", first["message"])
    assert retry_at, first["message"]
    assert "(try 3 of 21)" in second["message"]
    # The next try failed no sooner than the time the first event gave for it.
    failed_at, next_try = datetime.fromisoformat(first["time"]), datetime.fromisoformat(second["time"])
    promised = datetime.combine(failed_at.date(), time.fromisoformat(retry_at.group(1)), failed_at.tzinfo)
    promised += timedelta(days=1) if promised < failed_at.replace(microsecond=0) else timedelta(0)
    assert next_try >= promised, (first, second)
