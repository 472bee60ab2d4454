"""Budget alerts end to end: thresholds fire once per period, reach a real SMTP server and real webhooks,
are retried with back-off when refused, and are shown failed after the last try.

The SMTP server (aiosmtpd) and the webhook receiver run in this process on
loopback (tests/costs/servers.py); what they received is parsed and checked,
and each alert's outcome is read back from /api/v1/budgets/{id}/alerts/.
"""

import signal
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from apps.costs.budgets import delivery
from apps.costs.budgets.models import AlertDelivery, Budget, BudgetAlert
from apps.costs.models import Price
from apps.inventory.choices import HostStatus
from apps.inventory.models import Host
from apps.providers.models import CloudAccount, MachineTemplate
from tests.conftest import ROOT, Worker, child_process_env, wait_for
from tests.costs.servers import Hooks, SMTPServer
from tests.factories import PoolFactory

NOW = datetime(2026, 3, 20, 12, tzinfo=UTC)
ROBOT_TOKEN = "robot-secret-token"


@pytest.fixture
def smtp(settings):
    """A real SMTP server on loopback, and DCP's mail pointed at it."""
    with SMTPServer() as server:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", server.port, 5
        yield server


@pytest.fixture
def hooks():
    """A real HTTP server on loopback that receives webhooks (and fails when told)."""
    with Hooks() as server:
        yield server


def spending(cluster, launched: datetime, hourly: str = "0.15") -> Host:
    """A pool of the cluster with one live host costing hourly USD an hour since launched."""
    pool = PoolFactory(cluster=cluster, desired_size=1)
    account = CloudAccount.objects.create(name=f"aws-{pool.pk}", kind="aws", region="us-east-1")
    template = MachineTemplate.objects.create(name=f"t-{pool.pk}", provider=account, instance_type="m.big")
    Price.objects.get_or_create(
        kind="aws",
        instance_type="m.big",
        defaults={"currency": "USD", "hourly_price": Decimal(hourly), "valid_from": launched - timedelta(days=400)},
    )
    return Host.objects.create(
        hostname=f"h-{pool.pk}",
        pool=pool,
        provider=account,
        template=template,
        instance_id=f"i-{pool.pk}",
        status=HostStatus.READY,
        launched_at=launched,
    )


def make_budget(cluster, notify, amount="100.00", thresholds=None) -> Budget:
    """A monthly USD budget of the cluster."""
    return Budget.objects.create(
        cluster=cluster,
        name="compute",
        period="month",
        amount=Decimal(amount),
        currency="USD",
        thresholds=thresholds or [{"percent": 50, "of": "actual"}, {"percent": 90, "of": "forecast"}],
        recipients={"notify": notify},
    )


def deliver_due(now: datetime) -> list[str]:
    """What a worker does at now: try every delivery that is due (as the deliver task does)."""
    return [delivery.attempt(pk, now) for pk in delivery.due(now)]


def alerts_of(client, budget) -> list[dict]:
    """The budget's alerts as the API shows them."""
    answer = client.get(f"/api/v1/budgets/{budget.pk}/alerts/")
    assert answer.status_code == 200
    return answer.json()["results"]


@pytest.mark.django_db
def test_each_threshold_fires_once_and_reaches_every_recipient_in_its_shape(users, cluster, smtp, hooks):
    """50 % of actual and 90 % of forecast: two alerts, each by e-mail, JSON, DingTalk and WeCom, once."""
    spending(cluster, datetime(2026, 3, 1, tzinfo=UTC))  # 0.15 USD/h: 70.20 by NOW, 111.60 by the month's end
    budget = make_budget(
        cluster,
        [
            {"email": "finance@example.com"},
            {"url": f"{hooks.url}/dcp", "shape": "json"},
            {"url": f"{hooks.url}/robot/send?access_token={ROBOT_TOKEN}", "shape": "dingtalk"},
            {"url": f"{hooks.url}/cgi-bin/webhook/send?key=wecom-key", "shape": "wecom"},
        ],
    )
    fired = delivery.check_budgets(NOW)
    assert sorted((a.percent, a.of) for a in fired) == [(50, "actual"), (90, "forecast")]
    assert delivery.check_budgets(NOW) == [] and delivery.check_budgets(NOW + timedelta(days=5)) == []
    assert deliver_due(NOW) == ["sent"] * 8
    assert deliver_due(NOW) == []

    subjects = sorted(message["Subject"] for message in smtp.inbox.messages)
    assert subjects == [
        "DCP budget compute: 50% of actual spend reached",
        "DCP budget compute: 90% of forecast spend reached",
    ]
    text = smtp.inbox.messages[0].get_content()
    assert "Spent: 70.20 USD (70.2%)" in text and "Forecast: 111.60 USD (111.6%)" in text
    assert smtp.inbox.messages[0]["X-Envelope-To"] == "finance@example.com"
    own = sorted(hooks.bodies("/dcp"), key=lambda body: body["threshold"]["percent"])
    assert [body["threshold"] for body in own] == [{"percent": 50, "of": "actual"}, {"percent": 90, "of": "forecast"}]
    assert (own[0]["amount"], own[0]["spent"], own[0]["forecast"]) == ("100.00", "70.20", "111.60")
    assert own[0]["currency"] == "USD" and own[0]["cluster"] == cluster.name
    ding = hooks.bodies("/robot/send")
    assert {body["msgtype"] for body in ding} == {"markdown"}
    assert all(body["markdown"]["text"].startswith("### DCP budget compute") for body in ding)
    wecom = hooks.bodies("/cgi-bin/webhook/send")
    assert all(set(body) == {"msgtype", "markdown"} and "content" in body["markdown"] for body in wecom)

    client = APIClient()
    client.force_authenticate(users["guest"])
    shown = alerts_of(client, budget)
    assert {(a["amount"], a["spent"], a["forecast"], a["currency"]) for a in shown} == {
        ("100.00", "70.20", "111.60", "USD")
    }
    assert len(shown) == 2 and all(d["status"] == "sent" and d["attempts"] == 1 for a in shown for d in a["deliveries"])
    assert ROBOT_TOKEN not in str(shown) and "wecom-key" not in str(shown)


@pytest.mark.django_db
def test_refused_deliveries_back_off_then_succeed_or_are_shown_failed(users, cluster, smtp, hooks, settings):
    """A webhook failing twice is sent on its third try; one failing always is failed after the last; so is mail."""
    settings.DCP_BUDGET_RETRY_SECONDS, settings.DCP_BUDGET_DELIVERY_ATTEMPTS = 60, 4
    spending(cluster, datetime(2026, 3, 1, tzinfo=UTC))
    budget = make_budget(
        cluster,
        [
            {"email": "finance@example.com"},
            {"url": f"{hooks.url}/flaky", "shape": "json"},
            {"url": f"{hooks.url}/down", "shape": "json"},
            {"url": f"{hooks.url}/robot/send?access_token={ROBOT_TOKEN}", "shape": "dingtalk"},
        ],
        thresholds=[{"percent": 50, "of": "actual"}],
    )
    hooks.fail("/flaky", 2)
    hooks.fail("/down", -1)
    hooks.fail("/robot/send", -1)
    smtp.inbox.refuse = 1
    [alert] = delivery.check_budgets(NOW)
    by_target = lambda: {d.target.split("/")[-1]: d for d in AlertDelivery.objects.filter(alert=alert)}  # noqa: E731
    assert sorted(deliver_due(NOW)) == ["pending"] * 4
    first = by_target()
    assert first["flaky"].next_attempt == NOW + timedelta(seconds=60) and first["flaky"].attempts == 1
    assert "HTTP 500" in first["flaky"].last_error
    assert "errcode 310000" in first["send?***"].last_error
    assert "451" in first["finance@example.com"].last_error
    assert deliver_due(NOW + timedelta(seconds=59)) == []  # nothing is due before its back-off is over
    assert sorted(deliver_due(NOW + timedelta(seconds=60))) == ["pending", "pending", "pending", "sent"]
    assert deliver_due(NOW + timedelta(seconds=179)) == []  # the second wait is twice the first
    assert sorted(deliver_due(NOW + timedelta(seconds=180))) == ["pending", "pending", "sent"]
    assert deliver_due(NOW + timedelta(seconds=419)) == []
    assert sorted(deliver_due(NOW + timedelta(seconds=420))) == ["failed", "failed"]
    assert deliver_due(NOW + timedelta(days=1)) == []
    final = by_target()
    assert (final["flaky"].status, final["flaky"].attempts) == ("sent", 3)
    assert (final["finance@example.com"].status, final["finance@example.com"].attempts) == ("sent", 2)
    assert (final["down"].status, final["down"].attempts, final["down"].next_attempt) == ("failed", 4, None)
    assert len(hooks.bodies("/flaky")) == 1 and hooks.bodies("/down") == []
    assert len(smtp.inbox.messages) == 1
    client = APIClient()
    client.force_authenticate(users["guest"])
    [shown] = alerts_of(client, budget)
    statuses = {d["target"].split("/")[-1]: (d["status"], d["last_error"]) for d in shown["deliveries"]}
    assert statuses["down"] == ("failed", f"{hooks.url}/down answered HTTP 500")
    assert statuses["send?***"][0] == "failed" and ROBOT_TOKEN not in str(shown)


@pytest.mark.django_db(transaction=True)
def test_concurrent_checks_fire_each_threshold_once_and_the_next_period_fires_again(cluster):
    """Two beats at the same instant, in two threads with their own connections: one alert per threshold."""
    spending(cluster, datetime(2026, 3, 1, tzinfo=UTC))
    make_budget(cluster, [{"email": "finance@example.com"}])
    start, results = threading.Barrier(2), []

    def beat():
        try:
            start.wait(timeout=30)
            results.append(len(delivery.check_budgets(NOW)))
        finally:
            connection.close()

    threads = [threading.Thread(target=beat) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sum(results) == 2 and len(results) == 2
    assert BudgetAlert.objects.count() == 2 and AlertDelivery.objects.count() == 2
    april = datetime(2026, 4, 25, tzinfo=UTC)  # 24 days of April at 0.15 USD/h: 86.40 USD, 86.4 % of the budget
    with time_machine.travel(april, tick=False):
        again = delivery.check_budgets(timezone.now())
    assert sorted((a.percent, a.of, a.period_start.month) for a in again) == [(50, "actual", 4), (90, "forecast", 4)]
    assert BudgetAlert.objects.count() == 4


@pytest.fixture
def alert_worker(only_our_workers, tmp_path, smtp_port):
    """A real Celery worker whose mail goes to the test's SMTP server and whose retries wait a second."""
    env = {
        **child_process_env("budget alert worker"),
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(smtp_port),
        "DCP_BUDGET_RETRY_SECONDS": "1",
        "DCP_BUDGET_DELIVERY_ATTEMPTS": "3",
    }
    subprocess.run(
        [sys.executable, "-m", "celery", "-A", "dcp", "purge", "-f", "-Q", "engine"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    worker = Worker(env, tmp_path / "worker.log", queues="engine")
    worker.start()
    yield worker
    worker.stop()


@pytest.fixture
def smtp_server():
    """A real SMTP server for a worker process (its settings come from the environment)."""
    with SMTPServer() as server:
        yield server


@pytest.fixture
def smtp_port(smtp_server):
    """The port of smtp_server."""
    return smtp_server.port


def check(worker: Worker) -> None:
    """Run the beat's task on the worker, and wait until the worker says it is done."""
    from dcp.celery import app

    task = app.send_task("apps.costs.budgets.tasks.check_budgets")
    done = f"[{task.id}] succeeded".encode()
    wait_for(lambda: done in worker.log_path.read_bytes(), timeout=60, message="check_budgets to finish")


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_the_beat_task_on_a_real_worker_fires_delivers_and_retries(users, cluster, hooks, smtp_server, alert_worker):
    """check_budgets on a worker: e-mail sent, a flaky webhook sent on its third try, a dead one failed;
    after the worker is killed and restarted, the next beat fires nothing again."""
    spending(cluster, timezone.now().replace(day=1, hour=0, minute=0, second=0, microsecond=0), hourly="3600")
    budget = make_budget(
        cluster,
        [
            {"email": "finance@example.com"},
            {"url": f"{hooks.url}/flaky", "shape": "json"},
            {"url": f"{hooks.url}/down", "shape": "wecom"},
        ],
        amount="0.01",
        thresholds=[{"percent": 100, "of": "actual"}],
    )
    hooks.fail("/flaky", 2)
    hooks.fail("/down", -1)
    check(alert_worker)
    settled = lambda: not AlertDelivery.objects.filter(status="pending").exists() and AlertDelivery.objects.exists()  # noqa: E731
    wait_for(settled, timeout=60, message="every delivery sent or failed")
    client = APIClient()
    client.force_authenticate(users["guest"])
    [alert] = alerts_of(client, budget)
    outcome = {d["target"].split("/")[-1]: (d["status"], d["attempts"]) for d in alert["deliveries"]}
    assert outcome == {"finance@example.com": ("sent", 1), "flaky": ("sent", 3), "down": ("failed", 3)}
    [mail] = smtp_server.inbox.messages
    assert mail["Subject"] == "DCP budget compute: 100% of actual spend reached"
    assert len(hooks.bodies("/flaky")) == 1
    # A worker killed and started again has nothing in memory: the threshold is still fired once this period.
    alert_worker.stop(signal.SIGKILL)
    alert_worker.start()
    check(alert_worker)
    assert BudgetAlert.objects.count() == 1 and len(smtp_server.inbox.messages) == 1
