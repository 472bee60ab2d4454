"""Each ready host's instance is tagged with its host: paced, a few tasks at a time, resumed where throttling cut it."""

import uuid

import pytest

from apps.inventory.choices import HostStatus
from apps.inventory.models import Host
from apps.providers.drivers import get_driver
from apps.providers.models import MachineTemplate
from apps.provisioning import work
from tests.factories import PoolFactory
from tests.providers.harnesses.aliyun import INSTANCE_TYPE, AliyunHarness

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def ecs():
    """An ECS emulator for this module."""
    harness = AliyunHarness()
    harness.start()
    yield harness
    harness.stop()


def hosts_on(ecs, cluster, count: int) -> tuple[list[Host], object]:
    """count running hosts whose instances were made in one batch on the emulator."""
    ecs.reset()
    account = ecs.account()
    template = MachineTemplate.objects.create(
        name="ecs", provider=account, instance_type=INSTANCE_TYPE, image=ecs.spec().image, zone=ecs.zones[0]
    )
    pool = PoolFactory(cluster=cluster)
    driver = get_driver(account)
    nodes = driver.create_nodes(ecs.spec(), count, client_token=uuid.uuid4().hex, tags={"dcp": "1"})
    hosts = [
        Host.objects.create(
            hostname=f"{pool.name}-{i}",
            pool=pool,
            provider=account,
            template=template,
            status=HostStatus.INITIALIZING,
            instance_id=node.id,
        )
        for i, node in enumerate(nodes)
    ]
    return hosts, driver


def test_every_host_gets_its_tag(ecs, cluster):
    """dcp-host and dcp-hostname name the host on its instance; terminated hosts are left alone."""
    hosts, driver = hosts_on(ecs, cluster, 3)
    Host.objects.filter(pk=hosts[2].pk).update(status=HostStatus.TERMINATED)
    assert work.tag_hosts([h.pk for h in hosts]) == []
    for host in hosts[:2]:
        (node,) = driver.list_nodes({"dcp-host": str(host.pk)})
        assert node.id == host.instance_id and node.tags["dcp-hostname"] == host.hostname
        assert node.tags["dcp"] == "1"
    assert driver.list_nodes({"dcp-host": str(hosts[2].pk)}) == []


def test_throttling_returns_only_the_hosts_still_to_tag(ecs, cluster):
    """Every call throttled: all are left to do; once it clears, they are tagged and nothing remains."""
    hosts, driver = hosts_on(ecs, cluster, 2)
    ids = [h.pk for h in hosts]
    ecs.set_faults(throttle_rate=1.0)
    assert work.tag_hosts(ids) == ids
    ecs.set_faults()
    assert work.tag_hosts(ids) == []
    assert {n.id for n in driver.list_nodes({"dcp": "1"}) if "dcp-host" in n.tags} == {h.instance_id for h in hosts}


def test_a_refused_tag_is_logged_and_skipped(ecs, cluster, caplog):
    """A non-retryable refusal (ECS takes tag values up to 128 characters) does not stop the other hosts."""
    hosts, driver = hosts_on(ecs, cluster, 2)
    Host.objects.filter(pk=hosts[0].pk).update(hostname="x" * 200)
    assert work.tag_hosts([h.pk for h in hosts]) == []
    assert driver.list_nodes({"dcp-host": str(hosts[0].pk)}) == []
    assert [n.id for n in driver.list_nodes({"dcp-host": str(hosts[1].pk)})] == [hosts[1].instance_id]
    assert "not tagged" in caplog.text and "InvalidTagValue.Malformed" in caplog.text


def test_tagging_is_queued_a_batch_at_a_time(monkeypatch):
    """Hosts are tagged by tasks of at most TAG_CHUNK hosts (a batch's worth), in order."""
    sent = []
    monkeypatch.setattr(work, "after_commit", lambda task, *args, **kwargs: sent.append((task, *args)))
    monkeypatch.setattr(work, "TAG_CHUNK", 10)
    work.queue_tagging(list(range(1, 26)))
    assert [task for task, _ in sent] == ["tag_hosts"] * 3
    assert [ids for _, ids in sent] == [list(range(1, 11)), list(range(11, 21)), list(range(21, 26))]


def test_no_free_slot_leaves_every_host_for_later(ecs, cluster, monkeypatch):
    """Tagging tasks share TAG_SLOTS slots over all workers: with the only slot held elsewhere, nothing is tagged."""
    import psycopg2
    from django.db import connection

    hosts, driver = hosts_on(ecs, cluster, 2)
    ids = [h.pk for h in hosts]
    monkeypatch.setattr(work, "TAG_SLOTS", 1)
    params = connection.settings_dict
    other = psycopg2.connect(
        dbname=params["NAME"],
        user=params["USER"],
        password=params["PASSWORD"],
        host=params["HOST"],
        port=params["PORT"],
    )
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [work.advisory_key("tag_hosts", "0")])
        assert work.tag_hosts(ids) == ids
        assert not [n for n in driver.list_nodes({"dcp": "1"}) if "dcp-host" in n.tags]
        with other.cursor() as cursor:
            # Released here, not by closing: the server frees a closed session's locks a moment later, and
            # on a busy machine the next line used to find the slot still taken.
            cursor.execute("SELECT pg_advisory_unlock(%s)", [work.advisory_key("tag_hosts", "0")])
    finally:
        other.close()
    assert work.tag_hosts(ids) == []
