"""The sweep against each emulated cloud (real SDKs over HTTP) and the physical inventory, without a worker.

Instances "behind DCP's back" are made with the account's own driver, as a
person with the account's keys would; the emulator's inventory is the truth
every test checks against.
"""

import logging
import uuid
from datetime import timedelta
from io import StringIO

import pytest
from django.conf import settings as django_settings
from django.core.management import CommandError, call_command
from django.utils import timezone

from apps.inventory.choices import HostStatus, MachineState
from apps.inventory.models import Host, PhysicalMachine
from apps.providers.drivers import NodeSpec, ThrottledError, TransientError, get_driver
from apps.providers.models import CloudAccount, MachineTemplate
from apps.provisioning import reconciler, sweep, tasks, work
from apps.provisioning.choices import OrphanState
from apps.provisioning.models import OrphanInstance
from tests.factories import MachineFactory, PhysicalProviderFactory, PoolFactory, TemplateFactory, with_template
from tests.providers.harnesses import all_harnesses

pytestmark = pytest.mark.django_db
CLOUDS = [cls for cls in all_harnesses() if cls.kind != "physical"]
LIVE = ("pending", "running")


@pytest.fixture(scope="module")
def started():
    """Every cloud's emulator, started once for this module."""
    harnesses = {cls.kind: cls() for cls in CLOUDS}
    for harness in harnesses.values():
        harness.start()
    yield harnesses
    for harness in harnesses.values():
        harness.stop()


@pytest.fixture(params=[cls.kind for cls in CLOUDS])
def cloud(request, started, db):
    """One cloud's harness, its emulator emptied for this test."""
    harness = started[request.param]
    harness.reset()
    return harness


@pytest.fixture
def aliyun(started, db):
    """The ECS emulator, emptied, for tests whose point is not provider-specific."""
    started["aliyun"].reset()
    return started["aliyun"]


@pytest.fixture(autouse=True)
def no_grace(settings):
    """Two sweeps back to back count as two sightings; tests that need the grace set it."""
    settings.DCP_ORPHAN_GRACE_SECONDS = 0


def template_for(harness, account) -> MachineTemplate:
    """A template with the harness's valid spec."""
    spec = harness.spec()
    return MachineTemplate.objects.create(
        name=f"{account.name}-tpl",
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


def run_engine(pool) -> None:
    """Run the reconciler and every host step it queues, by hand, until nothing moves."""
    for _ in range(50):
        reconciler.reconcile(pool.pk)
        hosts = Host.objects.filter(pool=pool)
        steps = 0
        for token in set(hosts.filter(status=HostStatus.PENDING).values_list("batch_token", flat=True)):
            work.create_batch(token)
            steps += 1
        creating = hosts.filter(status=HostStatus.CREATING).exclude(instance_id="")
        for token in set(creating.values_list("batch_token", flat=True)):
            work.poll_batch(token)
            steps += 1
        for status, step in ((HostStatus.INITIALIZING, work.initialize), (HostStatus.TERMINATING, work.terminate)):
            ids = list(hosts.filter(status=status).values_list("pk", flat=True))
            if ids:
                step(ids)
                steps += 1
        if not steps:
            return
    pytest.fail("engine did not settle")


def ready_pool(harness, account, cluster, size: int):
    """A pool of size ready hosts on account, made by the engine itself."""
    pool = with_template(PoolFactory(cluster=cluster, max_size=10), template_for(harness, account))
    pool.desired_size = size
    pool.save()
    run_engine(pool)
    assert Host.objects.filter(pool=pool, status=HostStatus.READY).count() == size
    return pool


def sneak_in(harness, account, **tags) -> str:
    """One instance made behind DCP's back, with DCP's tags: what a copied script or a lost create leaves."""
    tags = {"dcp": "1", "dcp-batch": uuid.uuid4().hex, **tags}
    (node,) = get_driver(account).create_nodes(harness.spec(), 1, client_token=uuid.uuid4().hex, tags=tags)
    return node.id


def live(harness) -> set[str]:
    """Instance ids the cloud itself holds as pending or running."""
    return {i for i, state in harness.inventory().items() if state in LIVE}


def ready_ids(pool) -> set[str]:
    """Instance ids of the pool's ready hosts."""
    return set(Host.objects.filter(pool=pool, status=HostStatus.READY).values_list("instance_id", flat=True))


def with_options(account, **options) -> CloudAccount:
    """The account with these options set."""
    account.options = {**account.options, **options}
    account.save()
    return account


# ---------------------------------------------------------------- orphans


def test_unknown_instance_is_reported_not_destroyed(cloud, cluster, caplog):
    """By default an orphan is recorded and logged, sweep after sweep, and left running; hosts' instances are not."""
    account = cloud.account()
    pool = ready_pool(cloud, account, cluster, 2)
    stray = sneak_in(cloud, account)
    caplog.set_level(logging.WARNING, logger="apps.provisioning.sweep")

    for _ in range(2):
        result = sweep.sweep_account(account)
        assert (result.orphans, result.terminated, result.lost, result.error) == ([stray], [], [], "")
    record = OrphanInstance.objects.get()
    assert (record.provider, record.instance_id, record.state) == (account, stray, OrphanState.REPORTED)
    assert record.reason == "no host claims it" and record.tags["dcp"] == "1" and record.host is None
    assert record.first_seen < record.last_seen and record.terminated_at is None
    assert live(cloud) == ready_ids(pool) | {stray}
    assert account.name in caplog.text and stray in caplog.text and "terminate_orphans is off" in caplog.text


def test_orphan_is_destroyed_when_the_account_says_so(cloud, cluster):
    """With terminate_orphans an orphan is destroyed at its second sighting; the hosts' instances live on."""
    account = with_options(cloud.account(), terminate_orphans=True)
    pool = ready_pool(cloud, account, cluster, 2)
    stray = sneak_in(cloud, account)

    first = sweep.sweep_account(account)
    assert (first.orphans, first.terminated) == ([stray], [])
    assert stray in live(cloud)
    second = sweep.sweep_account(account)
    assert (second.orphans, second.terminated) == ([stray], [stray])
    record = OrphanInstance.objects.get(instance_id=stray)
    assert record.state == OrphanState.TERMINATED and record.terminated_at is not None
    assert live(cloud) == ready_ids(pool)
    assert cloud.inventory()[stray] not in LIVE


def test_orphan_waits_out_the_grace_before_it_is_destroyed(aliyun, settings):
    """Two sweeps within DCP_ORPHAN_GRACE_SECONDS are not enough; one after it is."""
    settings.DCP_ORPHAN_GRACE_SECONDS = 60
    account = with_options(aliyun.account(), terminate_orphans=True)
    stray = sneak_in(aliyun, account)
    for _ in range(3):
        assert sweep.sweep_account(account).terminated == []
    assert stray in live(aliyun)
    OrphanInstance.objects.filter(instance_id=stray).update(first_seen=timezone.now() - timedelta(seconds=61))
    assert sweep.sweep_account(account).terminated == [stray]
    assert stray not in live(aliyun)


def test_policy_is_read_at_each_sweep(aliyun):
    """Turning terminate_orphans off between two sweeps keeps the orphan: it is only reported."""
    account = with_options(aliyun.account(), terminate_orphans=True)
    stray = sneak_in(aliyun, account)
    sweep.sweep_account(account)
    with_options(account, terminate_orphans=False)
    assert sweep.sweep_account(account).terminated == []
    assert stray in live(aliyun)
    assert OrphanInstance.objects.get(instance_id=stray).state == OrphanState.REPORTED


def test_batch_in_flight_is_not_an_orphan(cloud, cluster, monkeypatch):
    """Between the create call and the recording of its nodes, the sweep leaves the batch's instances alone."""
    account = with_options(cloud.account(), terminate_orphans=True)
    pool = with_template(PoolFactory(cluster=cluster, max_size=10, desired_size=2), template_for(cloud, account))
    record_nodes = work.record_nodes
    during: list[sweep.SweepResult] = []

    def sweep_then_record(token, nodes, **kwargs):
        if not during:
            # The instances exist, their hosts are creating and name no instance yet: the race window.
            assert {node.id for node in nodes} <= live(cloud)
            assert not Host.objects.filter(pool=pool).exclude(instance_id="").exists()
            during.extend(sweep.sweep_account(account) for _ in range(2))
        record_nodes(token, nodes, **kwargs)

    monkeypatch.setattr(work, "record_nodes", sweep_then_record)
    run_engine(pool)
    assert len(during) == 2 and all(r.orphans == [] and r.terminated == [] for r in during)
    assert during[0].listed == 2
    monkeypatch.undo()
    assert sweep.sweep_account(account).orphans == []
    assert not OrphanInstance.objects.exists()
    assert len(ready_ids(pool)) == 2 and live(cloud) == ready_ids(pool)


def test_batch_made_while_the_provider_is_listed_is_not_an_orphan(aliyun, cluster, monkeypatch):
    """The provider is listed before the database is read: a batch made and recorded meanwhile is claimed."""
    account = with_options(aliyun.account(), terminate_orphans=True)
    pool = with_template(PoolFactory(cluster=cluster, max_size=10, desired_size=2), template_for(aliyun, account))
    real_get_driver = sweep.get_driver

    def racing_driver(for_account):
        driver = real_get_driver(for_account)
        list_nodes = driver.list_nodes

        def list_while_the_engine_works(tags=None):
            run_engine(pool)
            return list_nodes(tags)

        driver.list_nodes = list_while_the_engine_works
        return driver

    monkeypatch.setattr(sweep, "get_driver", racing_driver)
    result = sweep.sweep_account(account)
    assert (result.listed, result.orphans, result.lost) == (2, [], [])
    assert len(ready_ids(pool)) == 2 and live(aliyun) == ready_ids(pool)


def test_batch_whose_hosts_were_removed_before_recording_is_an_orphan(aliyun, cluster):
    """A batch made while its hosts were scaled in (and the worker died before recording it) leaves orphans."""
    account = with_options(aliyun.account(), terminate_orphans=True)
    pool = with_template(PoolFactory(cluster=cluster, max_size=10, desired_size=2), template_for(aliyun, account))
    reconciler.reconcile(pool.pk)
    hosts = list(Host.objects.filter(pool=pool))
    token = hosts[0].batch_token
    nodes = get_driver(account).create_nodes(
        aliyun.spec(), 2, client_token=token, tags=work.batch_tags(hosts[0])
    )  # the create call of create_batch, whose recording never came
    Host.objects.filter(pool=pool).update(status=HostStatus.CREATING)
    assert sweep.sweep_account(account).orphans == []  # in flight: the engine may still record them
    Host.objects.filter(pool=pool).update(status=HostStatus.TERMINATED, terminated_at=timezone.now())
    assert sweep.sweep_account(account).orphans == sorted(n.id for n in nodes)
    assert sweep.sweep_account(account).terminated == sorted(n.id for n in nodes)
    assert live(aliyun) == set()


def test_terminated_host_whose_instance_lives_is_an_orphan(cloud, cluster, settings):
    """A lost terminate: the host is terminated, its instance runs. After the grace it is an orphan naming the host."""
    settings.DCP_ORPHAN_GRACE_SECONDS = 60
    account = cloud.account()
    pool = ready_pool(cloud, account, cluster, 2)
    host = Host.objects.filter(pool=pool).order_by("pk").first()
    Host.objects.filter(pk=host.pk).update(status=HostStatus.TERMINATED, terminated_at=timezone.now())
    assert sweep.sweep_account(account).orphans == []  # terminated a moment ago: its instance may be leaving

    Host.objects.filter(pk=host.pk).update(terminated_at=timezone.now() - timedelta(seconds=61))
    result = sweep.sweep_account(account)
    assert (result.orphans, result.lost) == ([host.instance_id], [])
    record = OrphanInstance.objects.get()
    assert record.host == host and host.hostname in record.reason
    assert host.instance_id in live(cloud)


def test_orphan_that_vanished_is_marked_gone(cloud):
    """An orphan deleted by someone else is marked gone at the next sweep, and stays so."""
    account = cloud.account()
    stray = sneak_in(cloud, account)
    sweep.sweep_account(account)
    get_driver(account).destroy_nodes([stray])
    assert sweep.sweep_account(account).gone == [stray]
    assert OrphanInstance.objects.get(instance_id=stray).state == OrphanState.GONE
    assert sweep.sweep_account(account).gone == []


def test_another_accounts_batch_is_left_alone(aliyun, cluster):
    """Two accounts on one cloud: each sees the other's instances, and neither takes them for orphans."""
    mine = aliyun.account()
    theirs = with_options(aliyun.account(), terminate_orphans=True)
    pool = ready_pool(aliyun, mine, cluster, 2)
    for _ in range(2):
        result = sweep.sweep_account(theirs)
        assert (result.listed, result.orphans, result.terminated) == (2, [], [])
    assert live(aliyun) == ready_ids(pool)


# ---------------------------------------------------------------- lost hosts


def test_ready_host_whose_instance_vanished_is_lost_and_replaced(cloud, cluster):
    """An instance destroyed behind DCP's back: its host becomes lost; the reconciler terminates and replaces it."""
    account = cloud.account()
    pool = ready_pool(cloud, account, cluster, 2)
    victim = Host.objects.filter(pool=pool).order_by("pk").first()
    get_driver(account).destroy_nodes([victim.instance_id])

    result = sweep.sweep_account(account)
    assert (result.lost, result.orphans) == ([victim.hostname], [])
    victim.refresh_from_db()
    assert victim.status == HostStatus.LOST
    assert victim.status_message == f"instance {victim.instance_id} vanished from {account.name}"
    assert Host.objects.filter(pool=pool, status=HostStatus.READY).count() == 1
    assert sweep.sweep_account(account).lost == []

    run_engine(pool)
    victim.refresh_from_db()
    assert victim.status == HostStatus.TERMINATED
    assert len(ready_ids(pool)) == 2 and live(cloud) == ready_ids(pool)
    assert victim.instance_id not in ready_ids(pool)


def test_hosts_whose_tagging_was_lost_are_tagged_again(cloud, cluster):
    """Instances without their dcp-host tag (the tagging step never ran): the sweep queues it; once done, not again."""
    account = cloud.account()
    pool = ready_pool(cloud, account, cluster, 2)
    hosts = sorted(Host.objects.filter(pool=pool).values_list("pk", flat=True))

    assert sweep.sweep_account(account).retagged == hosts
    assert work.tag_hosts(hosts) == []
    assert sweep.sweep_account(account).retagged == []
    assert {n.tags["dcp-host"] for n in get_driver(account).list_nodes({"dcp-pool": str(pool.pk)})} == {
        str(pk) for pk in hosts
    }


def test_instance_that_lost_its_tag_is_looked_up_by_id(cloud, cluster):
    """A ready host's instance missing from the tagged listing (its dcp tag changed) is found by id: not lost."""
    account = cloud.account()
    pool = ready_pool(cloud, account, cluster, 2)
    retagged = Host.objects.filter(pool=pool).order_by("pk").first()
    get_driver(account).tag_nodes({retagged.instance_id: {"dcp": "0"}})
    result = sweep.sweep_account(account)
    assert (result.listed, result.lost) == (1, [])
    assert Host.objects.filter(pool=pool, status=HostStatus.READY).count() == 2


def test_only_hosts_still_ready_on_that_instance_are_moved(aliyun, cluster):
    """The move re-checks under the row locks: a host scaled in since the look-up is left to its scale-in."""
    account = aliyun.account()
    pool = ready_pool(aliyun, account, cluster, 2)
    scaled_in, other = Host.objects.filter(pool=pool).order_by("pk")
    Host.objects.filter(pk=scaled_in.pk).update(status=HostStatus.TERMINATING)
    vanished = {scaled_in.pk: (scaled_in.instance_id, "gone"), other.pk: ("i-not-its-instance", "gone")}
    assert sweep._move_lost(vanished) == []
    assert list(Host.objects.filter(pool=pool).order_by("pk").values_list("status", flat=True)) == [
        HostStatus.TERMINATING,
        HostStatus.READY,
    ]


# ---------------------------------------------------------------- errors


def test_auth_failure_on_one_account_does_not_stop_the_others(aliyun, caplog):
    """An account whose keys are refused is logged and reported; the next account is still swept."""
    refused = aliyun.account(valid=False)
    account = aliyun.account()
    stray = sneak_in(aliyun, account)
    caplog.set_level(logging.ERROR, logger="apps.provisioning.sweep")

    results = {r.account: r for r in sweep.sweep_all(CloudAccount.objects.filter(pk__in=(refused.pk, account.pk)))}
    assert results[refused.name].error.startswith("AuthError")
    assert results[account.name].orphans == [stray]
    assert OrphanInstance.objects.get().provider == account
    assert refused.name in caplog.text


def test_throttling_is_raised_for_the_task_to_retry(aliyun):
    """A cloud that keeps throttling: the account's sweep raises (the task retries), sweep_all reports it."""
    account = aliyun.account()
    aliyun.set_faults(throttle_rate=1.0)
    with pytest.raises((ThrottledError, TransientError)):
        sweep.sweep_account_safely(account)
    (result,) = sweep.sweep_all([account])
    assert "try again later" in result.error
    aliyun.set_faults()


# ---------------------------------------------------------------- physical inventory


def test_physical_leaked_allocation_and_freed_machine(cluster):
    """Physical: a leaked allocation is freed per policy; a ready host whose machine was freed is lost."""
    account = PhysicalProviderFactory(options={"terminate_orphans": True})
    MachineFactory.create_batch(3, provider=account)
    pool = with_template(PoolFactory(cluster=cluster, max_size=5, desired_size=2), TemplateFactory(provider=account))
    run_engine(pool)
    leaked = get_driver(account).create_nodes(
        NodeSpec(instance_type="c32"), 1, client_token="lost-batch", tags={"dcp": "1", "dcp-batch": "lost-batch"}
    )[0]
    sweep.sweep_account(account)
    assert sweep.sweep_account(account).terminated == [leaked.id]
    assert PhysicalMachine.objects.get(hostname=leaked.id).state == MachineState.FREE

    victim = Host.objects.filter(pool=pool, status=HostStatus.READY).first()
    PhysicalMachine.objects.filter(hostname=victim.instance_id).update(state=MachineState.FREE, tags={})
    assert sweep.sweep_account(account).lost == [victim.hostname]


# ---------------------------------------------------------------- task, command, schedule


def test_task_sweeps_one_account(aliyun):
    """The per-account task records what it finds; a deleted account is no error."""
    account = aliyun.account()
    stray = sneak_in(aliyun, account)
    tasks.sweep_provider(account.pk)
    assert list(OrphanInstance.objects.values_list("instance_id", flat=True)) == [stray]
    tasks.sweep_provider(999_999)


def test_sweep_is_scheduled_on_the_provider_queue():
    """Beat sends sweep_providers every DCP_SWEEP_INTERVAL seconds; both sweep tasks go to the provider queue."""
    entries = [e for e in django_settings.CELERY_BEAT_SCHEDULE.values() if e["task"].endswith(".sweep_providers")]
    assert [e["schedule"] for e in entries] == [300]
    for name in ("sweep_providers", "sweep_provider"):
        assert django_settings.CELERY_TASK_ROUTES[f"apps.provisioning.tasks.{name}"] == {"queue": "provider"}


def test_manage_py_sweep_prints_findings(aliyun):
    """manage.py sweep names each account and what it found, and fails when one could not be swept."""
    account = aliyun.account()
    refused = aliyun.account(valid=False)
    stray = sneak_in(aliyun, account)
    out = StringIO()
    call_command("sweep", account.name, stdout=out)
    assert f"{account.name}: 1 tagged instance(s) listed" in out.getvalue()
    assert f"orphans: {stray}" in out.getvalue()
    with pytest.raises(CommandError, match=refused.name):
        call_command("sweep", account.name, refused.name, stdout=StringIO())
    with pytest.raises(CommandError, match="No provider account named nope"):
        call_command("sweep", "nope", stdout=StringIO())
