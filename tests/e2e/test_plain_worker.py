"""A worker started the ordinary Celery way, `celery -A dcp worker` without --queues, serves all of DCP.

The session's worker (started with --queues) is stopped for this module, so the only worker is a plain
one: a cloud scale-out through the API must still end with every host ready, and /healthz must say
the worker consumes every queue, then that no queue has a worker once it has stopped.
"""

import pytest

from apps.core import workers
from tests.conftest import Worker, client_for, wait_for
from tests.e2e.test_cloud_scale import finished, live_in_emulator, template_for
from tests.factories import PoolFactory, with_template
from tests.providers.harnesses import all_harnesses

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def plain_worker(only_our_workers, tmp_path_factory):
    """The module's only worker: `celery -A dcp worker`, no --queues."""
    process = Worker(only_our_workers, tmp_path_factory.mktemp("plain-worker") / "worker.log", queues=None)
    process.start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def aliyun():
    """The Aliyun ECS emulator."""
    harness = next(cls for cls in all_harnesses() if cls.kind == "aliyun")()
    harness.start()
    yield harness
    harness.stop()


def health(client) -> dict:
    """/healthz's body."""
    answer = client.get("/healthz")
    assert answer.status_code == 200, answer.content
    return answer.json()


def test_plain_worker_consumes_every_queue(plain_worker, clients):
    """Its heartbeat lists engine, provider and init, and /healthz reports no queue without a worker."""
    own = workers.running().get(pid=plain_worker.process.pid)
    assert sorted(own.queues) == ["engine", "init", "provider"]
    body = health(clients["anonymous"])
    assert body["queues_without_worker"] == []
    assert all(count >= 1 for count in body["queues"].values()), body


def test_plain_worker_scales_out_on_a_cloud(plain_worker, aliyun, users, cluster):
    """+3 on the emulated ECS: the job succeeds, the API lists 3 ready hosts, the cloud holds exactly them."""
    aliyun.reset()
    aliyun.set_faults(boot_seconds=1.0)
    pool = with_template(PoolFactory(cluster=cluster, name="plain-pool"), template_for(aliyun, aliyun.account()))
    client = client_for(users["developer"])

    answer = client.post(f"/api/v1/pools/{pool.pk}/scale/", {"delta": 3}, format="json")
    assert answer.status_code == 202, answer.content
    # Before the fix the create step waited on the provider queue for ever: the job never ended.
    job = wait_for(lambda: finished(client, answer.json()["id"]), timeout=90, message="scale-out to end")
    assert job["status"] == "succeeded", job

    hosts = client.get("/api/v1/hosts/", {"pool": pool.pk, "status": "ready"}).json()
    assert hosts["count"] == 3, hosts
    assert {host["instance_id"] for host in hosts["results"]} == live_in_emulator(aliyun)


def test_stopped_worker_leaves_its_queues_without_worker(plain_worker, clients):
    """A worker that stops deletes its heartbeat at once; with no worker left, /healthz lists every queue."""
    pid = plain_worker.process.pid
    plain_worker.stop()
    assert not workers.running().filter(pid=pid).exists()
    # Workers SIGKILLed by earlier modules stop counting ALIVE_SECONDS after their last heartbeat.
    wait_for(
        lambda: health(clients["anonymous"])["queues_without_worker"] == ["engine", "provider", "init"],
        timeout=workers.ALIVE_SECONDS + 5,
        message="/healthz to list every queue as without worker",
    )
