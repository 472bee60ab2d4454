"""dcp job list|show|watch against a live server: the API's jobs, and how watching looks on a terminal and off one."""

import json

import pytest
from django.utils import timezone

from apps.inventory.models import Host
from apps.provisioning.models import Job, JobEvent
from tests.conftest import client_for

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def jobs(demo):
    """A scale-out of demo/web that ended with its one host ready (with its timeline), and one still running."""
    done = Job.objects.create(
        pool=demo.pool,
        kind="scale_out",
        status="succeeded",
        delta=1,
        desired_before=0,
        desired_after=1,
        requested_by=demo.developer,
    )
    host = Host.objects.create(
        pool=demo.pool,
        provider=demo.template.provider,
        template=demo.template,
        job=done,
        hostname="web-watched-1",
        status="ready",
        ready_at=timezone.now(),
    )
    for kind, message in (("requested", "scripter asked for +1"), ("ready", "web-watched-1 ready after 41 s")):
        JobEvent.objects.create(job=done, host=host, kind=kind, message=message)
    running = Job.objects.create(
        pool=demo.pool, kind="scale_out", status="running", delta=2, desired_before=1, desired_after=3
    )
    return done, running


def test_job_list_and_show_are_the_apis(dcp, demo, jobs):
    """list (newest first, filtered by pool name and status) and show are the API's objects; show's table lists
    the job's timeline."""
    done, running = jobs
    api = client_for(demo.developer)
    listed = dcp.json("job", "list", "--pool", "demo/web")
    assert listed == api.get("/api/v1/jobs/", {"pool": demo.pool.pk, "ordering": "-id"}).json()["results"]
    assert [job["id"] for job in listed] == [running.pk, done.pk]
    ended = dcp("job", "list", "--pool", "demo/web", "--status", "succeeded", "-o", "value", "-c", "id")
    assert ended.returncode == 0 and ended.stdout.split() == [str(done.pk)]
    assert dcp.json("job", "show", str(done.pk)) == api.get(f"/api/v1/jobs/{done.pk}/").json()
    table = dcp("job", "show", str(done.pk))
    assert table.returncode == 0 and "web-watched-1 ready after 41 s" in table.stdout and "succeeded" in table.stdout


def test_watch_draws_a_bar_on_a_terminal_and_plain_lines_off_one(dcp, jobs):
    """On a terminal, a progress bar (1/1) redrawn in place; in a pipe or log, one plain line per change. Either
    way stdout is the job as it ended, and the exit code is its status's."""
    done, _ = jobs
    piped = dcp("job", "watch", str(done.pk), "-o", "json")
    assert piped.returncode == 0, piped.stderr
    assert json.loads(piped.stdout)["status"] == "succeeded"
    assert f"job {done.pk} succeeded: 1/1 ready, 0 failed" in piped.stderr
    assert "━" not in piped.stderr and "\x1b[" not in piped.stderr, "no bar, no terminal codes in a pipe"

    drawn = dcp("job", "watch", str(done.pk), "-o", "json", tty=True)
    assert drawn.returncode == 0, drawn.stderr
    assert json.loads(drawn.stdout)["status"] == "succeeded"
    assert "━" in drawn.stderr and "1/1" in drawn.stderr and f"job {done.pk} succeeded" in drawn.stderr
    assert "1/1 ready, 0 failed" not in drawn.stderr, "the bar, not the plain line"
    assert "ready after 41 s" in drawn.stderr, "the timeline's events are printed above the bar"


def test_cancelling_an_ended_job_exits_1_as_its_help_says(dcp, jobs):
    """The API's 409 for a job that has ended is an error (1), not a refusal (6); `--help` says the same."""
    done, _ = jobs
    again = dcp("job", "cancel", str(done.pk))
    assert again.returncode == 1 and "nothing to cancel" in again.stderr
    assert "A job that has ended: exit 1." in " ".join(dcp("job", "cancel", "--help").stdout.split())
