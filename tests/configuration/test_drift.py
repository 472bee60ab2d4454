"""Drift checks and re-runs as jobs, for real: a real worker runs Ansible --check --diff and Puppet --noop on real
test hosts (network namespaces, sshd) that were initialized first, and everything is read where a user reads it:
the job and the host through the API, and the hosts' own files, services, packages and kernel settings.

Nothing is mocked; see tests/hosts/README.md for the hosts.
"""

import base64
import json

import pytest

from apps.configuration.choices import InitStatus
from apps.configuration.models import InitRun
from apps.inventory.choices import HostStatus
from apps.inventory.models import Host, ServicePool
from tests.configuration.conftest import PASSWORD, base_vars, hosts_for, start_hosts
from tests.conftest import wait_for

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

#: Files the base state owns, read back before and after a check.
MANAGED_FILES = (
    "/etc/chrony/chrony.conf",
    "/etc/default/chrony",
    "/etc/sysctl.d/90-dcp.conf",
    "/etc/docker/daemon.json",
    "/root/.docker/config.json",
)
#: What each method names the two resources changed by hand.
CHANGED_BY_HAND = {
    "ansible": ["dcp_docker : Write /etc/docker/daemon.json", "dcp_sysctl : Apply the kernel settings"],
    "puppet": ["Dcp_sysctl_key[net.core.somaxconn] value", "File[/etc/docker/daemon.json] content"],
}
#: Processes of the SSH sessions that read the host (and of the check's own connection), not services.
SESSION_PROCESSES = {"ps", "sshd", "sh", "bash", "python3", "sleep", "sftp-server"}
HAND_MIRROR = "http://by-hand.example.test:5000"


@pytest.fixture(scope="module")
def drift_hosts():
    """Two real hosts: one initialized with Ansible, one with Puppet."""
    hosts = start_hosts(2, "drift")
    yield hosts
    hosts.close()


def ready_host(drift_hosts, index: int, method: str, cluster):
    """The test host as a ready host of its own pool in `cluster`, on a template initialized with `method`.

    Not initialized yet: its first initialization is a job like any re-run.
    """
    machine = drift_hosts.hosts[index]
    host = hosts_for(drift_hosts, [machine], method=method, init_vars=base_vars(drift_hosts))[0]
    # The pool wants this one host, so the worker's reconciler keeps it.
    ServicePool.objects.filter(pk=host.pool_id).update(cluster=cluster, desired_size=1, max_size=1)
    Host.objects.filter(pk=host.pk).update(status=HostStatus.READY)
    return host, machine


def snapshot(machine) -> dict:
    """What a check must not change: the managed files (content, mode, mtime), processes, packages, sysctls."""
    stat = machine.run(["stat", "-c", "%n %a %Y %s", *MANAGED_FILES]).stdout
    return {
        "files": {path: machine.read_file(path) for path in MANAGED_FILES},
        "stat": stat,
        "services": sorted(set(machine.run(["ps", "-e", "-o", "comm="]).stdout.split()) - SESSION_PROCESSES),
        "enabled": machine.run(["ls", "/etc/rc2.d"]).stdout,
        "packages": machine.run(["dpkg-query", "-W", "-f", "${Package} ${Version} ${Status}\n"]).stdout,
        "sysctl": machine.run(["sysctl", "net.core.somaxconn", "net.ipv4.ip_local_port_range"]).stdout,
    }


def run_jobs(client, requests: list[tuple[str, dict]]) -> list[dict]:
    """POST initialize requests at once (the worker runs them side by side), then poll each job until it ends."""
    started = []
    for path, body in requests:
        answer = client.post(path, body, format="json")
        assert answer.status_code == 202, answer.content
        assert answer["Location"] == f"/api/v1/jobs/{answer.json()['id']}/"
        started.append(answer.json()["id"])

    def ended(job_id: int) -> bool:
        return client.get(f"/api/v1/jobs/{job_id}/").json()["status"] not in ("pending", "running")

    wait_for(lambda: all(ended(job_id) for job_id in started), timeout=900, interval=1, message="the jobs")
    return [client.get(f"/api/v1/jobs/{job_id}/").json() for job_id in started]


def outputs(job: dict) -> str:
    """The job's runs' messages and the end of their output, for a failure's message."""
    runs = InitRun.objects.filter(job_id=job["id"])
    return "\n".join(f"{run.status}: {run.message}\n{run.output[-4000:]}\n{run.changes}" for run in runs)


def drift_of(client, host) -> dict:
    """The host's drift as the API shows it."""
    return client.get(f"/api/v1/hosts/{host.pk}/").json()["drift"]


def change_by_hand(machine) -> None:
    """What an operator might do on a host: a kernel setting, Docker's daemon.json, another registry login."""
    machine.run(["sysctl", "-w", "net.core.somaxconn=1111"], check=True)
    daemon = json.loads(machine.read_file("/etc/docker/daemon.json"))
    daemon["registry-mirrors"] = [HAND_MIRROR]
    machine.run(["sh", "-c", f"cat > /etc/docker/daemon.json <<'EOF'\n{json.dumps(daemon)}\nEOF"], check=True)
    config = json.loads(machine.read_file("/root/.docker/config.json"))
    for entry in config["auths"].values():
        entry["auth"] = base64.b64encode(b"someone:else").decode()
    machine.run(["sh", "-c", f"cat > /root/.docker/config.json <<'EOF'\n{json.dumps(config)}\nEOF"], check=True)


@pytest.mark.parametrize(("method", "index"), [("ansible", 0), ("puppet", 1)])
def test_drift_check_finds_what_was_changed_by_hand_and_reinitialization_restores_it(
    worker, drift_hosts, cluster, clients, method, index
):
    """In base state no drift and nothing changed; changed by hand exactly those (a credential among them reported,
    never shown); a re-initialization of the drifted host restores them; (Ansible) a check cancelled while it runs
    stops."""
    hosts = [ready_host(drift_hosts, index, method, cluster)]
    methods = (method,)
    developer = clients["developer"]

    def on_each(body: dict, where: str = "hosts") -> list[dict]:
        paths = [
            f"/api/v1/hosts/{h.pk}/initialize/" if where == "hosts" else f"/api/v1/pools/{h.pool_id}/initialize/"
            for h, _ in hosts
        ]
        return run_jobs(developer, [(path, body) for path in paths])

    for job in on_each({}):
        assert job["kind"] == "initialize" and job["status"] == "succeeded", outputs(job)
    before = [snapshot(machine) for _, machine in hosts]

    for job, (host, machine), snap in zip(on_each({"check": True}), hosts, before, strict=True):
        assert job["kind"] == "check" and job["status"] == "succeeded", outputs(job)
        assert job["progress"] == {"total": 1, "ready": 1, "removed": 0, "failed": 0, "drifted": 0}, outputs(job)
        assert [step["kind"] for step in job["hosts"][0]["steps"]] == ["requested", "running", "checked"], job
        drift = drift_of(developer, host)
        assert drift["state"] == "in_sync" and drift["summary"] == [] and drift["checked_at"], drift
        assert snapshot(machine) == snap

    # Changed by hand: a kernel setting, Docker's daemon.json, and the registry credential in config.json (which
    # is reported as a difference, never shown).
    for _, machine in hosts:
        change_by_hand(machine)
    changed = [snapshot(machine) for _, machine in hosts]
    secrets = (PASSWORD, base64.b64encode(f"puller:{PASSWORD}".encode()).decode(), "someone:else", "c29tZW9uZTplbHNl")
    for job, (host, machine), method, snap in zip(
        on_each({"check": True}, "pools"), hosts, methods, changed, strict=True
    ):
        assert job["status"] == "succeeded" and job["progress"]["drifted"] == 1, outputs(job)
        drift = drift_of(developer, host)
        assert drift["state"] == "drifted"
        credential = [item for item in drift["summary"] if "/root/.docker/config.json" in item["resource"]]
        assert len(credential) == 1, drift
        others = sorted(item["resource"] for item in drift["summary"] if item not in credential)
        assert others == CHANGED_BY_HAND[method], drift
        diffs = "\n".join(item["diff"] for item in drift["summary"])
        assert "1111" in diffs and HAND_MIRROR in diffs, diffs
        assert snapshot(machine) == snap  # a check repairs nothing
        listed = developer.get("/api/v1/hosts/", {"drifted": "true", "pool": host.pool_id}).json()["results"]
        assert [h["id"] for h in listed] == [host.pk]
        seen = [
            json.dumps(job),
            json.dumps(drift),
            developer.get("/api/v1/init-runs/", {"host": host.pk}).content.decode(),
            json.dumps(list(InitRun.objects.values("output", "message", "changes"))),
        ]
        for text in seen:
            for secret in secrets:
                assert secret not in text

    for job, (host, machine), snap in zip(on_each({"drifted": True}, "pools"), hosts, before, strict=True):
        assert job["kind"] == "initialize" and job["status"] == "succeeded", outputs(job)
        restored = snapshot(machine)
        assert restored["files"] == snap["files"] and restored["sysctl"] == snap["sysctl"]
        assert drift_of(developer, host)["state"] == "in_sync"
        assert developer.get("/api/v1/hosts/", {"drifted": "true", "pool": host.pool_id}).json()["count"] == 0

    if method != "ansible":
        return
    # Cancelled while it runs: the run stops at its next step and the job ends cancelled.
    host = hosts[0][0]
    job = developer.post(f"/api/v1/hosts/{host.pk}/initialize/", {"check": True}, format="json").json()
    wait_for(lambda: developer.get(f"/api/v1/jobs/{job['id']}/").json()["status"] == "running", message="running")
    assert developer.post(f"/api/v1/jobs/{job['id']}/cancel/").json()["status"] == "cancelled"
    run = InitRun.objects.filter(job_id=job["id"])
    wait_for(lambda: run.get().status != InitStatus.RUNNING, timeout=60, message="the cancelled run to stop")
    assert run.get().status == InitStatus.FAILED and "cancel" in run.get().message, run.get().message
    ended = developer.get(f"/api/v1/jobs/{job['id']}/").json()
    assert ended["status"] == "cancelled" and ended["progress"]["failed"] == 1
