"""DCP's key reaches new hosts with nothing set up by hand, and a rotated key reaches existing ones.

The test hosts trust no key at all when they start. A scale-out on each emulated cloud (EC2 through
boto3 and moto, ECS, Nova, and Libcloud's OpenStack driver) makes DCP generate the account's key, import it
into the cloud and name it at create; the cloud puts it on the machine behind the instance's address at
boot, as its guest agent would, and the real worker initializes the host over SSH with it. The clouds'
guest agents are the one stand-in here (``Emulator.key_injector``): they write the key pair's public key
into root's authorized_keys on the test host, which is what cloud-init does on a real instance.
"""

import os

import pytest

from apps.configuration import keys
from apps.configuration.choices import InitStatus
from apps.configuration.models import InitRun, SSHKey
from apps.inventory.choices import HostStatus
from apps.inventory.models import Host
from apps.providers.drivers.base import key_pair_name
from tests.configuration.conftest import base_vars, registry
from tests.conftest import client_for, wait_for
from tests.e2e.test_placement import ask_scale, template_on
from tests.factories import PoolFactory, UserFactory, with_template
from tests.providers.harnesses import all_harnesses

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]
CLOUDS = [cls for cls in all_harnesses() if cls.kind != "physical"]
AUTHORIZED_KEYS = "/root/.ssh/authorized_keys"


@pytest.fixture(scope="module")
def machines():
    """One real host per cloud, trusting no key: only a cloud's agent can let DCP in."""
    from tests.hosts import HostsUnavailable, TestHostSet

    if os.geteuid() != 0:
        pytest.skip("test hosts need root (network namespaces, mounts); CI runs as root")
    hosts = TestHostSet(count=len(CLOUDS), authorized_key=None, name="keys")
    try:
        hosts.start()
    except HostsUnavailable as exc:
        pytest.fail(f"test hosts could not start: {exc}")
    yield hosts
    hosts.close()


def guest_agent(machines):
    """What a cloud's agent does at first boot: the instance's key pair into root's authorized_keys."""
    by_address = {machine.ip: machine for machine in machines.hosts}

    def inject(address: str, public_key: str) -> None:
        script = "umask 077 && mkdir -p /root/.ssh && cat >> /root/.ssh/authorized_keys"
        by_address[address].run(["sh", "-c", script], input=f"{public_key.strip()} cloud-agent\n", check=True)

    return inject


@pytest.fixture(scope="module")
def clouds(machines):
    """Every cloud's emulator, each handing out one test host's address and putting key pairs on it."""
    harnesses = [cls() for cls in CLOUDS]
    for harness in harnesses:
        harness.start()
        harness.emulator.key_injector = guest_agent(machines)
    yield harnesses
    for harness in harnesses:
        harness.stop()


def blobs(text: str) -> set[str]:
    """The keys (base64 parts) of an authorized_keys file."""
    return {line.split()[1] for line in text.splitlines() if len(line.split()) >= 2}


def test_each_cloud_gets_dcp_s_key_and_a_rotated_key_reaches_its_host(worker, machines, clouds, cluster, users):
    """A scale-out by one on each cloud ends ready with the key DCP made and imported, one key pair per account;
    after a rotation, re-initialization puts the new key on the host and takes the old one out."""
    pools = {}
    for harness, machine in zip(clouds, machines.hosts, strict=True):
        harness.reset()
        harness.hand_out([machine.ip])
        template = template_on(
            harness, f"{harness.kind}-keys", init_method="ansible", init_vars=base_vars(machines), registry=registry()
        )
        pools[harness.kind] = with_template(PoolFactory(cluster=cluster, name=f"keys-{harness.kind}"), template)
    assert not SSHKey.objects.exists()  # nothing set up by hand: DCP makes each account's key itself

    waits = [ask_scale(pool, 1) for pool in pools.values()]
    jobs = [wait(timeout=900) for wait in waits]

    assert [job["status"] for job in jobs] == ["succeeded"] * len(jobs), jobs
    for harness, machine in zip(clouds, machines.hosts, strict=True):
        pool = pools[harness.kind]
        host = Host.objects.get(pool=pool)
        assert host.status == HostStatus.READY and host.private_ip == machine.ip
        assert InitRun.objects.get(host=host).status == InitStatus.CHANGED
        key = SSHKey.objects.get(account=pool.templates.get().provider)
        assert [pair["name"] for pair in harness.control("GET", "key-pairs")] == [key_pair_name(key.public_key)]
        # The agent's line (comment "cloud-agent") was replaced by DCP's own line for the same key.
        assert machine.read_file(AUTHORIZED_KEYS).splitlines() == [key.public_key.strip()]

    # Rotation, through the API as a system administrator; then a re-run of the OpenStack pool's hosts.
    pool = pools["openstack"]
    key = SSHKey.objects.get(account=pool.templates.get().provider)
    old = key.public_key
    admin = client_for(UserFactory(is_superuser=True))
    answer = admin.post(f"/api/v1/ssh-keys/{key.pk}/rotate/", {}, format="json")
    assert answer.status_code == 200, answer.content
    assert answer.json()["previous_fingerprint"] == keys.fingerprint(old) != answer.json()["fingerprint"]
    assert "private_key" not in answer.json()
    new = SSHKey.objects.get(pk=key.pk).public_key

    answer = client_for(users["developer"]).post(f"/api/v1/pools/{pool.pk}/initialize/", {}, format="json")
    assert answer.status_code == 202, answer.content
    reruns = InitRun.objects.filter(host__pool=pool, rerun=True)
    wait_for(lambda: reruns.exists() and not reruns.filter(status=InitStatus.RUNNING).exists(), timeout=300)
    assert reruns.get().status == InitStatus.CHANGED, reruns.get().output[-2000:]
    machine = machines.hosts[[h.kind for h in clouds].index("openstack")]
    assert blobs(machine.read_file(AUTHORIZED_KEYS)) == blobs(new)
    assert Host.objects.get(pool=pool).status == HostStatus.READY
