"""GET /metrics: who may read it, and that its values are the database's, read at scrape time."""

from datetime import timedelta

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.test import APIClient

from apps.inventory.choices import FailureReason, HostStatus
from apps.inventory.models import Host
from apps.monitoring import counters
from apps.providers.drivers.registry import get_driver
from apps.providers.models import CloudAccount
from apps.provisioning.choices import JobKind, JobStatus
from apps.provisioning.models import Job
from tests.factories import PoolFactory, TemplateFactory, with_template

pytestmark = pytest.mark.django_db
TOKEN = "metrics-token-" + "x" * 20


def scrape(client=None, **headers) -> tuple[int, str]:
    """GET /metrics: status and body."""
    answer = (client or APIClient()).get("/metrics", **headers)
    return answer.status_code, answer.content.decode()


def samples(text: str) -> dict[str, list]:
    """The exposition's samples by sample name (``_total``, ``_bucket``... included)."""
    found: dict[str, list] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found.setdefault(sample.name, []).append(sample)
    return found


def value(found: dict, name: str, **labels) -> float | None:
    """The value of the one sample of name whose labels include these, or None."""
    matching = [s.value for s in found.get(name, []) if labels.items() <= s.labels.items()]
    assert len(matching) <= 1, (name, labels, matching)
    return matching[0] if matching else None


# Who may read it.


def test_loopback_only_without_token(settings):
    """No token set: this machine reads the metrics; another address, or a proxied request, gets 403."""
    settings.DCP_METRICS_TOKEN = ""
    status, body = scrape()
    assert status == 200, body
    assert "dcp_database_up 1.0" in body
    status, body = scrape(REMOTE_ADDR="10.1.2.3")
    assert status == 403 and "DCP_METRICS_TOKEN" in body
    status, body = scrape(REMOTE_ADDR="::1")
    assert status == 200
    # A proxy on this machine passes outside requests on from a loopback address.
    status, body = scrape(HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert status == 403


def test_bearer_token_when_set(settings):
    """Token set: only a request with that bearer token, from anywhere; others get 401 saying what to send."""
    settings.DCP_METRICS_TOKEN = TOKEN
    status, body = scrape()
    assert status == 401 and "Bearer" in body
    status, _ = scrape(HTTP_AUTHORIZATION=f"Bearer {TOKEN}x")
    assert status == 401
    status, _ = scrape(HTTP_AUTHORIZATION=f"Token {TOKEN}")
    assert status == 401
    answer = APIClient().get("/metrics", REMOTE_ADDR="10.1.2.3", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert answer.status_code == 200
    assert answer["Content-Type"].startswith("text/plain; version=0.0.4")
    refused = APIClient().get("/metrics")
    assert refused["WWW-Authenticate"] == 'Bearer realm="dcp-metrics"'


def test_only_get_and_head():
    """A write method is refused: the endpoint changes nothing."""
    assert APIClient().post("/metrics").status_code == 405
    assert APIClient().head("/metrics").status_code == 200


def test_not_in_openapi_schema(clients):
    """/metrics is outside the REST API: its schema does not list it."""
    schema = clients["sysadmin"].get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    assert not [path for path in schema["paths"] if "metrics" in path]


# What it says.


def host(pool, template, status: str, **fields) -> Host:
    """A host of pool on template's provider in status."""
    return Host.objects.create(
        hostname=f"{pool.name}-{Host.objects.count()}",
        pool=pool,
        provider=template.provider,
        template=template,
        status=status,
        **fields,
    )


def test_fleet_state_read_at_scrape_time(cluster):
    """Hosts by pool, provider and status, pool sizes, failures by reason and jobs: the database's numbers."""
    template = TemplateFactory()
    pool = with_template(PoolFactory(cluster=cluster, name="web", max_size=10, desired_size=5), template)
    now = timezone.now()
    for _ in range(3):
        host(pool, template, HostStatus.READY, ready_at=now)
    host(pool, template, HostStatus.CREATING)
    host(pool, template, HostStatus.TERMINATED, failed_at=now, failure_reason=FailureReason.CAPACITY)
    host(pool, template, HostStatus.FAILED, failed_at=now, failure_reason=FailureReason.BOOT_TIMEOUT)
    pool.note_ready(3)
    job = Job.objects.create(pool=pool, kind=JobKind.SCALE_OUT, delta=2, desired_before=3, desired_after=5)
    Job.objects.filter(pk=job.pk).update(
        status=JobStatus.SUCCEEDED, created_at=now - timedelta(seconds=45), finished_at=now
    )
    Job.objects.create(pool=pool, kind=JobKind.SCALE_IN, delta=-1, desired_before=5, desired_after=4)

    status, body = scrape()
    assert status == 200, body
    found = samples(body)
    names = {"cluster": cluster.name, "pool": "web", "provider": template.provider.name}
    assert value(found, "dcp_hosts", status="ready", **names) == 3
    assert value(found, "dcp_hosts", status="creating", **names) == 1
    assert value(found, "dcp_hosts", status="failed", **names) == 1
    assert value(found, "dcp_hosts", status="terminated", **names) is None
    assert value(found, "dcp_pool_desired_hosts", cluster=cluster.name, pool="web") == 5
    assert value(found, "dcp_pool_ready_hosts", cluster=cluster.name, pool="web") == 3
    assert value(found, "dcp_pool_active_hosts", cluster=cluster.name, pool="web") == 4
    assert value(found, "dcp_pool_below_desired_seconds", cluster=cluster.name, pool="web") >= 0
    provider = {"provider": template.provider.name, "kind": "physical"}
    assert value(found, "dcp_hosts_requested_total", **provider) == 6
    assert value(found, "dcp_host_failures_total", reason="capacity", **provider) == 1
    assert value(found, "dcp_host_failures_total", reason="boot_timeout", **provider) == 1
    assert value(found, "dcp_jobs", kind="scale_out", status="succeeded") == 1
    assert value(found, "dcp_jobs", kind="scale_in", status="pending") == 1
    assert value(found, "dcp_jobs", kind="scale_in", status="failed") == 0
    # The 45 s scale-out lies in the 60 s bucket, not the 30 s one.
    assert value(found, "dcp_scale_out_duration_seconds_bucket", status="succeeded", le="30.0") == 0
    assert value(found, "dcp_scale_out_duration_seconds_bucket", status="succeeded", le="60.0") == 1
    assert value(found, "dcp_scale_out_duration_seconds_count", status="succeeded") == 1
    assert value(found, "dcp_scale_out_duration_seconds_sum", status="succeeded") == pytest.approx(45, abs=0.01)
    assert value(found, "dcp_host_ready_duration_seconds_count", **provider) == 3


def test_seconds_below_desired_since_the_pool_fell_short(cluster):
    """A pool short of ready hosts reports how long it has been; once it has enough, 0."""
    pool = PoolFactory(cluster=cluster, name="short", desired_size=2)
    pool.note_ready(1)
    type(pool).objects.filter(pk=pool.pk).update(below_desired_since=timezone.now() - timedelta(minutes=11))
    found = samples(scrape()[1])
    assert value(found, "dcp_pool_below_desired_seconds", pool="short") == pytest.approx(660, abs=5)
    pool.refresh_from_db()
    pool.note_ready(2)
    assert value(samples(scrape()[1]), "dcp_pool_below_desired_seconds", pool="short") == 0


def test_provider_errors_counted_by_operation_and_kind():
    """A driver call that fails adds one to its account's count for that call and error; in the database,
    so a web process reads what a worker counted."""
    account = CloudAccount.objects.create(
        name="aws-unreachable",
        kind="aws",
        region="us-east-1",
        endpoint_url="http://127.0.0.1:9",
        credentials={"access_key_id": "AKIDEXAMPLE", "secret_access_key": "never-in-metrics-" + "s" * 20},
    )
    driver = get_driver(account)
    for _ in range(2):
        with pytest.raises(Exception):  # noqa: B017, PT011 - whatever the SDK makes of a closed port
            driver.get_nodes(["i-0123456789abcdef0"])
    counters.increment(counters.PROVIDER_RETRIES, {"provider": account.pk, "operation": "poll_batch"})
    body = scrape()[1]
    found = samples(body)
    errors = [s for s in found["dcp_provider_errors_total"] if s.labels["provider"] == "aws-unreachable"]
    assert [(s.labels["operation"], s.labels["kind"], s.value) for s in errors] == [("get_nodes", "aws", 2)]
    assert value(found, "dcp_provider_retries_total", provider="aws-unreachable", operation="poll_batch") == 1
    assert "never-in-metrics" not in body and "AKIDEXAMPLE" not in body


def test_workers_and_queues(worker):
    """The session's worker is up with a fresh heartbeat; every DCP queue has a length and its consumers."""
    found = samples(scrape()[1])
    assert value(found, "dcp_workers_running") >= 1
    assert any(s.value == 1 for s in found["celery_worker_up"])
    assert all(s.value < 60 for s in found["dcp_worker_heartbeat_age_seconds"] if s.labels)
    for queue in ("engine", "provider", "init"):
        assert value(found, "celery_active_consumer_count", queue_name=queue) >= 1
        assert value(found, "celery_queue_length", queue_name=queue) >= 0
    assert value(found, "dcp_broker_up") == 1


def test_http_requests_by_view_and_status():
    """Each response is counted by view, method and status, and timed."""
    client = APIClient()
    for _ in range(2):
        client.get("/api/v1/pools/")  # 401: no credentials
    found = samples(scrape()[1])
    counted = value(
        found, "django_http_responses_total_by_status_view_method_total", view="pool-list", method="GET", status="401"
    )
    assert counted is not None and counted >= 2
    timed = value(found, "django_http_requests_latency_seconds_by_view_method_count", view="pool-list", method="GET")
    assert timed >= 2
