"""Concurrency: many scale calls on one pool at once, one Idempotency-Key from many threads, two workers.

Scale calls go through the real API from threads, each with its own client,
token and database connection (``django_db(transaction=True)``), released at
a barrier so that they reach the pool's row lock together. The engine work is
done by real Celery worker processes on the real broker; the two-worker tests
run a second worker beside the session's.
"""

import random
import threading
from collections import Counter

import pytest
from django.db import connection
from django.utils import timezone

from apps.inventory.choices import HostStatus, MachineState
from apps.inventory.models import Host, PhysicalMachine
from apps.providers.drivers import NodeSpec, get_driver
from apps.provisioning import work
from apps.provisioning.choices import EventKind, JobKind, JobStatus
from apps.provisioning.models import Job, JobEvent
from dcp.celery import app
from tests.conftest import Worker, client_for, wait_for
from tests.factories import MachineFactory, PoolFactory, TemplateFactory, ready_hosts, with_template

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

CALLS = 20
QUEUES = ("engine", "provider", "init")


def engine_idle() -> bool:
    """Whether the worker left at teardown (the session's) runs, holds or awaits no task, and no queue holds one."""
    inspect = app.control.inspect(timeout=5.0, limit=1)
    for replies in (inspect.active(), inspect.reserved(), inspect.scheduled()):
        if replies is None or any(replies.values()):
            return False
    # Checked after the workers: a task that just ended has already queued what it decided.
    with app.connection_for_write() as conn:
        return not any(conn.default_channel.client.llen(queue) for queue in QUEUES)


def task_errors(log_path, offset: int = 0) -> list[str]:
    """Tasks that raised an unexpected error (a deadlock, a bug) in a worker's log since offset."""
    text = log_path.read_bytes()[offset:].decode(errors="replace")
    return [line for line in text.splitlines() if "raised unexpected" in line]


@pytest.fixture(autouse=True)
def _quiet_engine_after(worker):
    """After each test: the workers are idle (the test database is emptied next), and no task failed.

    Work a test set off goes on after its assertions (tagging, the last reconcile passes); emptying
    the tables under it deadlocks the truncation with a worker's row locks. A task that failed (a
    deadlock rolled it back) is work redone only at the next tick, if ever: that is a failure here.
    """
    offset = worker.log_path.stat().st_size
    yield
    wait_for(lambda: engine_idle() and engine_idle(), timeout=60, interval=0.5, message="the workers to be idle")
    assert not task_errors(worker.log_path, offset), f"tasks failed (see {worker.log_path})"


def fire(calls: list[tuple]) -> list:
    """Make each (client, url, body, headers) POST from its own thread, all released at once; responses in order."""
    barrier = threading.Barrier(len(calls))
    responses: list = [None] * len(calls)

    def call(index: int) -> None:
        client, url, body, headers = calls[index]
        try:
            barrier.wait(timeout=30)
            responses[index] = client.post(url, body, format="json", **headers)
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below, with the others
            responses[index] = exc
        finally:
            # Each thread has its own connection to the test database: leave none open.
            connection.close()

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a scale call hung"
    raised = [r for r in responses if isinstance(r, Exception)]
    assert not raised, raised
    return responses


def all_jobs_ended(*pools) -> bool:
    """Whether every job of these pools has ended."""
    return not Job.objects.filter(pool__in=pools, status__in=JobStatus.ACTIVE).exists()


def state(*pools) -> str:
    """The pools' jobs and hosts, for a failure message."""
    jobs = list(Job.objects.filter(pool__in=pools).order_by("pk").values_list("pk", "delta", "status", "gave_up"))
    hosts = Counter(Host.objects.filter(pool__in=pools).values_list("status", flat=True))
    return f"jobs (id, delta, status, gave up) {jobs}; hosts {dict(hosts)}"


def assert_one_machine_per_host(pools, since=None) -> None:
    """Each live host holds its own allocated machine, and no other machine is allocated.

    With since (no host removed since then): no other machine was allocated even for a moment. A
    machine handed out and given back (a duplicate allocation the engine later undid) keeps the time
    it was freed in updated_at, so "touched since" catches it after the fact.
    """
    hosts = list(
        Host.objects.filter(pool__in=pools, status__in=HostStatus.ACTIVE).values_list("instance_id", flat=True)
    )
    assert "" not in hosts, "a live host has no machine"
    assert len(set(hosts)) == len(hosts), f"a machine is held by two hosts: {Counter(hosts).most_common(3)}"
    allocated = set(PhysicalMachine.objects.filter(state=MachineState.ALLOCATED).values_list("hostname", flat=True))
    leaked = Host.objects.filter(instance_id__in=allocated - set(hosts)).values_list(
        "hostname", "status", "instance_id"
    )
    assert allocated == set(hosts), f"allocated but no live host's: {sorted(allocated - set(hosts))}; {list(leaked)}"
    if since is not None:
        churned = PhysicalMachine.objects.filter(state=MachineState.FREE, updated_at__gte=since)
        assert not churned.exists(), (
            f"machines allocated, then freed: {list(churned.values_list('hostname', flat=True))}"
        )


def assert_each_step_once(pools) -> None:
    """Every host of these pools went through each step of its life once: no step was acted on twice."""
    kinds = (EventKind.CREATING, EventKind.CREATED, EventKind.RUNNING, EventKind.INITIALIZED, EventKind.READY)
    events = Counter(
        JobEvent.objects.filter(host__pool__in=pools, kind__in=kinds).values_list("host_id", "kind").order_by()
    )
    hosts = list(Host.objects.filter(pool__in=pools).values_list("pk", flat=True))
    twice = {key: n for key, n in events.items() if n != 1}
    assert not twice, f"steps acted on more than once: {twice}"
    assert len(events) == len(hosts) * len(kinds), "a host is missing a step"


@pytest.fixture
def physical(cluster):
    """A physical provider with 30 free c32 machines; a pool on it with min 2, max 14 and 6 ready hosts."""
    template = TemplateFactory()
    machines = MachineFactory.create_batch(30, provider=template.provider)
    pool = with_template(PoolFactory(cluster=cluster, min_size=2, max_size=14, desired_size=6), template)
    ready_hosts(pool, template, machines[:6])
    return {"template": template, "pool": pool}


def test_twenty_concurrent_scale_calls_hold_the_bounds(worker, physical, users):
    """20 calls of ±1..4 at once on a pool of 6 in [2, 14]: each 202 or a 400 naming the bound; sizes add up."""
    pool = physical["pool"]
    rng = random.Random(20)
    # Ten of each sign, each sign adding up to far past its bound: whatever the order, some are refused.
    deltas = [rng.randint(1, 4) for _ in range(CALLS // 2)] + [-rng.randint(1, 4) for _ in range(CALLS // 2)]
    rng.shuffle(deltas)
    url = f"/api/v1/pools/{pool.pk}/scale/"

    responses = fire([(client_for(users["developer"]), url, {"delta": delta}, {}) for delta in deltas])

    seen = [(delta, r.status_code, r.json()) for delta, r in zip(deltas, responses, strict=True)]
    assert {code for _, code, _ in seen} <= {202, 400}, seen
    for delta, code, body in seen:
        if code == 400:
            bound = "max_size 14" if delta > 0 else "min_size 2"
            assert bound in body["delta"][0], (delta, body)
    accepted = [(delta, body["id"]) for delta, code, body in seen if code == 202]
    assert accepted and len(accepted) < CALLS, seen
    pool.refresh_from_db()
    assert pool.desired_size == 6 + sum(delta for delta, _ in accepted), seen
    assert pool.min_size <= pool.desired_size <= pool.max_size
    # One job per accepted call, and the calls were serialised: each job starts where the one before ended.
    jobs = list(Job.objects.filter(pool=pool).order_by("pk"))
    assert sorted(job.pk for job in jobs) == sorted(job_id for _, job_id in accepted)
    size = 6
    for job in jobs:
        assert (job.desired_before, job.desired_after) == (size, size + job.delta), [
            (j.pk, j.desired_before, j.delta) for j in jobs
        ]
        size = job.desired_after
        assert pool.min_size <= size <= pool.max_size

    wait_for(lambda: all_jobs_ended(pool), timeout=120, message=f"every job to end: {state(pool)}")
    pool.refresh_from_db()
    active = Host.objects.filter(pool=pool, status__in=HostStatus.ACTIVE)
    assert active.count() == pool.desired_size
    assert set(active.values_list("status", flat=True)) <= {HostStatus.READY}
    assert_one_machine_per_host([pool], None)


def test_one_idempotency_key_from_many_threads_makes_one_job(worker, physical, users, cluster):
    """8 threads send {"delta": 2} with one key: one job, every answer that job, the pool grows once.

    And one key sent for four pools at once: one job; the three others are refused, each with a clear 409.
    """
    pool = physical["pool"]
    developer = users["developer"]
    url = f"/api/v1/pools/{pool.pk}/scale/"
    key = {"HTTP_IDEMPOTENCY_KEY": "deploy-7"}

    responses = fire([(client_for(developer), url, {"delta": 2}, key) for _ in range(8)])

    assert [r.status_code for r in responses] == [202] * 8, [r.content for r in responses]
    assert len({r.json()["id"] for r in responses}) == 1
    assert sum(r.get("Idempotent-Replayed") == "true" for r in responses) == 7
    assert Job.objects.filter(pool=pool).count() == 1
    pool.refresh_from_db()
    assert pool.desired_size == 8

    # One key on four pools at once is four different requests: exactly one is taken, each other one is
    # told plainly that its key was used for a different request.
    others = [with_template(PoolFactory(cluster=cluster, name=f"other-{i}"), physical["template"]) for i in range(3)]
    key = {"HTTP_IDEMPOTENCY_KEY": "deploy-8"}
    responses = fire(
        [(client_for(developer), f"/api/v1/pools/{p.pk}/scale/", {"delta": 1}, key) for p in [pool, *others]]
    )
    assert sorted(r.status_code for r in responses) == [202, 409, 409, 409], [r.content for r in responses]
    for refused in (r for r in responses if r.status_code == 409):
        assert "already used for a different request" in refused.json()["detail"], refused.json()
    assert Job.objects.filter(idempotency_key="deploy-8").count() == 1
    wait_for(lambda: all_jobs_ended(pool, *others), timeout=60, message="the jobs to end")


@pytest.fixture
def second_worker(worker, tmp_path):
    """A second worker process beside the session's, on the same queues."""
    process = Worker(worker.env, tmp_path / "second-worker.log")
    process.start()
    yield process
    process.stop()
    assert not task_errors(process.log_path), f"tasks failed (see {process.log_path})"


def test_two_workers_scale_out_two_pools(second_worker, users, cluster):
    """Two workers, two pools scaled +12 each at once from 26 machines: 24 hosts on 24 machines, each step once."""
    template = TemplateFactory()
    MachineFactory.create_batch(26, provider=template.provider)
    since = timezone.now()
    pools = [with_template(PoolFactory(cluster=cluster, name=f"p{i}", max_size=12), template) for i in range(2)]

    responses = fire(
        [(client_for(users["developer"]), f"/api/v1/pools/{p.pk}/scale/", {"delta": 12}, {}) for p in pools]
    )

    assert [r.status_code for r in responses] == [202, 202]
    wait_for(lambda: all_jobs_ended(*pools), timeout=120, message="both jobs to end")
    jobs = list(Job.objects.filter(pool__in=pools).values_list("status", "message"))
    assert [status for status, _ in jobs] == [JobStatus.SUCCEEDED] * 2, jobs
    assert Host.objects.filter(pool__in=pools, status=HostStatus.READY).count() == 24
    assert_one_machine_per_host(pools, since)
    assert_each_step_once(pools)


def test_duplicate_step_messages_on_two_workers_act_once(second_worker, cluster):
    """Each batch's create step delivered 4 times at once to two workers: every host gets one machine, once.

    Brokers deliver at least once, and the tick re-queues a step that looks stuck while it may still run:
    the same step for the same hosts can run in two workers at the same moment.
    """
    template = TemplateFactory()
    MachineFactory.create_batch(20, provider=template.provider)
    since = timezone.now()
    pool = with_template(PoolFactory(cluster=cluster, max_size=16, desired_size=16), template)
    job = Job.objects.create(
        pool=pool, kind=JobKind.SCALE_OUT, delta=16, desired_before=0, desired_after=16, status=JobStatus.RUNNING
    )
    tokens = [f"dup-batch-{n}" for n in range(4)]
    Host.objects.bulk_create(
        Host(
            hostname=f"dup-{token}-{i}",
            pool=pool,
            provider=template.provider,
            template=template,
            job=job,
            batch_token=token,
        )
        for token in tokens
        for i in range(4)
    )

    # The copies of one batch's step side by side, so that the four pool processes take them together.
    for token in tokens:
        for _ in range(4):
            app.send_task("apps.provisioning.tasks.create_hosts", args=[token])

    wait_for(lambda: all_jobs_ended(pool), timeout=120, message="the job to end")
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED, job.message
    assert Host.objects.filter(pool=pool, status=HostStatus.READY).count() == 16
    assert_one_machine_per_host([pool], since)
    assert_each_step_once([pool])


def test_host_removed_while_its_create_call_is_in_flight_keeps_no_machine(worker, cluster, monkeypatch):
    """A host removed while its create call is in flight: the machine that call gets is freed, not leaked.

    The interleaving is forced: the terminate step has read the host (no instance yet, so nothing to
    destroy) when the create call's answer is recorded from another connection, before the step
    takes its locks. The worker then runs what the two steps queued.
    """
    template = TemplateFactory()
    MachineFactory.create_batch(2, provider=template.provider)
    pool = with_template(PoolFactory(cluster=cluster), template)
    host = Host.objects.create(
        hostname="late", pool=pool, provider=template.provider, template=template, batch_token="late-batch"
    )
    Host.objects.filter(pk=host.pk).update(status=HostStatus.TERMINATING)
    lock_pools = work.lock_pools
    answered = []

    def create_call_answers_now(pool_ids):
        if not answered:
            answered.append(True)

            def record() -> None:
                try:
                    driver = get_driver(template.provider)
                    nodes = driver.create_nodes(NodeSpec.from_template(template), 1, client_token="late-batch", tags={})
                    work.record_nodes("late-batch", nodes, names_nodes=True)
                finally:
                    connection.close()

            thread = threading.Thread(target=record)
            thread.start()
            thread.join(timeout=30)
        lock_pools(pool_ids)

    monkeypatch.setattr(work, "lock_pools", create_call_answers_now)
    work.terminate([host.pk])
    monkeypatch.undo()

    machines = PhysicalMachine.objects.filter(provider=template.provider)
    wait_for(
        lambda: not machines.filter(state=MachineState.ALLOCATED).exists(),
        timeout=30,
        message=f"the machine to be freed: {list(machines.values_list('hostname', 'state'))}",
    )
    host.refresh_from_db()
    assert host.status == HostStatus.TERMINATED
