"""The thin path end to end: a script scales a physical pool through the API; a real worker does the work.

A real Celery worker process, a real Redis broker and the PostgreSQL test
database; nothing is mocked.
"""

import threading

import pytest
from django.db import connection

from apps.inventory.choices import HostStatus, MachineState
from apps.inventory.models import Host, PhysicalMachine
from apps.provisioning.models import Job
from tests.conftest import client_for, wait_for
from tests.factories import MachineFactory, PhysicalProviderFactory, PoolFactory, TemplateFactory, with_template

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def setup(users, cluster):
    """A pool on a template of class c32, with 8 c32 machines and 6 old c12 boxes on the same provider."""
    provider = PhysicalProviderFactory()
    MachineFactory.create_batch(8, provider=provider, machine_class="c32", cpu=32)
    MachineFactory.create_batch(6, provider=provider, machine_class="c12", cpu=12, memory_gb=16)
    template = TemplateFactory(provider=provider, instance_type="c32", cpu=32)
    pool = with_template(PoolFactory(cluster=cluster, max_size=7), template)
    return {"provider": provider, "template": template, "pool": pool, "client": client_for(users["developer"])}


def job_done(client, job_id):
    """The job's body once it has ended, else None."""
    body = client.get(f"/api/v1/jobs/{job_id}/").json()
    return body if body["status"] not in ("pending", "running") else None


def test_scale_out_then_in(worker, setup):
    """Out by 5: 5 ready hosts on 5 distinct c32 machines; in by 2: 3 remain, 2 machines free again."""
    client, pool = setup["client"], setup["pool"]
    response = client.post(f"/api/v1/pools/{pool.pk}/scale/", {"delta": 5}, format="json")
    assert response.status_code == 202, response.content
    assert response.json()["status"] == "pending"
    assert response.json()["kind"] == "scale_out"

    job = wait_for(lambda: job_done(client, response.json()["id"]), message="scale-out job to end")
    assert job["status"] == "succeeded", job
    assert job["progress"] == {"total": 5, "ready": 5, "removed": 0, "failed": 0, "drifted": 0}
    hosts = client.get(f"/api/v1/hosts/?pool={pool.pk}&status=ready").json()
    assert hosts["count"] == 5
    machines = PhysicalMachine.objects.filter(state=MachineState.ALLOCATED)
    assert machines.count() == 5
    assert set(machines.values_list("machine_class", flat=True)) == {"c32"}
    assert {h["instance_id"] for h in hosts["results"]} == set(machines.values_list("hostname", flat=True))
    assert all(h["cpu"] == 32 and h["private_ip"] for h in hosts["results"])
    kinds = [event["kind"] for event in job["events"]]
    assert kinds[0] == "requested" and kinds[-1] == "finished"
    assert {"creating", "running", "initialized", "ready"} <= set(kinds)

    response = client.post(f"/api/v1/pools/{pool.pk}/scale/", {"delta": -2}, format="json")
    assert response.status_code == 202, response.content
    job = wait_for(lambda: job_done(client, response.json()["id"]), message="scale-in job to end")
    assert job["status"] == "succeeded", job
    assert client.get(f"/api/v1/pools/{pool.pk}/").json()["desired_size"] == 3
    assert Host.objects.filter(pool=pool, status=HostStatus.READY).count() == 3
    assert Host.objects.filter(pool=pool, status=HostStatus.TERMINATED, terminated_at__isnull=False).count() == 2
    assert PhysicalMachine.objects.filter(state=MachineState.ALLOCATED).count() == 3
    assert PhysicalMachine.objects.filter(machine_class="c32", state=MachineState.FREE).count() == 5


def test_idempotency_key_gives_one_job(worker, setup):
    """The same Idempotency-Key twice: one job, the same body, and the pool grows once."""
    client, pool = setup["client"], setup["pool"]
    url = f"/api/v1/pools/{pool.pk}/scale/"
    first = client.post(url, {"delta": 2}, format="json", HTTP_IDEMPOTENCY_KEY="deploy-42")
    second = client.post(url, {"delta": 2}, format="json", HTTP_IDEMPOTENCY_KEY="deploy-42")
    assert first.status_code == second.status_code == 202
    assert first.json()["id"] == second.json()["id"]
    assert second["Idempotent-Replayed"] == "true"
    assert Job.objects.filter(pool=pool).count() == 1
    wait_for(lambda: job_done(client, first.json()["id"]), message="job to end")
    pool.refresh_from_db()
    assert pool.desired_size == 2
    assert Host.objects.filter(pool=pool, status=HostStatus.READY).count() == 2
    other = client.post(url, {"delta": 1}, format="json", HTTP_IDEMPOTENCY_KEY="deploy-42")
    assert other.status_code == 409
    assert "different request" in other.json()["detail"]


def test_scale_past_max_size_is_refused(worker, setup):
    """Past max_size: 400 naming the limit, and nothing created."""
    client, pool = setup["client"], setup["pool"]
    response = client.post(f"/api/v1/pools/{pool.pk}/scale/", {"delta": 8}, format="json")
    assert response.status_code == 400
    assert "max_size 7" in response.json()["delta"][0]
    assert Job.objects.count() == 0
    assert Host.objects.count() == 0
    pool.refresh_from_db()
    assert pool.desired_size == 0


def test_not_enough_machines_of_the_class(worker, setup, cluster):
    """Asking for more c32 hosts than there are c32 machines: partial, the reason given, no c12 box used."""
    client, template = setup["client"], setup["template"]
    pool = with_template(PoolFactory(cluster=cluster, name="big", max_size=20), template)
    response = client.post(f"/api/v1/pools/{pool.pk}/scale/", {"delta": 10}, format="json")
    job = wait_for(lambda: job_done(client, response.json()["id"]), message="job to end")
    assert job["status"] == "partial"
    assert "only 8 free 'c32'" in job["message"]
    assert job["progress"]["ready"] == 8
    pool.refresh_from_db()
    assert pool.desired_size == 8
    assert not PhysicalMachine.objects.filter(machine_class="c12").exclude(state=MachineState.FREE).exists()


def test_two_pools_scaling_at_once_never_share_a_machine(worker, setup, cluster):
    """Two pools ask for 4 each of 8 machines at the same moment: 8 hosts on 8 different machines."""
    client, template = setup["client"], setup["template"]
    pools = [with_template(PoolFactory(cluster=cluster, name=f"p{i}"), template) for i in range(2)]
    barrier = threading.Barrier(2)
    responses = []
    lock = threading.Lock()

    def request(pool):
        try:
            own = client_for(pool.cluster.memberships.get(role="developer").user)
            barrier.wait()
            response = own.post(f"/api/v1/pools/{pool.pk}/scale/", {"delta": 4}, format="json")
            with lock:
                responses.append(response)
        finally:
            connection.close()

    threads = [threading.Thread(target=request, args=(pool,)) for pool in pools]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [r.status_code for r in responses] == [202, 202]
    for response in responses:
        job = wait_for(lambda r=response: job_done(client, r.json()["id"]), message="job to end")
        assert job["status"] == "succeeded", job
    instance_ids = list(Host.objects.filter(status=HostStatus.READY).values_list("instance_id", flat=True))
    assert len(instance_ids) == 8
    assert len(set(instance_ids)) == 8
    assert PhysicalMachine.objects.filter(state=MachineState.ALLOCATED, machine_class="c32").count() == 8
