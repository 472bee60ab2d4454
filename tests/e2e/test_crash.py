"""Crash safety: kill -9 the worker at random moments during a 100-host scale-out, restart it, and converge.

Real processes throughout: a Celery worker (prefork, its pool in the same
process group) that is SIGKILLed as a whole several times while it creates,
polls and initializes a batch of 100 instances on an emulated cloud, and a
separate Celery beat whose ``reconcile_all`` tick is what re-dispatches the
work a killed worker held (its messages are gone: Redis gives unacked messages
back only after the broker's visibility timeout, an hour). Every run must end
with exactly 100 ready hosts, on 100 distinct instances, and the cloud's own
inventory holding exactly those instances: no duplicate, no orphan.

The kill moments come from a seeded random generator; the seed is in every
assertion message (set DCP_CRASH_SEED to replay a run's kill schedule).
"""

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from pathlib import Path

import pytest

from apps.inventory.choices import HostStatus
from apps.inventory.models import Host
from apps.provisioning.models import Job
from tests.conftest import ROOT, Worker, client_for, wait_for
from tests.e2e.test_cloud_scale import live_in_emulator, template_for
from tests.factories import PoolFactory, with_template
from tests.providers.harnesses import all_harnesses

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

HOSTS = 100
#: When each kill lands. "create": while the batch's create call is in flight (the cloud completes it,
#: the worker never records it: the dangerous moment); "booting": at a random moment once the batch's
#: instances are recorded (polling, initializing, tagging); "anywhere": a random delay after the restart
#: (often the re-dispatched create, or the wait for it).
KILLS = ("create", "anywhere", "booting", "anywhere")
#: Runs per cloud, each with its own kill schedule (seed + run); each run kills first while a create is in flight.
RUNS = 2
#: Every cloud DCP drives through an emulator: Aliyun honours ClientToken; moto ignores it, so the
#: AWS driver finds an earlier batch by its token tag; Nova has no token, the driver uses metadata.
KINDS = ("aliyun", "aws", "openstack")
CLOUDS = [cls for cls in all_harnesses() if cls.kind in KINDS]
#: The call that creates a batch, as each emulator counts it.
CREATE_CALL = {"aliyun": "RunInstances", "aws": "RunInstances", "openstack": "POST /servers"}
#: Seconds every API call takes: long enough that a kill can land while the create call is in flight.
LATENCY = 0.2
#: The engine's settings for these workers: a step that has not moved for 5 s is re-queued by the
#: tick, which beat sends every 2 s; booting instances are polled every second.
ENGINE_ENV = {"DCP_STUCK_AFTER_SECONDS": "5", "DCP_RECONCILE_INTERVAL": "2", "DCP_POLL_INTERVAL": "1"}
#: One seed per test session (or DCP_CRASH_SEED to replay); each run draws from seed + its number.
SEED = int(os.environ.get("DCP_CRASH_SEED") or random.SystemRandom().randrange(2**32))
#: A worker's log lines for a task that raised, and for a task's steps (to tell where a kill landed).
RAISED = "raised unexpected"
TASK_LINE = re.compile(r"tasks\.(?P<task>\w+)\[[^]]+\] (?P<event>received|succeeded|failed|retry|raised)")


@pytest.fixture(scope="module", params=[cls.kind for cls in CLOUDS])
def cloud(request):
    """One cloud's emulator, for this module."""
    harness = next(cls for cls in CLOUDS if cls.kind == request.param)()
    harness.start()
    yield harness
    harness.stop()


@pytest.fixture(scope="module")
def engine_env(only_our_workers):
    """The session worker's environment (test database, broker) with the engine's short timings."""
    return {**only_our_workers, **ENGINE_ENV}


@pytest.fixture(scope="module")
def beat(engine_env, tmp_path_factory):
    """A Celery beat process sending the reconcile_all tick every DCP_RECONCILE_INTERVAL seconds.

    Beat is its own process, as in production, and is not killed: it is what finds the dropped work.
    """
    tmp_path = tmp_path_factory.mktemp("beat")
    log_path = tmp_path / "beat.log"
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "dcp",
                "beat",
                "--loglevel",
                "INFO",
                "--schedule",
                str(tmp_path / "celerybeat-schedule"),
            ],
            cwd=ROOT,
            env=engine_env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    wait_for(lambda: b"beat: Starting" in log_path.read_bytes(), timeout=60, message="celery beat to start")
    yield process
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=30)


def statuses(pool) -> dict[str, int]:
    """How many of the pool's hosts are in each status (and how many have an instance yet)."""
    counts = Counter(Host.objects.filter(pool=pool).values_list("status", flat=True))
    counts["with_instance"] = Host.objects.filter(pool=pool).exclude(instance_id="").count()
    return dict(counts)


def create_calls(harness) -> int:
    """How many create calls the cloud has received since its reset."""
    with urllib.request.urlopen(f"{harness.url}/_emulator/calls", timeout=10) as answer:  # noqa: S310 - loopback
        return json.loads(answer.read()).get(CREATE_CALL[harness.kind], 0)


def interrupted(log_path: Path) -> list[str]:
    """The tasks a killed worker had started and not finished, by name: where the kill landed."""
    started, ended = Counter(), Counter()
    for line in log_path.read_text(errors="replace").splitlines():
        match = TASK_LINE.search(line)
        if match:
            (started if match["event"] == "received" else ended)[match["task"]] += 1
    return sorted((started - ended).elements())


@pytest.mark.parametrize("run", range(RUNS))
def test_kill9_during_scale_out_converges(cloud, run, engine_env, beat, users, cluster, tmp_path):
    """+100 on a cloud with boot time and latency, the worker SIGKILLed 4 times: exactly 100 ready, no leak."""
    seed = SEED + RUNS * KINDS.index(cloud.kind) + run
    rng = random.Random(seed)
    cloud.reset()
    cloud.set_faults(latency=LATENCY, boot_seconds=2.0)
    account = cloud.account()
    pool = with_template(
        PoolFactory(cluster=cluster, name=f"{cloud.kind}-crash-{run}", max_size=HOSTS), template_for(cloud, account)
    )
    client = client_for(users["developer"])
    workers = [Worker(engine_env, tmp_path / "worker-0.log")]
    workers[-1].start()
    kills: list[dict] = []
    context = f"seed {seed} (DCP_CRASH_SEED={SEED}); worker logs in {tmp_path}"
    try:
        answer = client.post(f"/api/v1/pools/{pool.pk}/scale/", {"delta": HOSTS}, format="json")
        assert answer.status_code == 202, answer.content
        job_id = answer.json()["id"]
        for n, moment in enumerate(KILLS, start=1):
            if moment == "create":
                wait_for(lambda: create_calls(cloud), timeout=60, interval=0.01, message=f"a create call ({context})")
                time.sleep(rng.uniform(0, LATENCY))
            elif moment == "booting":
                recorded = Host.objects.filter(pool=pool).exclude(instance_id="")
                wait_for(recorded.exists, timeout=120, message=f"the batch to be recorded ({context}; {kills})")
                time.sleep(rng.uniform(0, 1.5))
            else:
                time.sleep(rng.uniform(0.5, 8.0))
            workers[-1].stop(signal.SIGKILL)
            kills.append(
                {
                    "moment": moment,
                    "hosts": statuses(pool),
                    "cloud_live": len(live_in_emulator(cloud)),
                    "interrupted": interrupted(workers[-1].log_path),
                }
            )
            workers.append(Worker(engine_env, tmp_path / f"worker-{n}.log"))
            workers[-1].start()
        context += f"; at each kill: {kills}"
        wait_for(
            lambda: Job.objects.get(pk=job_id).status not in ("pending", "running"),
            timeout=240,
            message=f"the job to end ({context}; now {statuses(pool)})",
        )
        job = Job.objects.get(pk=job_id)
        assert job.status == "succeeded", f"{job.status}: {job.message} ({context})"

        hosts = list(Host.objects.filter(pool=pool).values_list("status", "instance_id"))
        ready = [instance for status, instance in hosts if status == HostStatus.READY]
        assert len(ready) == HOSTS, f"{statuses(pool)} ({context})"
        assert len(set(ready)) == HOSTS and "" not in ready, f"ready hosts share or lack instances ({context})"
        # Nothing in flight, failed or half-removed: every host is ready or (a replaced one) terminated.
        unsettled = [(s, i) for s, i in hosts if s not in (HostStatus.READY, HostStatus.TERMINATED)]
        assert not unsettled, f"hosts not settled: {unsettled} ({context})"
        # The cloud's own view: it never made an instance beyond the batch (not even one destroyed since),
        # and what runs there is exactly what DCP has as ready.
        made = cloud.inventory()
        live = {instance for instance, state in made.items() if state in ("pending", "running")}
        assert len(made) == HOSTS, f"the cloud made {len(made)} instances for {HOSTS} hosts ({context})"
        assert live == set(ready), (
            f"orphans: {sorted(live - set(ready))}, missing: {sorted(set(ready) - live)} ({context})"
        )
        # Kills end tasks silently; a task that raised (a deadlock, a bug) is work done wrong or not at all.
        raised = [
            line for w in workers for line in w.log_path.read_text(errors="replace").splitlines() if RAISED in line
        ]
        assert not raised, f"tasks failed: {raised[:3]} ({context})"
        print(f"{cloud.kind} run {run}: converged; {context}")  # shown with -rP: where the kills landed
    finally:
        workers[-1].stop()
        cloud.set_faults()
