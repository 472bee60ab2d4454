"""A scheduled occurrence runs exactly once with two Celery beats sending its tick and the worker killed.

Real processes: the session's Celery worker (SIGKILLed between two occurrences, with the beats' ticks
piling up in the broker meanwhile, then started again) and two Celery beat processes, each sending
``run_schedules`` every second as two beats would in a botched deployment. The result is read in the
API: each schedule's occurrences and the pool's desired size.
"""

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.provisioning.models import Job
from tests.conftest import ROOT, wait_for
from tests.factories import MachineFactory, PoolFactory, TemplateFactory, with_template
from tests.scaling.conftest import as_user

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def two_beats(worker, tmp_path):
    """Two celery beat processes, each with its own schedule file, ticking run_schedules every second."""
    env = {**worker.env, "DCP_SCHEDULE_INTERVAL": "1"}
    processes = []
    for number in (1, 2):
        log_path = tmp_path / f"beat{number}.log"
        with open(log_path, "ab") as log:
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "celery", "-A", "dcp", "beat", "--loglevel", "INFO"]
                    + ["--schedule", str(tmp_path / f"beat{number}-schedule")],
                    cwd=ROOT,
                    env=env,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
        wait_for(lambda path=log_path: b"beat: Starting" in path.read_bytes(), timeout=60, message="beat to start")
    yield [tmp_path / f"beat{number}.log" for number in (1, 2)]
    for process in processes:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def occurrence_rows(client, schedule_id: int) -> list[dict]:
    return client.get(f"/api/v1/scaling-occurrences/?schedule={schedule_id}").json()["results"]


def test_each_occurrence_runs_once_under_two_beats_and_a_killed_worker(worker, two_beats, users, cluster):
    """+2 at T1, the worker killed, +1 at T2 while it is down (its ticks queue up), the worker back: each
    occurrence recorded once, two jobs, desired size 3, however many ticks the two beats sent."""
    template = TemplateFactory()
    MachineFactory.create_batch(3, provider=template.provider)
    pool = with_template(PoolFactory(cluster=cluster, desired_size=0, max_size=10), template)
    admin = as_user(users["admin"])

    def schedule(name: str, delta: int, seconds: float) -> int:
        run_at = (timezone.now() + timedelta(seconds=seconds)).isoformat()
        body = {"pool": pool.pk, "name": name, "delta": delta, "run_at": run_at, "grace_seconds": 120}
        answer = admin.post("/api/v1/scaling-schedules/", body, format="json")
        assert answer.status_code == 201, answer.content
        return answer.json()["id"]

    first = schedule("first", 2, 2)
    wait_for(lambda: occurrence_rows(admin, first), timeout=30, message="the first occurrence")
    worker.stop(signal.SIGKILL)
    second = schedule("second", 1, 1)
    time.sleep(4)  # due while no worker runs: the beats' ticks wait in the broker
    worker.start()
    wait_for(lambda: occurrence_rows(admin, second), timeout=30, message="the second occurrence")
    time.sleep(3)  # more ticks from both beats, each finding nothing left to run

    for schedule_id in (first, second):
        rows = occurrence_rows(admin, schedule_id)
        assert [(row["kind"], row["status"]) for row in rows] == [("start", "scaled")], rows
    assert Job.objects.filter(pool=pool, trigger__startswith="schedule ").count() == 2
    assert admin.get(f"/api/v1/pools/{pool.pk}/").json()["desired_size"] == 3
    # Both beats really ticked, several times each over the run.
    for log_path in two_beats:
        assert log_path.read_bytes().count(b"Sending due task run-scaling-schedules") >= 5
