"""Cost reports made and e-mailed by a real Celery worker, to a real SMTP server, through the real broker.

The session's worker is stopped for this module; the module's own worker has
DCP's mail settings pointed at an aiosmtpd server the module starts on loopback.
Beats are sent as the beat sends them (the make_cost_reports task), twice at once.
"""

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from apps.costs.reports import periods, services
from apps.costs.reports.choices import Delivery
from apps.costs.reports.models import CostReport, CostReportSchedule
from apps.costs.reports.tasks import make_cost_reports
from tests.conftest import Worker, wait_for
from tests.costs.smtp import Inbox, attachments

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def inbox():
    """The SMTP server the worker sends to."""
    server = Inbox().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def mail_worker(only_our_workers, inbox, tmp_path_factory):
    """The module's worker, sending mail to the inbox; a refused e-mail is tried 3 times, 1 s then 2 s apart."""
    env = {
        **only_our_workers,
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(inbox.port),
        "DEFAULT_FROM_EMAIL": "DCP reports <reports@example.com>",
        "DCP_COST_REPORT_ATTEMPTS": "3",
        "DCP_COST_REPORT_RETRY_SECONDS": "1",
    }
    process = Worker(env, tmp_path_factory.mktemp("mail-worker") / "worker.log", queues="engine")
    process.start()
    yield process
    process.stop()


@pytest.fixture
def daily(clients, cluster, inbox):
    """A daily schedule of `cluster` made yesterday: yesterday's report is due now."""
    inbox.clear()
    answer = clients["admin"].post(
        "/api/v1/cost-report-schedules/",
        {"name": "daily", "cluster": cluster.pk, "frequency": "daily", "formats": ["csv", "xlsx"],
         "recipients": ["finance@example.com"]},
        format="json",
    )  # fmt: skip
    assert answer.status_code == 201, answer.content
    CostReportSchedule.objects.filter(pk=answer.json()["id"]).update(created_at=timezone.now() - timedelta(days=1))
    return answer.json()


@pytest.fixture(autouse=True)
def _deliveries_settled(mail_worker):
    """After each test, wait until the worker has finished every report's e-mail.

    A delivery still running when the test's tables are flushed holds a row of cost_report
    while it reads other tables for the attachments; the flush's TRUNCATE then deadlocks with it.
    """
    yield
    wait_for(
        lambda: not CostReport.objects.filter(delivery=Delivery.PENDING).exists(),
        timeout=60,
        message="the worker to finish every report's e-mail",
    )


def report_of(client, schedule_id: int) -> list[dict]:
    """The schedule's reports as the API lists them."""
    return client.get("/api/v1/cost-reports/", {"schedule": schedule_id}).json()["results"]


def test_two_beats_at_once_make_one_report_and_one_email(mail_worker, inbox, clients, daily):
    """Both beats run on the worker at once: one report, one e-mail with both files, the report marked sent."""
    make_cost_reports.delay()
    make_cost_reports.delay()
    [report] = wait_for(
        lambda: [r for r in report_of(clients["guest"], daily["id"]) if r["delivery"] == "sent"] or None,
        timeout=60,
        message="the report to be made and sent",
    )
    make_cost_reports.delay()
    time.sleep(3)  # a third beat, and any late duplicate, has had time to run
    assert len(report_of(clients["guest"], daily["id"])) == 1
    [message] = inbox.messages()
    assert message["To"] == "finance@example.com" and message["From"] == "DCP reports <reports@example.com>"
    assert set(attachments(message)) == {
        f"cost-report-{daily['id']}-{report['period_start'][:10]}.csv",
        f"cost-report-{daily['id']}-{report['period_start'][:10]}.xlsx",
    }
    assert report["total"] in message.get_body(preferencelist=("html",)).get_content()


def test_concurrent_makers_of_one_period_make_one_report(daily):
    """Four threads make the same period's report at once (each on its own connection): one report."""
    period = periods.closed(timezone.now(), "daily", "UTC", 1)[0]
    barrier, results = threading.Barrier(4), []

    def make():
        try:
            barrier.wait()
            results.append(services.make_report(daily["id"], period, timezone.now()))
        finally:
            connection.close()

    threads = [threading.Thread(target=make) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len([r for r in results if r is not None]) == 1 and len(results) == 4
    assert CostReport.objects.filter(schedule_id=daily["id"]).count() == 1


def test_the_database_refuses_a_second_report_of_a_period(daily):
    """Whatever bypasses the lock, the unique constraint holds."""
    period = periods.closed(timezone.now(), "daily", "UTC", 1)[0]
    report = services.make_report(daily["id"], period, timezone.now())
    fields = {f.name: getattr(report, f.name) for f in CostReport._meta.concrete_fields if f.name != "id"}
    with pytest.raises(IntegrityError), transaction.atomic():
        CostReport.objects.create(**fields)


def test_a_refused_email_is_retried_by_the_worker_then_recorded_failed(mail_worker, inbox, clients, daily):
    """The server refuses: the worker tries 3 times, waiting 1 s then 2 s, then the report says failed."""
    inbox.refuse = True
    started = datetime.now(UTC)
    make_cost_reports.delay()
    [report] = wait_for(
        lambda: [r for r in report_of(clients["guest"], daily["id"]) if r["delivery"] == "failed"] or None,
        timeout=60,
        message="the e-mail to fail three times",
    )
    assert report["attempts"] == 3 and inbox.refused == 3 and "554" in report["delivery_error"]
    assert datetime.now(UTC) - started >= timedelta(seconds=3)
    assert inbox.messages() == []
