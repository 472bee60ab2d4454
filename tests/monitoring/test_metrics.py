"""GET /metrics: who may read it, and that its values are the database's, read at scrape time."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families
from rest_framework.test import APIClient

from apps.configuration.choices import InitStatus
from apps.configuration.models import InitRun
from apps.configuration.results import InitResult
from apps.configuration.services import record
from apps.costs.budgets.delivery import check_budgets
from apps.costs.budgets.models import Budget
from apps.costs.currencies import round_money
from apps.costs.models import Price
from apps.costs.services import month_hours
from apps.inventory.choices import FailureReason, HostStatus
from apps.inventory.models import Host, MachineInterval
from apps.monitoring import counters
from apps.monitoring.spend import record_run_rates
from apps.providers.drivers.base import ThrottledError
from apps.providers.drivers.registry import get_driver
from apps.providers.models import CloudAccount
from apps.provisioning.choices import JobKind, JobStatus, OrphanState
from apps.provisioning.models import Job, OrphanInstance
from apps.provisioning.transitions import move_hosts
from apps.scaling.choices import Decision, OccurrenceStatus, TriggerSource
from apps.scaling.models import PolicyTrigger, ScalingPolicy, ScalingSchedule, ScheduleOccurrence
from tests.factories import ClusterFactory, PoolFactory, TemplateFactory, with_template

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


def test_allowed_networks(settings):
    """Without credentials: an address in DCP_METRICS_ALLOWED_NETWORKS (loopback by default) reads the metrics;
    another address, or a request a proxy passed on, gets 401 saying how to get in."""
    settings.DCP_METRICS_TOKEN = ""
    status, body = scrape()
    assert status == 200, body
    assert "dcp_database_up 1.0" in body
    assert scrape(REMOTE_ADDR="::1")[0] == 200
    status, body = scrape(REMOTE_ADDR="10.1.2.3")
    assert status == 401 and "DCP_METRICS_ALLOWED_NETWORKS" in body
    # A proxy on this machine passes outside requests on from a loopback address.
    assert scrape(HTTP_X_FORWARDED_FOR="203.0.113.9")[0] == 401
    settings.DCP_METRICS_ALLOWED_NETWORKS = ["10.1.0.0/16", "192.0.2.7"]
    assert scrape(REMOTE_ADDR="10.1.2.3")[0] == 200
    assert scrape(REMOTE_ADDR="::ffff:10.1.9.9")[0] == 200
    assert scrape(REMOTE_ADDR="192.0.2.7")[0] == 200
    assert scrape(REMOTE_ADDR="192.0.2.8")[0] == 401
    assert scrape(REMOTE_ADDR="10.2.0.1")[0] == 401
    assert scrape()[0] == 401  # loopback is no longer listed


def test_metrics_token(settings):
    """The dedicated token, as a bearer token, from any address; a wrong one is 401 with WWW-Authenticate."""
    settings.DCP_METRICS_TOKEN = TOKEN
    settings.DCP_METRICS_ALLOWED_NETWORKS = []
    answer = APIClient().get("/metrics", REMOTE_ADDR="10.1.2.3", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert answer.status_code == 200
    assert answer["Content-Type"].startswith("text/plain; version=0.0.4")
    status, body = scrape(HTTP_AUTHORIZATION=f"Bearer {TOKEN}x")
    assert status == 401 and "refused" in body
    refused = APIClient().get("/metrics")
    assert refused.status_code == 401
    assert refused["WWW-Authenticate"] == 'Bearer realm="dcp-metrics"'


def test_api_tokens_of_system_administrators_only(settings, clients, users):
    """A system administrator's API token reads the metrics from anywhere (as Token or Bearer); a cluster
    member's valid token gets 403, from an allowed address too; an unknown token 401."""
    settings.DCP_METRICS_ALLOWED_NETWORKS = ["127.0.0.0/8"]
    outside = {"REMOTE_ADDR": "198.51.100.4"}
    assert scrape(clients["sysadmin"], **outside)[0] == 200
    key = clients["sysadmin"]._credentials["HTTP_AUTHORIZATION"].split()[1]
    assert scrape(HTTP_AUTHORIZATION=f"Bearer {key}", **outside)[0] == 200
    for role in ("admin", "developer", "guest", "outsider"):
        status, body = scrape(clients[role], **outside)
        assert status == 403 and "system administrators" in body, role
        assert scrape(clients[role])[0] == 403, role
    assert scrape(HTTP_AUTHORIZATION="Token " + "f" * 40, **outside)[0] == 401
    assert scrape(clients["anonymous"], **outside)[0] == 401
    # A system administrator's console session too; a member's is refused.
    session = APIClient(**outside)
    session.force_login(users["admin"])
    assert session.get("/metrics").status_code == 403


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
    starting = [host(pool, template, HostStatus.INITIALIZING) for _ in range(3)]
    Host.objects.filter(pk__in=[h.pk for h in starting]).update(created_at=now - timedelta(seconds=100))
    move_hosts(list(Host.objects.filter(pk__in=[h.pk for h in starting])), HostStatus.READY)
    host(pool, template, HostStatus.CREATING)
    # Failures are counted as hosts move to failed, with their reason; one of them is terminated since.
    gone = host(pool, template, HostStatus.CREATING)
    move_hosts([gone], HostStatus.FAILED, "no capacity", FailureReason.CAPACITY)
    move_hosts([gone], HostStatus.TERMINATING)
    move_hosts([gone], HostStatus.TERMINATED)
    move_hosts([host(pool, template, HostStatus.CREATING)], HostStatus.FAILED, "", FailureReason.BOOT_TIMEOUT)
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
    # Each host's time to ready was observed when it became ready, under its template's name.
    ready = {**provider, "template": template.name}
    assert value(found, "dcp_host_ready_duration_seconds_count", **ready) == 3
    assert value(found, "dcp_host_ready_duration_seconds_bucket", le="60.0", **ready) == 0
    assert value(found, "dcp_host_ready_duration_seconds_bucket", le="120.0", **ready) == 3
    assert value(found, "dcp_host_ready_duration_seconds_bucket", le="+Inf", **ready) == 3
    assert value(found, "dcp_host_ready_duration_seconds_sum", **ready) == pytest.approx(300, abs=3)


def test_no_label_names_a_host(cluster):
    """Hosts ready, failed and lost, an init run, an orphan of a host: no sample has a host's label, and no label
    value is a host's name or instance id (a label per host would make a series per host)."""
    template = TemplateFactory()
    pool = with_template(PoolFactory(cluster=cluster, name="named", desired_size=4), template)
    made = [host(pool, template, HostStatus.INITIALIZING, instance_id=f"i-label-{i:04d}") for i in range(4)]
    move_hosts([made[0], made[1], made[3]], HostStatus.READY)
    move_hosts([made[2]], HostStatus.FAILED, "no capacity", FailureReason.CAPACITY)
    move_hosts([Host.objects.get(pk=made[3].pk)], HostStatus.LOST)
    record(
        InitRun.objects.create(host=made[0], method="ansible", status="running", started_at=timezone.now()),
        InitResult(status=InitStatus.OK, message="done"),
    )
    OrphanInstance.objects.create(
        provider=template.provider,
        instance_id=made[1].instance_id,
        host=made[1],
        reason="its host is gone",
        first_seen=timezone.now(),
        last_seen=timezone.now(),
    )
    status, body = scrape()
    assert status == 200, body
    personal = {h.hostname for h in made} | {h.instance_id for h in made}
    labels = [sample.labels for family in text_string_to_metric_families(body) for sample in family.samples]
    assert labels and not {"host", "host_id", "hostname", "instance", "instance_id"} & {k for ls in labels for k in ls}
    assert not personal & {v for ls in labels for v in ls.values()}
    assert value(samples(body), "dcp_hosts", status="ready", pool="named") == 2
    assert value(samples(body), "dcp_hosts", status="lost", pool="named") == 1


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


def test_a_scrape_sends_as_many_statements_for_a_big_fleet_as_for_a_small_one():
    """One cluster's pool, hosts, jobs, init runs, budget and report, then six clusters' (and more hosts in each
    state): the scrape sends the same number of SQL statements (issue 16's benchmark asks for constant queries)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from apps.providers.models import MachineTemplate
    from tests.api.seed import _cluster
    from tests.factories import PhysicalProviderFactory, UserFactory

    provider = PhysicalProviderFactory(name="idc-scrape")
    admin = UserFactory(username="scrape-admin")

    def statements() -> int:
        with CaptureQueriesContext(connection) as queries:
            status, body = scrape()
        assert status == 200, body
        return len(queries)

    made = _cluster(1, provider, admin)
    few = statements()
    for index in range(2, 7):
        made = _cluster(index, provider, admin)
    template = MachineTemplate.objects.filter(pk=made["hosts"][0].template_id).get()
    for status in (HostStatus.CREATING, HostStatus.INITIALIZING, HostStatus.FAILED):
        host(made["pool"], template, status)
    assert statements() == few


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


def test_throttled_provider_and_rate_limiter(aws_emulator):
    """The EC2 emulator answering every call "throttled" raises the throttle counter (and the errors of kind
    throttled), one per call it received; DCP's own rate limiter (a bucket of 1 call, 1 a second, in Redis)
    holding the calls back raises its waits and seconds waited. Real emulator, driver, limiter and scrape."""
    # One call a second: a call's own time (under a second) never lets the bucket refill before the next.
    aws_emulator.reset()
    account = aws_emulator.account()
    account.options = {"rate_limits": {"describe": {"request": [1, 1]}}}
    account.save()
    driver = get_driver(account)
    aws_emulator.set_faults(throttle_rate=1.0)
    try:
        for _ in range(3):
            with pytest.raises(ThrottledError):
                driver.get_nodes(["i-0123456789abcdef0"])
    finally:
        aws_emulator.set_faults()
    received = aws_emulator.calls()["DescribeInstances"]
    found = samples(scrape()[1])
    call = {"provider": account.name, "kind": "aws", "operation": "get_nodes"}
    assert value(found, "dcp_provider_api_calls_total", **call) == received == 3
    assert value(found, "dcp_provider_throttles_total", **call) == received
    assert value(found, "dcp_provider_errors_total", error="throttled", **call) == received
    limited = {"provider": account.name, "kind": "aws", "action": "describe"}
    waits = value(found, "dcp_rate_limiter_waits_total", **limited)
    assert waits >= 2  # the 2nd and 3rd calls found the bucket empty
    assert 0 < value(found, "dcp_rate_limiter_wait_seconds_total", **limited) <= waits * 1.0
    assert value(found, "dcp_rate_limiter_deferrals_total", **limited) is None


def test_cluster_run_rate_and_budget_ratios(cluster, clients):
    """The run-rate counts priced cloud hosts and allocated machines' monthly cost; a host of unknown price
    adds nothing and is counted as unpriced; a budget's ratios are its figures over its amount, as the budget
    API shows them. Both as the periodic budget check kept them."""
    now = timezone.now()
    aws = CloudAccount.objects.create(name="aws-costed", kind="aws", region="us-east-1")
    priced = TemplateFactory(name="aws-priced", provider=aws, region="us-east-1", instance_type="m5.large")
    unknown = TemplateFactory(name="aws-unknown", provider=aws, region="us-east-1", instance_type="x9.huge")
    machine = TemplateFactory(name="idc-box")
    pool = with_template(PoolFactory(cluster=cluster, name="costed", max_size=10), priced)
    Price.objects.create(
        provider=aws,
        instance_type="m5.large",
        currency="USD",
        hourly_price=Decimal("0.25"),
        valid_from=now - timedelta(days=40),
    )
    live = {"launched_at": now - timedelta(hours=2)}
    for _ in range(2):
        host(pool, priced, HostStatus.READY, **live)
    host(pool, unknown, HostStatus.READY, **live)
    host(pool, priced, HostStatus.TERMINATED, terminated_at=now, **live)
    box = host(pool, machine, HostStatus.READY, batch_token="batch-1", instance_id="box-1", **live)
    MachineInterval.objects.create(
        provider=machine.provider,
        hostname=box.instance_id,
        machine_class="c32",
        idc="bj",
        state="allocated",
        monthly_cost=Decimal("720.00"),
        client_token=box.batch_token,
        started_at=now - timedelta(days=3),
    )
    budget = Budget.objects.create(cluster=cluster, name="costed-monthly", amount=Decimal("100"), currency="USD")
    check_budgets(timezone.now())
    record_run_rates()  # what the periodic budget check does after check_budgets

    found = samples(scrape()[1])
    assert 0 <= value(found, "dcp_cost_figures_age_seconds") < 60
    per_hour = Decimal("0.50") + Decimal("720.00") / month_hours(now)
    assert value(found, "dcp_cluster_cost_per_hour", cluster=cluster.name, currency="USD") == pytest.approx(
        float(round_money(per_hour, "USD"))
    )
    assert value(found, "dcp_cluster_unpriced_hosts", cluster=cluster.name) == 1
    shown = clients["admin"].get(f"/api/v1/budgets/{budget.pk}/").json()
    names = {"cluster": cluster.name, "budget": "costed-monthly", "period": "month", "currency": "USD"}
    assert value(found, "dcp_budget_spent_ratio", **names) == pytest.approx(float(shown["spent"]) / 100, abs=0.01)
    assert value(found, "dcp_budget_forecast_ratio", **names) == pytest.approx(float(shown["forecast"]) / 100, rel=0.01)
    assert value(found, "dcp_budget_forecast_ratio", **names) > 0


def test_label_values_escaped():
    """Names people typed reach the labels intact: quotes, backslashes and line breaks are escaped as the text
    format says, so Prometheus' parser reads back the very names."""
    odd = ClusterFactory(name='ops "blue" \\ team\nwest')
    PoolFactory(cluster=odd, name="web", desired_size=2)
    found = samples(scrape()[1])
    assert value(found, "dcp_pool_desired_hosts", cluster='ops "blue" \\ team\nwest', pool="web") == 2


def test_init_runs_lost_hosts_and_orphans(cluster):
    """Each init run recorded is observed by method and outcome with its duration; a host moved to lost counts
    on its provider; orphans found by the sweep are reported by account and state."""
    template = TemplateFactory()
    pool = with_template(PoolFactory(cluster=cluster, name="inits", max_size=10), template)
    hosts = [host(pool, template, HostStatus.INITIALIZING) for _ in range(3)]
    started = timezone.now()
    for made, (status, seconds) in zip(
        hosts, [(InitStatus.CHANGED, 42.0), (InitStatus.CHANGED, 350.0), (InitStatus.UNREACHABLE, 7.5)], strict=True
    ):
        run = InitRun.objects.create(host=made, method="ansible", started_at=started)
        record(run, InitResult(status=status, duration=seconds))
    move_hosts([hosts[0]], HostStatus.READY)
    move_hosts([hosts[0]], HostStatus.LOST, "instance vanished")
    for state in (OrphanState.REPORTED, OrphanState.REPORTED, OrphanState.GONE):
        OrphanInstance.objects.create(
            provider=template.provider,
            instance_id=f"i-{OrphanInstance.objects.count()}",
            state=state,
            first_seen=started,
            last_seen=started,
        )

    found = samples(scrape()[1])
    changed = {"method": "ansible", "outcome": "changed"}
    assert value(found, "dcp_init_run_duration_seconds_count", **changed) == 2
    assert value(found, "dcp_init_run_duration_seconds_sum", **changed) == pytest.approx(392.0)
    assert value(found, "dcp_init_run_duration_seconds_bucket", le="60.0", **changed) == 1
    assert value(found, "dcp_init_run_duration_seconds_bucket", le="600.0", **changed) == 2
    assert value(found, "dcp_init_run_duration_seconds_count", method="ansible", outcome="unreachable") == 1
    provider = {"provider": template.provider.name, "kind": "physical"}
    assert value(found, "dcp_hosts_lost_total", **provider) == 1
    assert value(found, "dcp_orphan_instances", state="reported", **provider) == 2
    assert value(found, "dcp_orphan_instances", state="gone", **provider) == 1


def test_scaling_plans_and_what_they_did(users, cluster):
    """Each pool's schedules and policies by enabled; their occurrences and triggers by outcome with the time of
    the latest (what the missed-occurrence and refused-policy alerts read)."""
    from tests.scaling.test_policies import make_policy
    from tests.scaling.test_schedules import make_schedule

    pool = PoolFactory(cluster=cluster, name="gala", desired_size=2, max_size=20)
    admin = APIClient()
    admin.force_authenticate(users["admin"])
    schedule = ScalingSchedule.objects.get(pk=make_schedule(admin, pool, delta=4, cron="0 20 * * *")["id"])
    make_schedule(admin, pool, name="spare", desired_size=5, cron="0 8 * * *", enabled=False)
    policy = ScalingPolicy.objects.get(pk=make_policy(admin, pool)["id"])
    due = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    for days, status in ((0, OccurrenceStatus.SCALED), (1, OccurrenceStatus.MISSED), (2, OccurrenceStatus.MISSED)):
        ScheduleOccurrence.objects.create(schedule=schedule, time=due + timedelta(days=days), status=status)
    for decision in (Decision.SCALED, Decision.COOLDOWN, Decision.COOLDOWN, Decision.BUDGET_REFUSED):
        source = TriggerSource.ALERTMANAGER
        PolicyTrigger.objects.create(policy=policy, source=source, status="firing", decision=decision)

    found = samples(scrape()[1])
    at = {"cluster": cluster.name, "pool": "gala"}
    assert value(found, "dcp_scaling_schedules", enabled="true", **at) == 1
    assert value(found, "dcp_scaling_schedules", enabled="false", **at) == 1
    assert value(found, "dcp_scaling_policies", enabled="true", **at) == 1
    assert value(found, "dcp_scaling_occurrences", kind="start", status="missed", **at) == 2
    assert value(found, "dcp_scaling_occurrences", kind="start", status="scaled", **at) == 1
    missed = value(found, "dcp_scaling_occurrence_last_timestamp_seconds", kind="start", status="missed", **at)
    assert missed == (due + timedelta(days=2)).timestamp()
    assert value(found, "dcp_scaling_triggers", decision="cooldown", **at) == 2
    assert value(found, "dcp_scaling_triggers", decision="budget_refused", **at) == 1
    refused = value(found, "dcp_scaling_trigger_last_timestamp_seconds", decision="budget_refused", **at)
    assert abs(refused - timezone.now().timestamp()) < 60
