"""The sweep in a real worker process: a vanished instance is replaced, an unknown one is destroyed.

A pool is scaled out through the API on an emulated cloud; then, behind DCP's
back, one ready host's instance is destroyed and an extra instance with
DCP's tags is made. The sweep task (as beat sends it) must put both right,
and the cloud's own inventory must end exactly as DCP's database says.
"""

import uuid
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from apps.inventory.choices import HostStatus
from apps.inventory.models import Host
from apps.providers.drivers import get_driver
from apps.provisioning.choices import OrphanState
from apps.provisioning.models import OrphanInstance
from dcp.celery import app
from tests.conftest import client_for, wait_for
from tests.e2e.test_cloud_scale import finished, live_in_emulator, template_for
from tests.factories import PoolFactory, with_template
from tests.providers.harnesses import all_harnesses

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]
SWEPT = ("aliyun", "aws")
SWEEP = "apps.provisioning.tasks.sweep_providers"


@pytest.fixture(scope="module", params=SWEPT)
def cloud(request):
    """One cloud's emulator, for this module."""
    harness = next(cls for cls in all_harnesses() if cls.kind == request.param)()
    harness.start()
    yield harness
    harness.stop()


def ready_ids(pool) -> set[str]:
    """Instance ids of the pool's ready hosts."""
    return set(Host.objects.filter(pool=pool, status=HostStatus.READY).values_list("instance_id", flat=True))


def orphan_in(instance_id: str, state: str):
    """The orphan record of instance_id once it is in state."""
    return OrphanInstance.objects.filter(instance_id=instance_id, state=state).first()


def test_sweep_replaces_lost_host_and_destroys_orphan(worker, cloud, users, cluster):
    """+3 hosts; one instance destroyed and one made behind DCP's back; two sweeps later the cloud matches DCP."""
    cloud.reset()
    account = cloud.account()
    account.options = {"terminate_orphans": True}
    account.save()
    pool = with_template(PoolFactory(cluster=cluster, name=f"{cloud.kind}-swept"), template_for(cloud, account))
    client = client_for(users["developer"])
    answer = client.post(f"/api/v1/pools/{pool.pk}/scale/", {"delta": 3}, format="json")
    assert answer.status_code == 202, answer.content
    job = wait_for(lambda: finished(client, answer.json()["id"]), timeout=90, message="scale-out to end")
    assert job["status"] == "succeeded", job
    assert len(ready_ids(pool)) == 3

    driver = get_driver(account)
    victim = Host.objects.filter(pool=pool, status=HostStatus.READY).order_by("pk").first()
    driver.destroy_nodes([victim.instance_id])
    tags = {"dcp": "1", "dcp-pool": str(pool.pk), "dcp-batch": uuid.uuid4().hex}
    (stray,) = driver.create_nodes(cloud.spec(), 1, client_token=uuid.uuid4().hex, tags=tags)

    app.send_task(SWEEP)
    wait_for(lambda: orphan_in(stray.id, OrphanState.REPORTED), timeout=60, message="the orphan to be recorded")
    wait_for(
        lambda: Host.objects.get(pk=victim.pk).status == HostStatus.TERMINATED,
        timeout=60,
        message="the vanished host to be found lost and terminated",
    )
    assert Host.objects.get(pk=victim.pk).status_message == f"instance {victim.instance_id} vanished from {account}"
    wait_for(lambda: len(ready_ids(pool)) == 3, timeout=90, message="the lost host to be replaced")
    assert victim.instance_id not in ready_ids(pool)
    # Seen once: reported, still running (it is destroyed only when a later sweep finds it again).
    assert stray.id in live_in_emulator(cloud)

    # The next sweep comes after the grace, as beat's would.
    grace = timedelta(seconds=settings.DCP_ORPHAN_GRACE_SECONDS + 1)
    OrphanInstance.objects.filter(instance_id=stray.id).update(first_seen=timezone.now() - grace)
    app.send_task(SWEEP)
    record = wait_for(lambda: orphan_in(stray.id, OrphanState.TERMINATED), timeout=60, message="the orphan destroyed")
    assert record.provider_id == account.pk and record.terminated_at is not None
    wait_for(lambda: live_in_emulator(cloud) == ready_ids(pool), timeout=30, message="the cloud to match DCP")
    assert len(ready_ids(pool)) == 3
    assert Host.objects.filter(pool=pool).exclude(status__in=(HostStatus.READY, HostStatus.TERMINATED)).count() == 0
    assert list(OrphanInstance.objects.values_list("instance_id", flat=True)) == [stray.id]
