"""Work whose message was lost (a worker died holding it) is picked up again from the database.

A real worker process; the lost message is simulated by writing the state a
reconcile pass leaves behind (hosts pending, their create step queued) without
queueing the step, and dating the hosts as if they had waited past
DCP_STUCK_AFTER_SECONDS.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from apps.inventory.choices import HostStatus, MachineState
from apps.inventory.models import Host, PhysicalMachine
from apps.provisioning.choices import JobKind, JobStatus
from apps.provisioning.models import Job
from apps.provisioning.tasks import reconcile_all
from tests.conftest import wait_for
from tests.factories import MachineFactory, PoolFactory, TemplateFactory, with_template

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_stuck_hosts_are_created_after_a_lost_message(worker, cluster):
    """Three hosts pending for an hour with nothing queued: the periodic tick finishes the job."""
    template = TemplateFactory()
    MachineFactory.create_batch(3, provider=template.provider)
    pool = with_template(PoolFactory(cluster=cluster, desired_size=3), template)
    job = Job.objects.create(
        pool=pool, kind=JobKind.SCALE_OUT, delta=3, desired_before=0, desired_after=3, status=JobStatus.RUNNING
    )
    Host.objects.bulk_create(
        Host(
            hostname=f"lost-{i}",
            pool=pool,
            provider=template.provider,
            template=template,
            job=job,
            batch_token="lost-batch",
        )
        for i in range(3)
    )
    Host.objects.filter(pool=pool).update(updated_at=timezone.now() - timedelta(hours=1))

    reconcile_all.delay()

    wait_for(lambda: Job.objects.get(pk=job.pk).status == JobStatus.SUCCEEDED, message="the job to succeed")
    assert Host.objects.filter(pool=pool, status=HostStatus.READY).count() == 3
    assert PhysicalMachine.objects.filter(state=MachineState.ALLOCATED).count() == 3


def test_lost_termination_is_finished(worker, cluster):
    """A host left terminating (its destroy step lost) is destroyed by the tick, and its machine freed."""
    template = TemplateFactory()
    machine = MachineFactory(provider=template.provider, state=MachineState.ALLOCATED, client_token="t")
    pool = with_template(PoolFactory(cluster=cluster), template)
    host = Host.objects.create(
        hostname=machine.hostname,
        pool=pool,
        provider=template.provider,
        template=template,
        status=HostStatus.TERMINATING,
        instance_id=machine.hostname,
    )
    Host.objects.filter(pk=host.pk).update(updated_at=timezone.now() - timedelta(hours=1))

    reconcile_all.delay()

    wait_for(lambda: Host.objects.get(pk=host.pk).status == HostStatus.TERMINATED, message="the host to end")
    machine.refresh_from_db()
    assert machine.state == MachineState.FREE
