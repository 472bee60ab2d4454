"""Waiting for a batch to boot: probes of one instance in between full polls, paced per account.

A booting batch is looked at in two ways: a probe (one instance, one small
call, nothing written while it still boots) every DCP_PROBE_INTERVAL, and a
full poll (every booting instance, recorded) every DCP_POLL_INTERVAL or as soon
as a probe sees its instance running, failed or gone. The EC2 emulator (moto)
holds new instances pending for its boot time and counts the calls it gets.
The steps run by hand here; what they would queue is recorded instead of sent.
"""

import time
import uuid
from decimal import Decimal

import pytest

from apps.inventory.choices import HostStatus
from apps.inventory.models import Host
from apps.providers.drivers import get_driver
from apps.providers.models import CloudAccount, MachineTemplate
from apps.provisioning import transitions, work
from apps.provisioning.models import Job, JobEvent
from tests.factories import PoolFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def ec2(aws_emulator):
    """The emulator, reset, with instances booting for 2 s."""
    aws_emulator.reset()
    aws_emulator.set_faults(boot_seconds=2)
    return aws_emulator


@pytest.fixture
def ecs(ecs_emulator):
    """The ECS emulator, reset, with instances booting for 2 s."""
    ecs_emulator.reset()
    ecs_emulator.set_faults(boot_seconds=2)
    return ecs_emulator


@pytest.fixture
def queued(monkeypatch):
    """What the steps queue, as (task, args, countdown), instead of sending it."""
    sent: list[tuple[str, tuple, float | None]] = []
    monkeypatch.setattr(work, "after_commit", lambda task, *args, countdown=None: sent.append((task, args, countdown)))
    return sent


def batch_on(cloud, cluster, count: int, **template) -> tuple[str, CloudAccount]:
    """count pending hosts of one batch, in one job, on a template of the cloud's; returns its token and account."""
    account = cloud.account()
    spec = cloud.spec()
    template = MachineTemplate.objects.create(
        name=f"{cloud.kind}-{uuid.uuid4().hex[:6]}",
        provider=account,
        instance_type=spec.instance_type,
        image=spec.image,
        region=spec.region,
        zone=spec.zone,
        subnet=spec.subnet,
        security_groups=list(spec.security_groups),
        **template,
    )
    pool = PoolFactory(cluster=cluster, desired_size=count)
    job = Job.objects.create(pool=pool, kind="scale_out", delta=count, desired_before=0, desired_after=count)
    token = uuid.uuid4().hex
    Host.objects.bulk_create(
        Host(
            hostname=f"{pool.name}-{i}",
            pool=pool,
            provider=account,
            template=template,
            job=job,
            status=HostStatus.PENDING,
            batch_token=token,
            zone=spec.zone,
        )
        for i in range(count)
    )
    return token, account


def describes(ec2) -> int:
    """DescribeInstances calls the emulator has had."""
    return ec2.calls().get("DescribeInstances", 0)


def test_probes_look_at_one_instance_until_it_runs_then_the_batch_is_polled(ec2, cluster, queued, settings):
    """While booting, each probe is one call and writes nothing; the probe that sees it running polls all."""
    settings.DCP_POLL_INTERVAL = 60
    token, account = batch_on(ec2, cluster, 3)
    work.create_batch(token)
    # A first create of the batch looks for no earlier attempt's instances: no describe at all.
    assert describes(ec2) == 0
    assert set(Host.objects.filter(batch_token=token).values_list("status", flat=True)) == {HostStatus.CREATING}
    ((task, (queued_token, probe), countdown),) = queued
    assert (task, queued_token, countdown) == ("poll_batch", token, probe["every"])
    assert probe["account"] == account.pk
    assert probe["instance"] in set(Host.objects.filter(batch_token=token).values_list("instance_id", flat=True))
    assert probe["every"] == pytest.approx(settings.DCP_PROBE_INTERVAL)

    queued.clear()
    updated = dict(Host.objects.filter(batch_token=token).values_list("pk", "updated_at"))
    work.poll_batch(token, probe)
    assert describes(ec2) == 1
    assert queued == [("poll_batch", (token, probe), pytest.approx(probe["every"]))]
    assert dict(Host.objects.filter(batch_token=token).values_list("pk", "updated_at")) == updated

    time.sleep(2.1)
    queued.clear()
    work.poll_batch(token, probe)
    assert describes(ec2) == 3  # the probe, then the whole batch in one call
    hosts = Host.objects.filter(batch_token=token)
    assert set(hosts.values_list("status", flat=True)) == {HostStatus.INITIALIZING}
    assert [task for task, _, _ in queued] == ["initialize_hosts"]
    assert sorted(queued[0][1][0]) == sorted(hosts.values_list("pk", flat=True))
    events = JobEvent.objects.filter(host__batch_token=token)
    assert events.filter(kind="created").count() == 3 and events.filter(kind="running").count() == 3


def test_a_probe_keeps_what_the_create_did_not_say(ecs, cluster, queued, settings):
    """ECS answered the create with ids only: the first probe brings the instance's address, cores and memory.

    Written once, on the probed host, while it still boots; a probe that learns nothing new writes nothing.
    """
    settings.DCP_POLL_INTERVAL = 60
    token, _ = batch_on(ecs, cluster, 2)
    work.create_batch(token)
    assert set(Host.objects.filter(batch_token=token).values_list("private_ip", "cpu", "memory_gb")) == {
        (None, None, None)
    }
    ((_, (_, probe), _),) = queued
    queued.clear()
    work.poll_batch(token, probe)
    probed = Host.objects.get(instance_id=probe["instance"])
    reported = ecs.reported()[probe["instance"]]
    assert probed.status == HostStatus.CREATING
    assert (probed.private_ip, probed.cpu, probed.memory_gb) == (
        reported["private_ip"],
        reported["cpu"],
        Decimal(str(reported["memory_gb"])),
    )
    ((task, (_, again), _),) = queued
    assert task == "poll_batch"
    work.poll_batch(token, again)
    assert Host.objects.get(pk=probed.pk).updated_at == probed.updated_at


def test_a_running_instance_without_the_address_ssh_needs_fails_its_host(ecs, cluster, queued):
    """SSH is to use the public address, and the instance has none: its host fails saying so, and is never
    initialized; the job makes no more hosts that would fail the same way."""
    ecs.set_faults()  # instances run at once
    init_vars = {"dcp_ntp_servers": ["10.0.0.1"], "dcp_ssh_via": "public"}
    token, _ = batch_on(ecs, cluster, 1, init_method="ansible", init_vars=init_vars)
    work.create_batch(token)
    queued.clear()
    work.poll_batch(token)
    host = Host.objects.select_related("job").get(batch_token=token)
    assert host.status == HostStatus.FAILED and host.private_ip and not host.public_ip
    assert f"instance {host.instance_id} is running, but its provider reported no public IP address" in (
        host.status_message
    )
    assert "dcp_ssh_via" in host.status_message
    assert [task for task, _, _ in queued] == ["reconcile_pool"]
    assert not host.init_runs.exists()
    assert host.job.gave_up and "no public IP address" in host.job.message


def test_the_full_poll_comes_when_due_even_if_the_probe_still_boots(ec2, cluster, queued, settings):
    """A probe whose full poll is due polls every instance (another may have failed), and schedules anew."""
    settings.DCP_POLL_INTERVAL = 60
    token, _ = batch_on(ec2, cluster, 2)
    work.create_batch(token)
    ((_, (_, probe), _),) = queued
    queued.clear()
    work.poll_batch(token, {**probe, "full_at": time.time() - 1})
    assert describes(ec2) == 1
    ((task, (_, fresh), countdown),) = queued
    assert task == "poll_batch" and fresh["full_at"] > time.time() + 50 and countdown == fresh["every"]
    assert set(Host.objects.filter(batch_token=token).values_list("status", flat=True)) == {HostStatus.CREATING}


def test_a_probe_of_an_instance_that_vanished_polls_the_batch(ec2, cluster, queued, settings):
    """The probed instance is gone (terminated behind DCP's back): the full poll fails that host at once."""
    settings.DCP_POLL_INTERVAL = 60
    token, account = batch_on(ec2, cluster, 2)
    work.create_batch(token)
    ((_, (_, probe), _),) = queued
    get_driver(account).destroy_nodes([probe["instance"]])
    queued.clear()
    work.poll_batch(token, probe)
    gone = Host.objects.get(instance_id=probe["instance"])
    assert gone.status == HostStatus.FAILED and "terminated" in gone.status_message
    assert Host.objects.filter(batch_token=token, status=HostStatus.CREATING).count() == 1
    tasks = [task for task, _, _ in queued]
    assert "reconcile_pool" in tasks and "poll_batch" in tasks


def test_probes_share_the_accounts_describe_rate(ec2, cluster, settings):
    """More batches booting on one account: each is probed less often; past the full poll, not at all."""
    settings.DCP_PROBE_INTERVAL = 0.5
    settings.DCP_PROBE_RATE_SHARE = 0.25
    settings.DCP_POLL_INTERVAL = 5
    token, account = batch_on(ec2, cluster, 1)
    template = Host.objects.get(batch_token=token).template
    assert work.probe_interval(account) == 0.5  # nothing booting yet
    for n in range(12):
        Host.objects.create(
            hostname=f"h{n}",
            pool=PoolFactory(cluster=cluster),
            provider=account,
            template=template,
            status=HostStatus.CREATING,
            instance_id=f"i-{n:017x}",
            batch_token=f"batch-{n}",
        )
    # EC2's describe bucket refills 20 per second; a quarter of it for 12 batches: one probe each 2.4 s.
    assert work.probe_interval(account) == pytest.approx(12 / (20 * 0.25))
    account.options = {"rate_limits": {"describe": {"request": [10, 2]}}}
    assert work.probe_interval(account) == 0.0  # 24 s apart: the 5 s full poll comes first
    settings.DCP_PROBE_INTERVAL = 0
    account.options = {}
    assert work.probe_interval(account) == 0.0


def test_without_probes_the_batch_is_polled_whole(ec2, cluster, queued, settings):
    """DCP_PROBE_INTERVAL=0: the next look is the full poll, DCP_POLL_INTERVAL later, as before probes."""
    settings.DCP_PROBE_INTERVAL = 0
    settings.DCP_POLL_INTERVAL = 3
    token, _ = batch_on(ec2, cluster, 2)
    work.create_batch(token)
    assert queued == [("poll_batch", (token,), 3)]


def test_a_retried_create_looks_for_the_earlier_attempts_instances(ec2, cluster, queued):
    """A worker died after its create call: the batch is creating, so the next attempt finds and records them."""
    token, account = batch_on(ec2, cluster, 2)
    hosts = list(Host.objects.filter(batch_token=token))
    transitions.move_hosts(hosts, HostStatus.CREATING)
    template = hosts[0].template
    made = get_driver(account).create_nodes(
        ec2.spec(), 2, client_token=token, tags=work.batch_tags(hosts[0]), first_attempt=True
    )
    assert template and len(made) == 2
    work.create_batch(token)
    assert ec2.calls().get("RunInstances") == 1  # no second create
    assert set(Host.objects.filter(batch_token=token).values_list("instance_id", flat=True)) == {n.id for n in made}
    assert len([i for i, state in ec2.inventory().items() if state in ("pending", "running")]) == 2


def test_moving_many_hosts_is_all_or_nothing(ec2, cluster):
    """One illegal move among many refuses them all before anything is written; legal ones log an event each."""
    token, _ = batch_on(ec2, cluster, 3)
    hosts = list(Host.objects.filter(batch_token=token).order_by("pk"))
    Host.objects.filter(pk=hosts[2].pk).update(status=HostStatus.TERMINATED)
    hosts[2].status = HostStatus.TERMINATED
    with pytest.raises(transitions.IllegalTransition):
        transitions.move_hosts(hosts, HostStatus.CREATING)
    assert list(Host.objects.filter(batch_token=token).order_by("pk").values_list("status", flat=True)) == [
        HostStatus.PENDING,
        HostStatus.PENDING,
        HostStatus.TERMINATED,
    ]
    assert not JobEvent.objects.filter(host__batch_token=token).exists()
    transitions.move_hosts(hosts[:2], HostStatus.FAILED, "no room")
    for host in Host.objects.filter(pk__in=[h.pk for h in hosts[:2]]):
        assert host.status == HostStatus.FAILED and host.status_message == "no room" and host.failed_at
    assert JobEvent.objects.filter(host__batch_token=token, kind="failed").count() == 2


def test_a_watched_batch_is_not_stuck_and_a_forgotten_one_is(ec2, cluster, queued, settings, monkeypatch):
    """Each full poll marks its batch watched; once its polls stop (a lost message) the reconciler re-queues it."""
    from apps.provisioning import reconciler

    monkeypatch.setattr(reconciler, "after_commit", lambda task, *args, countdown=None: queued.append((task, args)))
    settings.DCP_STUCK_AFTER_SECONDS = 1
    settings.DCP_POLL_INTERVAL = 60
    token, _ = batch_on(ec2, cluster, 2)
    pool_id = Host.objects.filter(batch_token=token).values_list("pool_id", flat=True)[0]
    work.create_batch(token)
    ((_, (_, probe), _),) = queued
    time.sleep(1.2)
    work.poll_batch(token, {**probe, "full_at": 0})  # a full poll: the batch still boots
    queued.clear()
    reconciler.reconcile(pool_id)
    assert ("create_hosts", (token,)) not in queued
    time.sleep(1.2)  # no poll since: its chain is lost
    reconciler.reconcile(pool_id)
    assert ("create_hosts", (token,)) in queued
