"""Re-runs and drift checks as jobs, through the API: who may start and cancel them, their progress and timeline,
the drift a host shows and its filter, a pool's drift check schedule (once, however many schedulers ask), and
how a check's report is read (Ansible diffs, Puppet's no-op report) with secrets kept out.

The runs themselves are carried out on real hosts in test_drift.py; here a finished run is recorded through the
same service a runner's result goes through (services.record), so no host is needed.
"""

import base64
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from apps.configuration import drift, jobs, services
from apps.configuration.choices import InitStatus
from apps.configuration.models import InitRun
from apps.configuration.results import HostLog, InitResult
from apps.inventory.models import ServicePool
from apps.provisioning.choices import JobKind
from apps.provisioning.models import Job
from tests.factories import MachineFactory, PoolFactory, TemplateFactory, ready_hosts, with_template


@pytest.fixture
def two_hosts(cluster):
    """Two ready hosts of a pool in `cluster`, on a template initialized with Puppet."""
    template = TemplateFactory(init_method="puppet")
    pool = with_template(PoolFactory(cluster=cluster, desired_size=2, max_size=2), template)
    return ready_hosts(pool, template, [MachineFactory(provider=template.provider) for _ in range(2)])


def finish_runs(job_id: int, results: dict) -> None:
    """Record a result per host on the job's runs (as the worker does after its runner), then end the job."""
    for run in InitRun.objects.select_related("host").filter(job_id=job_id):
        services.record(run, results[run.host_id])
    jobs.finish(job_id)


@pytest.mark.django_db
def test_check_job_permissions_progress_timeline_and_drift(clients, two_hosts, django_capture_on_commit_callbacks):
    """Guests are refused, outsiders told nothing; a developer's check is a job whose progress counts the hosts
    checked and drifted, whose timeline has each host's steps, and whose findings show on the hosts."""
    first, second = two_hosts
    pool_path = f"/api/v1/pools/{first.pool_id}/initialize/"
    assert clients["guest"].post(pool_path, {"check": True}, format="json").status_code == 403
    assert clients["outsider"].post(pool_path, {"check": True}, format="json").status_code == 404
    assert clients["outsider"].post(f"/api/v1/hosts/{first.pk}/initialize/").status_code == 404
    assert not Job.objects.exists()

    with django_capture_on_commit_callbacks(execute=False) as queued:
        answer = clients["developer"].post(pool_path, {"check": True}, format="json")
    assert answer.status_code == 202, answer.content
    job = answer.json()
    assert (job["kind"], job["status"], job["delta"], len(queued)) == ("check", "pending", 0, 1)
    assert [run["check"] for run in job["runs"]] == [True, True] and job["skipped"] == []
    assert clients["outsider"].get(f"/api/v1/jobs/{job['id']}/").status_code == 404

    changes = ({"resource": "File[/etc/docker/daemon.json] content", "diff": "-a\n+b"},)
    finish_runs(
        job["id"],
        {first.pk: InitResult(status=InitStatus.OK), second.pk: InitResult(status=InitStatus.CHANGED, changes=changes)},
    )
    job = clients["guest"].get(f"/api/v1/jobs/{job['id']}/").json()
    assert job["status"] == "succeeded" and "1 drifted, 1 in base state" in job["message"]
    assert job["progress"] == {"total": 2, "ready": 2, "removed": 0, "failed": 0, "drifted": 1}
    assert [[s["kind"] for s in h["steps"]] for h in job["hosts"]] == [["requested", "running", "checked"]] * 2
    assert all(h["total_seconds"] is not None for h in job["hosts"])

    drifted = clients["guest"].get("/api/v1/hosts/", {"drifted": "true"}).json()["results"]
    assert [h["id"] for h in drifted] == [second.pk] and drifted[0]["drift"]["summary"] == list(changes)
    in_sync = clients["guest"].get(f"/api/v1/hosts/{first.pk}/").json()["drift"]
    assert in_sync["state"] == "in_sync" and in_sync["checked_at"]
    assert clients["outsider"].get("/api/v1/hosts/", {"drifted": "true"}).json()["count"] == 0
    listed = clients["guest"].get("/api/v1/jobs/", {"kind": "check"}).json()["results"]
    assert [j["progress"]["drifted"] for j in listed] == [1]

    # Re-initialize only what drifted: one host runs, the other is skipped saying why.
    with django_capture_on_commit_callbacks(execute=False):
        again = clients["developer"].post(pool_path, {"drifted": True}, format="json").json()
    assert again["kind"] == "initialize" and [run["host"] for run in again["runs"]] == [second.pk]
    assert again["skipped"] == [{"host": first.pk, "reason": "not drifted"}]
    finish_runs(again["id"], {second.pk: InitResult(status=InitStatus.CHANGED)})
    assert clients["guest"].get(f"/api/v1/hosts/{second.pk}/").json()["drift"]["state"] == "in_sync"
    assert clients["guest"].get(f"/api/v1/jobs/{again['id']}/").json()["status"] == "succeeded"


@pytest.mark.django_db
def test_cancel_a_pending_check_and_refusals(clients, two_hosts, django_capture_on_commit_callbacks):
    """A guest may not cancel; a developer's cancel ends the job and its runs at once; the worker then runs nothing."""
    with django_capture_on_commit_callbacks(execute=False):
        job = clients["developer"].post(f"/api/v1/hosts/{two_hosts[0].pk}/initialize/", {"check": True}, format="json")
        job = job.json()
    cancel = f"/api/v1/jobs/{job['id']}/cancel/"
    assert clients["guest"].post(cancel).status_code == 403
    assert clients["outsider"].post(cancel).status_code == 404
    answer = clients["developer"].post(cancel)
    assert answer.status_code == 200 and answer.json()["status"] == "cancelled"
    assert answer.json()["progress"] == {"total": 1, "ready": 0, "removed": 0, "failed": 1, "drifted": 0}
    run = InitRun.objects.get()
    assert run.status == InitStatus.FAILED and "cancelled" in run.message
    jobs.carry_out(job["id"])  # what the worker does with the queued task: nothing left to run
    assert InitRun.objects.get().finished_at == run.finished_at
    assert clients["developer"].post(cancel).status_code == 409
    assert ServicePool.objects.get(pk=two_hosts[0].pool_id).desired_size == 2  # no pool size changed


@pytest.mark.django_db
def test_bad_requests_change_nothing(clients, two_hosts):
    """An unknown field, a wrong type, or no host that can be re-run: a 400 naming it, and no job."""
    path = f"/api/v1/pools/{two_hosts[0].pool_id}/initialize/"
    assert "chek" in clients["developer"].post(path, {"chek": True}, format="json").json()
    assert "check" in clients["developer"].post(path, {"check": "maybe"}, format="json").json()
    refused = clients["developer"].post(path, {"drifted": True}, format="json")
    assert refused.status_code == 400 and "drifted ready hosts" in refused.json()["hosts"][0]
    assert not Job.objects.exists() and not InitRun.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_schedule_starts_one_check_per_interval_however_many_schedulers_ask(two_hosts):
    """Off by default; once due, two schedulers at the same moment start one check job; not again until due."""
    pool = ServicePool.objects.get(pk=two_hosts[0].pool_id)
    assert pool.drift_check_interval is None and jobs.due_pools() == []
    pool.drift_check_interval = 6
    pool.save()
    assert jobs.due_pools() == [pool.pk]

    barrier = threading.Barrier(2)

    def scheduler():
        try:
            barrier.wait()
            jobs.start_scheduled(pool.pk)
        finally:
            connection.close()

    threads = [threading.Thread(target=scheduler) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    checks = Job.objects.filter(pool=pool, kind=JobKind.CHECK)
    assert checks.count() == 1 and checks.get().requested_by is None
    assert InitRun.objects.filter(drift_check=True).count() == 2
    assert jobs.due_pools() == []
    later = timezone.now() + timedelta(hours=6, minutes=1)
    assert jobs.due_pools(later) == [pool.pk]


def test_ansible_diffs_and_puppet_reports_are_read_without_secrets():
    """Each changed task or resource is a difference with its diff; credentials' files and no_log tasks are named,
    never shown; handlers are consequences, not differences; secrets in any form are replaced."""
    password = "s3cret-pass"  # noqa: S105 - a test secret
    log = HostLog()
    ok = {"event": "runner_on_ok", "event_data": {"role": "docker", "task": "Write /etc/docker/daemon.json"}}
    ok["event_data"]["res"] = {
        "changed": True,
        "diff": [{"before": '{"a": 1}\n', "after": '{"a": 2}\n', "before_header": "/etc/docker/daemon.json"}],
    }
    log.add(ok, 1.0)
    log.add({"event": "runner_on_ok", "event_data": {"task": "Restart docker", "res": {"changed": True}}}, 1.0, True)
    censored = {"role": "registry", "task": "Merge the login", "res": {"changed": True, "censored": "hidden"}}
    log.add({"event": "runner_on_ok", "event_data": censored}, 1.0)
    leak = {"changed": True, "diff": {"before": f"x {password}\n", "after": "y\n", "before_header": "/etc/x"}}
    log.add({"event": "runner_on_ok", "event_data": {"task": "Leaky", "res": leak}}, 1.0)
    log.stats({"ok": {"h1": 4}, "changed": {"h1": 4}}, "h1")
    result = log.result("successful", 60, drift.secret_forms({"p": password}, "puller"))
    assert [c["resource"] for c in result.changes] == [
        "docker : Write /etc/docker/daemon.json",
        "registry : Merge the login",
        "Leaky",
    ]
    assert '-{"a": 1}' in result.changes[0]["diff"] and '+{"a": 2}' in result.changes[0]["diff"]
    assert result.changes[1]["diff"] == drift.HIDDEN_TASK
    assert password not in result.changes[2]["diff"] and "********" in result.changes[2]["diff"]

    auth = base64.b64encode(f"puller:{password}".encode()).decode()
    report = "\n".join(
        [
            "Notice: Compiled catalog for h1 in environment production in 0.1 seconds",
            "Notice: /Stage[main]/Dcp_docker/File[/etc/docker/daemon.json]/content: ",
            "--- /etc/docker/daemon.json\t2026-12-05 08:00:00",
            "+++ /tmp/puppet-file20261205-1\t2026-12-05 08:00:01",
            "@@ -1 +1 @@",
            '-{"registry-mirrors": ["http://by-hand"]}',
            '+{"registry-mirrors": ["http://mirror"]}',
            "",
            "Notice: /Stage[main]/Dcp_docker/File[/etc/docker/daemon.json]/content: current_value '{sha256}aa', "
            "should be '{sha256}bb' (noop)",
            "Notice: /Stage[main]/Dcp_docker/Service[docker]: Would have triggered 'refresh' from 1 event",
            "Notice: /Stage[main]/Dcp_sysctl/Dcp_sysctl_key[net.core.somaxconn]/value: current_value '1111', "
            "should be '4096' (noop)",
            f"Notice: /Stage[main]/Dcp_registry/File[/root/.docker/config.json]/content: current_value '{auth}', "
            "should be '[redacted]' (noop)",
            "Notice: Class[Dcp_docker]: Would have triggered 'refresh' from 1 event",
            "Notice: Applied catalog in 1.00 seconds",
        ]
    )
    changes = drift.task_changes("puppet_apply : Run puppet apply", {"changed": True, "stdout": report})
    assert [c["resource"] for c in changes] == [
        "File[/etc/docker/daemon.json] content",
        "Dcp_sysctl_key[net.core.somaxconn] value",
        "File[/root/.docker/config.json] content",
    ]
    assert '+{"registry-mirrors": ["http://mirror"]}' in changes[0]["diff"]
    assert changes[1]["diff"] == "- 1111\n+ 4096"
    assert changes[2]["diff"] == drift.HIDDEN_CONTENT and auth not in str(changes)
