"""End to end: a real scale on the EC2 emulator with a real worker, then /metrics scraped from a live
server over HTTP and parsed with prometheus_client's parser: its numbers are the API's.

The worker of this module writes JSON log lines (DCP_LOG_FORMAT=json): each parses, carries the ids of
its task, and the request id of the scale request that caused it; no credential or token is in any log.
"""

import json
import logging
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from apps.providers.models import MachineTemplate
from emulators.aws import AwsEmulator
from tests.conftest import Worker, client_for, wait_for
from tests.factories import PoolFactory, with_template
from tests.monitoring.names import check_queries_use_exposed_names
from tests.providers.harnesses.aws import IMAGE, INSTANCE_TYPE, REGION

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]
METRICS_TOKEN = "scrape-token-" + "t" * 24
REQUEST_ID = "scale-metrics-e2e-0001"


@pytest.fixture(scope="module")
def json_worker(only_our_workers, tmp_path_factory):
    """This module's worker, writing its logs as JSON lines."""
    process = Worker({**only_our_workers, "DCP_LOG_FORMAT": "json"}, tmp_path_factory.mktemp("json") / "worker.log")
    process.start()
    yield process
    process.stop()


def exposition(live_server) -> str:
    """GET /metrics from the live server with the metrics token: the text Prometheus would read."""
    request = urllib.request.Request(f"{live_server.url}/metrics")  # noqa: S310 - the loopback live server
    request.add_header("Authorization", f"Bearer {METRICS_TOKEN}")
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 - the loopback live server
        assert answer.status == 200
        return answer.read().decode()


def scrape(live_server) -> dict[tuple, float]:
    """The live server's samples by (name, sorted labels)."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(exposition(live_server))
        for sample in family.samples
    }


def one(found: dict, name: str, /, **labels) -> float:
    """The value of the sample of name with exactly these labels (0 when it is absent)."""
    return found.get((name, tuple(sorted((key, str(value)) for key, value in labels.items()))), 0)


def finished(client, job_id):
    """The job's body once it has ended."""
    body = client.get(f"/api/v1/jobs/{job_id}/").json()
    return body if body["status"] not in ("pending", "running") else None


def scale(client, pool, delta: int, **headers) -> dict:
    """Scale through the API and wait for the job to end; its final body."""
    answer = client.post(f"/api/v1/pools/{pool.pk}/scale/", {"delta": delta}, format="json", **headers)
    assert answer.status_code == 202, answer.content
    return wait_for(lambda: finished(client, answer.json()["id"]), timeout=120, message="the job to end")


def test_scrape_after_real_scale(settings, live_server, json_worker, aws_emulator, users, cluster, sysadmin, caplog):
    """Scale +3 (succeeds), then +2 past the account's instance quota (fails): /metrics says what the API says."""
    settings.DCP_METRICS_TOKEN = METRICS_TOKEN
    caplog.set_level(logging.INFO)
    aws_emulator.reset()
    admin = client_for(sysadmin)
    created = admin.post(
        "/api/v1/providers/",
        {
            "name": "aws-metrics",
            "kind": "aws",
            "region": REGION,
            "endpoint_url": aws_emulator.url,
            "credentials": {
                "access_key_id": AwsEmulator.ACCESS_KEY_ID,
                "secret_access_key": AwsEmulator.SECRET_ACCESS_KEY,
            },
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    provider = created.json()["id"]
    template = MachineTemplate.objects.create(
        name="aws-metrics-tpl",
        provider_id=provider,
        region=REGION,
        zone="us-east-1a",
        instance_type=INSTANCE_TYPE,
        image=IMAGE,
    )
    pool = with_template(PoolFactory(cluster=cluster, name="metrics-pool", max_size=10), template)
    developer = client_for(users["developer"])

    answer = developer.post(
        f"/api/v1/pools/{pool.pk}/scale/", {"delta": 3}, format="json", HTTP_X_REQUEST_ID=REQUEST_ID
    )
    assert answer.status_code == 202, answer.content
    assert answer["X-Request-ID"] == REQUEST_ID
    job = wait_for(lambda: finished(developer, answer.json()["id"]), timeout=120, message="the scale-out to end")
    assert job["status"] == "succeeded", job

    found = scrape(live_server)
    names = {"cluster": cluster.name, "pool": pool.name}
    on_provider = {**names, "provider": "aws-metrics"}
    ready = developer.get("/api/v1/hosts/", {"pool": pool.pk, "status": "ready"}).json()["count"]
    assert ready == 3
    assert one(found, "dcp_hosts", status="ready", **on_provider) == ready
    pool_body = developer.get(f"/api/v1/pools/{pool.pk}/").json()
    assert one(found, "dcp_pool_desired_hosts", **names) == pool_body["desired_size"] == 3
    assert one(found, "dcp_pool_ready_hosts", **names) == pool_body["ready"] == 3
    assert one(found, "dcp_pool_below_desired_seconds", **names) == 0
    succeeded = admin.get("/api/v1/jobs/", {"status": "succeeded", "kind": "scale_out"}).json()["count"]
    assert one(found, "dcp_jobs", kind="scale_out", status="succeeded") == succeeded == 1
    assert one(found, "dcp_scale_out_duration_seconds_count", status="succeeded") == succeeded
    # One time-to-ready observation per host, under its template; each provider call the emulator received.
    on_template = {"provider": "aws-metrics", "kind": "aws", "template": template.name}
    assert one(found, "dcp_host_ready_duration_seconds_count", **on_template) == ready
    assert one(found, "dcp_host_ready_duration_seconds_bucket", le="+Inf", **on_template) == ready
    received = aws_emulator.calls()
    calls = {"provider": "aws-metrics", "kind": "aws"}
    assert one(found, "dcp_provider_api_calls_total", operation="create_nodes", **calls) == received["RunInstances"]
    made = sum(value for (name, _), value in found.items() if name == "dcp_provider_api_calls_total")
    assert 1 <= made <= sum(received.values())
    # The worker's tasks, counted by name and outcome, as the worker process ran them.
    assert one(found, "celery_task_runtime_seconds_count", name="reconcile_pool", outcome="succeeded") >= 1
    assert one(found, "celery_task_runtime_seconds_count", name="create_hosts", outcome="succeeded") >= 1
    # The scale request's own SQL statements, counted under its view.
    assert one(found, "django_db_queries_by_view_method_total", view="pool-scale", method="POST") > 0
    assert one(found, "celery_active_consumer_count", queue_name="provider") >= 1
    assert one(found, "dcp_database_up") == one(found, "dcp_broker_up") == 1

    # Two more, past the account's quota of 3 instances: the create call is refused, the job fails.
    aws_emulator.set_faults(instance_quota=3)
    job = scale(developer, pool, 2)
    assert job["status"] == "failed", job
    found = scrape(live_server)
    failed = sum(
        body["progress"]["failed"]
        for body in developer.get("/api/v1/jobs/", {"pool": pool.pk, "kind": "scale_out"}).json()["results"]
    )
    assert failed == 2
    assert one(found, "dcp_host_failures_total", provider="aws-metrics", kind="aws", reason="quota") == failed
    errors = one(
        found, "dcp_provider_errors_total", provider="aws-metrics", kind="aws", operation="create_nodes", error="quota"
    )
    assert errors >= 1
    requested = developer.get("/api/v1/hosts/", {"pool": pool.pk}).json()["count"]
    assert one(found, "dcp_hosts_requested_total", provider="aws-metrics", kind="aws") == requested == 5
    assert one(found, "dcp_jobs", kind="scale_out", status="failed") == 1
    assert one(found, "dcp_scale_out_duration_seconds_count", status="failed") == 1
    # desired_size came back down to what the pool has: not short any more.
    assert (
        one(found, "dcp_pool_desired_hosts", **names)
        == developer.get(f"/api/v1/pools/{pool.pk}/").json()["desired_size"]
    )

    check_worker_log(json_worker, pool)
    check_queries_use_exposed_names(exposition(live_server))
    # Neither the account's secret nor any API token reached a log line, the worker's or this process's.
    secrets = [AwsEmulator.SECRET_ACCESS_KEY, METRICS_TOKEN]
    secrets += [client._credentials["HTTP_AUTHORIZATION"].split()[1] for client in (admin, developer)]
    logs = json_worker.log_path.read_text() + caplog.text
    for secret in secrets:
        assert secret not in logs


def check_worker_log(worker, pool) -> None:
    """Every JSON line parses with time, level, logger and message; the scale request's engine steps carry
    its request id, their task and what they worked on."""
    lines = [line for line in worker.log_path.read_text().splitlines() if line.startswith("{")]
    assert lines, "the worker wrote no JSON log lines"
    records = [json.loads(line) for line in lines]
    for record in records:
        assert {"time", "level", "logger", "message"} <= record.keys(), record
    ours = [record for record in records if record.get("request_id") == REQUEST_ID]
    tasks = {record.get("task") for record in ours}
    assert {"reconcile_pool", "create_hosts"} <= tasks, tasks
    reconciles = [record for record in ours if record.get("task") == "reconcile_pool"]
    assert all(record["pool"] == pool.pk and record["task_id"] for record in reconciles)
    creates = [record for record in ours if record.get("task") == "create_hosts"]
    assert all(len(record["batch"]) == 32 for record in creates)
