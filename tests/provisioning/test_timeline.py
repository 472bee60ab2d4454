"""The job detail shows each host's timeline: requested → creating → created → running → initialized → ready."""

import pytest

from apps.provisioning import services
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
