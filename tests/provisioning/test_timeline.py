"""The job detail shows each host's timeline: requested → creating → created → running → initialized → ready."""

import pytest

from apps.inventory.choices import HostStatus
from apps.inventory.models import Host
from apps.providers.models import CloudAccount
from apps.provisioning import services, tasks
from apps.provisioning.models import Job, JobEvent
from emulators.aws import AwsEmulator
from tests.configuration.test_runner import closed_port
from tests.conftest import client_for
from tests.factories import MachineFactory, PhysicalProviderFactory, PoolFactory, TemplateFactory, with_template
from tests.provisioning.test_engine import run_engine

pytestmark = pytest.mark.django_db
SCALE_OUT_STEPS = ["requested", "creating", "created", "running", "initialized", "ready"]


def test_each_host_has_its_steps_with_durations(cluster, sysadmin, users):
    """Per host: the steps in order, seconds between them, and the total from requested to ready."""
    provider = PhysicalProviderFactory()
    MachineFactory.create_batch(3, provider=provider)
    pool = with_template(PoolFactory(cluster=cluster), TemplateFactory(provider=provider))
    job = services.scale(pool.pk, sysadmin, services.ScaleRequest(delta=2)).job
    run_engine(pool)

    body = client_for(users["guest"]).get(f"/api/v1/jobs/{job.pk}/").json()

    assert body["status"] == "succeeded"
    assert len(body["hosts"]) == 2
    for timeline in body["hosts"]:
        assert [step["kind"] for step in timeline["steps"]] == SCALE_OUT_STEPS
        assert timeline["status"] == "ready" and timeline["hostname"].endswith(".idc.test")
        assert all(step["seconds"] >= 0 for step in timeline["steps"])
        assert timeline["total_seconds"] == pytest.approx(sum(step["seconds"] for step in timeline["steps"]), abs=0.01)
    assert "hosts" not in client_for(users["guest"]).get("/api/v1/jobs/").json()["results"][0]

    shrink = services.scale(pool.pk, sysadmin, services.ScaleRequest(delta=-1)).job
    run_engine(pool)
    (removed,) = client_for(users["guest"]).get(f"/api/v1/jobs/{shrink.pk}/").json()["hosts"]
    assert [step["kind"] for step in removed["steps"]] == ["terminating", "terminated"]
    assert removed["status"] == "terminated" and removed["total_seconds"] is not None


def test_a_host_not_yet_ready_has_no_total(cluster, sysadmin, users):
    """While a host is on its way, its timeline ends at its last step and has no total yet."""
    provider = PhysicalProviderFactory()
    MachineFactory.create_batch(1, provider=provider)
    pool = with_template(PoolFactory(cluster=cluster), TemplateFactory(provider=provider))
    job = services.scale(pool.pk, sysadmin, services.ScaleRequest(delta=1)).job
    from apps.provisioning import reconciler

    reconciler.reconcile(pool.pk)
    (timeline,) = client_for(users["guest"]).get(f"/api/v1/jobs/{job.pk}/").json()["hosts"]
    assert [step["kind"] for step in timeline["steps"]] == ["requested"]
    assert timeline["status"] == "pending" and timeline["total_seconds"] is None


def test_each_retried_removal_is_on_the_removing_jobs_timeline(cluster, settings):
    """Nobody answers on the cloud's port: each failed try of the removal is one event on the scale-in job (not
    one per host), with the time of the next; the last says the engine gave up for now and when it comes back.

    The task runs eagerly here (Celery's apply: the retries come at once, not after their countdown).
    """
    settings.DCP_STUCK_AFTER_SECONDS = 90
    account = CloudAccount.objects.create(
        name="gone-aws",
        kind="aws",
        region="us-east-1",
        endpoint_url=f"http://127.0.0.1:{closed_port()}",
        credentials={"access_key_id": AwsEmulator.ACCESS_KEY_ID, "secret_access_key": AwsEmulator.SECRET_ACCESS_KEY},
    )
    template = TemplateFactory(provider=account, instance_type="t3.micro")
    pool = with_template(PoolFactory(cluster=cluster), template)
    made, removing = (
        Job.objects.create(pool=pool, kind=kind, delta=delta, desired_before=before, desired_after=after)
        for kind, delta, before, after in (("scale_out", 2, 0, 2), ("scale_in", -2, 2, 0))
    )
    hosts = Host.objects.bulk_create(
        Host(
            hostname=f"gone-{n}",
            pool=pool,
            provider=account,
            template=template,
            job=made,
            removal_job=removing,
            status=HostStatus.TERMINATING,
            instance_id=f"i-{n:017x}",
        )
        for n in range(2)
    )

    tasks.terminate_hosts.apply(args=[[host.pk for host in hosts]])

    events = [event.message for event in JobEvent.objects.filter(job=removing, kind="retrying").order_by("pk")]
    assert len(events) == 21, events
    assert events[0].startswith("Removing 2 host(s) on gone-aws failed: EC2 TerminateInstances: Could not connect")
    assert "retrying at " in events[0] and events[0].endswith("UTC (try 2 of 21)")
    assert events[-1].endswith("gave up after 21 tries; the reconciler tries again once the hosts have waited 90s")
    assert not JobEvent.objects.filter(job=made, kind="retrying").exists()


def test_each_throttled_create_is_on_the_jobs_timeline(ecs_emulator, cluster, monkeypatch):
    """ECS throttles every call: each throttled try of the batch's create is one event on the job, saying it was
    throttled and when the next try comes, and nothing is created meanwhile.

    The task runs eagerly here (Celery's apply: the retries come at once, not after their countdown).
    """
    from apps.provisioning import work
    from tests.provisioning.test_polling import batch_on

    monkeypatch.setattr(work, "after_commit", lambda task, *args, countdown=None: None)
    ecs_emulator.reset()
    ecs_emulator.set_faults(throttle_rate=1.0)
    try:
        token, account = batch_on(ecs_emulator, cluster, 2)
        tasks.create_hosts.apply(args=[token])
    finally:
        ecs_emulator.set_faults()
    job = Host.objects.filter(batch_token=token).first().job
    events = [event.message for event in JobEvent.objects.filter(job=job, kind="retrying").order_by("pk")]
    assert len(events) == 21, events
    assert events[0].startswith(f"Creating 2 host(s) on {account.name} throttled: ")
    assert "retrying at " in events[0] and events[0].endswith("UTC (try 2 of 21)")
    assert events[-1].startswith(f"Creating 2 host(s) on {account.name} throttled: ")
    assert "gave up after 21 tries" in events[-1]
    assert not Host.objects.filter(batch_token=token).exclude(instance_id="").exists()
    assert not ecs_emulator.reported()
