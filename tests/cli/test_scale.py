"""dcp pool scale against a real worker and the EC2 emulator: the job, the hosts, idempotency, dry runs, timeouts."""

import json
import re
import time
from datetime import UTC, datetime

import pytest

from apps.inventory.choices import HostStatus
from apps.inventory.models import Host, ServicePool
from apps.provisioning.models import Job
from tests.conftest import client_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def printed_key(stderr: str) -> str:
    """The Idempotency-Key the CLI says it sent."""
    return re.search(r"^Idempotency-Key: (\S+)$", stderr, re.MULTILINE)[1]


def test_scale_wait_ends_with_the_job_succeeded_and_its_hosts_ready(worker, dcp, demo, aws_emulator):
    """--wait -o json prints the job as it ended; the API then lists its ready hosts, the emulator runs them."""
    done = dcp(
        "pool", "scale", "demo/web", "--delta", "2", "--wait", "--timeout", "120", "--interval", "0.5", "-o", "json"
    )
    assert done.returncode == 0, (done.stdout, done.stderr)
    job = json.loads(done.stdout)
    assert job["status"] == "succeeded" and job["progress"]["ready"] == 2 and job["pool"] == demo.pool.pk
    assert job["events"] and job["finished_at"]
    # Off a terminal, progress is plain lines on stderr: the job's status as it changed, ending succeeded.
    assert f"job {job['id']} succeeded: 2/2 ready, 0 failed" in done.stderr
    assert printed_key(done.stderr) == job["idempotency_key"]

    hosts = dcp.json("host", "list", "--pool", "demo/web", "--status", "ready")
    assert len(hosts) == 2 and {host["job"] for host in hosts} == {job["id"]}
    api_hosts = client_for(demo.developer).get("/api/v1/hosts/", {"pool": demo.pool.pk, "status": "ready"}).json()
    # What accrues by the second (cost, unpriced hours) moves between the two reads; the rest is the API's.
    moving = ("cost", "unpriced_hours", "updated_at")
    assert [{k: v for k, v in host.items() if k not in moving} for host in hosts] == [
        {k: v for k, v in host.items() if k not in moving} for host in api_hosts["results"]
    ]
    running = {i for i, state in aws_emulator.inventory().items() if state == "running"}
    assert {host["instance_id"] for host in hosts} == running

    # One host removed by hostname: the job ends succeeded and that host is terminated.
    gone = hosts[0]["hostname"]
    done = dcp(
        "pool", "scale", "web", "--remove", gone, "--wait", "--timeout", "120", "--interval", "0.5", "-o", "json"
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["kind"] == "scale_in"
    assert Host.objects.get(hostname=gone).status == HostStatus.TERMINATED


def test_a_retried_line_does_not_scale_twice(dcp, demo):
    """The same command within the minute, or the same --idempotency-key, answers the same job."""
    if datetime.now(UTC).second >= 45:  # both runs must fall in one minute: the default key includes it
        time.sleep(61 - datetime.now(UTC).second)
    first = dcp("pool", "scale", "demo/web", "--delta", "1", "-o", "json")
    again = dcp("pool", "scale", "demo/web", "--delta", "1", "-o", "json")
    assert first.returncode == again.returncode == 0, (first.stderr, again.stderr)
    assert printed_key(first.stderr) == printed_key(again.stderr)
    assert json.loads(first.stdout)["id"] == json.loads(again.stdout)["id"]
    assert "already made by a request with this key" in again.stderr
    assert ServicePool.objects.get(pk=demo.pool.pk).desired_size == 1
    assert Job.objects.filter(pool=demo.pool).count() == 1

    named = [
        dcp("pool", "scale", "demo/web", "--to", "3", "--idempotency-key", "deploy-42", "-o", "json") for _ in "ab"
    ]
    assert [json.loads(run.stdout)["id"] for run in named] == [json.loads(named[0].stdout)["id"]] * 2
    assert ServicePool.objects.get(pk=demo.pool.pk).desired_size == 3
    # The same key for another request is a conflict (exit 1) with the API's message.
    reused = dcp("pool", "scale", "demo/web", "--to", "5", "--idempotency-key", "deploy-42")
    assert reused.returncode == 1 and "already used for a different request" in reused.stderr
    assert ServicePool.objects.get(pk=demo.pool.pk).desired_size == 3


def test_dry_run_prints_the_plan_and_its_cost_and_changes_nothing(dcp, demo):
    """Table: placements and a cost table; JSON: the API's dry-run object."""
    done = dcp("pool", "scale", "demo/web", "--delta", "3", "--dry-run")
    assert done.returncode == 0, done.stderr
    assert "aws-tpl" in done.stdout and "Cost (USD)" in done.stdout and "0 → 3" in done.stdout
    plan = dcp.json("pool", "scale", "demo/web", "--delta", "3", "--dry-run")
    assert plan["dry_run"] is True and plan["desired_after"] == 3
    assert sum(p["count"] for p in plan["plan"]["placements"]) == 3
    assert plan["plan"]["cost"]["templates"][0]["hosts"] == 3
    assert ServicePool.objects.get(pk=demo.pool.pk).desired_size == 0
    assert not Job.objects.exists()
    assert "Idempotency-Key" not in done.stderr


def test_wait_timeout_exits_3_and_the_job_goes_on_until_cancelled(worker, dcp, demo, aws_emulator):
    """Instances that boot for a minute: --timeout 2 gives up with exit 3; cancel then stops the job."""
    aws_emulator.set_faults(boot_seconds=60)
    try:
        started = time.monotonic()
        done = dcp("pool", "scale", "demo/web", "--delta", "1", "--wait", "--timeout", "2", "--interval", "0.5")
        assert done.returncode == 3, (done.stdout, done.stderr)
        assert time.monotonic() - started < 30
        job_id = int(re.search(r"Job (\d+) is still", done.stderr)[1])
        assert "dcp job watch" in done.stderr
        assert Job.objects.get(pk=job_id).status in ("pending", "running")

        cancelled = dcp.json("job", "cancel", str(job_id))
        assert cancelled["id"] == job_id and cancelled["status"] == "cancelled"
        watched = dcp("job", "watch", str(job_id), "--timeout", "10", "-o", "json")
        assert watched.returncode == 5 and json.loads(watched.stdout)["status"] == "cancelled"
        again = dcp("job", "cancel", str(job_id))
        assert again.returncode == 1 and "nothing to cancel" in again.stderr
    finally:
        aws_emulator.set_faults()


def test_a_failed_job_exits_5_with_its_message(worker, dcp, demo):
    """An image EC2 does not have: the job fails, --wait prints it as it ended and exits 5 saying why."""
    demo.template.image = "ami-00000000deadbeef"
    demo.template.save(update_fields=["image"])
    done = dcp(
        "pool", "scale", "demo/web", "--delta", "1", "--wait", "--timeout", "120", "--interval", "0.5", "-o", "json"
    )
    assert done.returncode == 5, (done.stdout, done.stderr)
    job = json.loads(done.stdout)
    assert job["status"] == "failed" and job["message"]
    assert f"Error: Job {job['id']} ended failed: {job['message']}" in done.stderr
