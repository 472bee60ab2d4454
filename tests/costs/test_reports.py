"""Scheduled cost reports as users meet them: the schedule API, the reports, their files and e-mails.

E-mail goes to a real SMTP server (aiosmtpd) this module starts on loopback;
what it received is parsed back (headers, HTML, text, attachments) and the
attached CSV and XLSX are checked against GET /api/v1/costs/ for the same
period, grouping, scope and currency. Beats are the service function the beat
task calls, given the instant it runs at.
"""

import csv
import email
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from email.policy import default as email_policy

import pytest
from django.core.management import call_command
from openpyxl import load_workbook

from apps.accounts.models import Membership
from apps.costs.models import ExchangeRate, Price
from apps.costs.reports import mail, services
from apps.costs.reports.models import CostReport, CostReportSchedule
from apps.inventory.choices import HostStatus
from apps.inventory.models import Host
from apps.providers.models import CloudAccount, MachineTemplate
from tests.conftest import client_for
from tests.costs.smtp import Inbox, attachments
from tests.factories import ClusterFactory, MembershipFactory, PoolFactory, UserFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 3, 10, 9, 0, tzinfo=UTC)
FEB = (datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC))
JAN = (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC))
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@pytest.fixture(scope="module")
def inbox():
    """The SMTP server, for the whole module."""
    server = Inbox().start()
    yield server
    server.stop()


@pytest.fixture
def smtp(inbox, settings):
    """DCP's mail settings pointed at the test's SMTP server, which starts empty."""
    inbox.clear()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", inbox.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.DEFAULT_FROM_EMAIL = "DCP <dcp@example.com>"
    return inbox


@pytest.fixture
def fleet(cluster):
    """Pools web and api on `cluster`, pool secret on another cluster, priced and unpriced hosts, a EUR rate."""
    account = CloudAccount.objects.create(name="aws-main", kind="aws", region="us-east-1")
    priced = MachineTemplate.objects.create(name="m5", provider=account, instance_type="m5.large")
    unpriced = MachineTemplate.objects.create(name="x1", provider=account, instance_type="x1.odd")
    Price.objects.create(
        kind="aws",
        instance_type="m5.large",
        currency="USD",
        hourly_price=Decimal("0.10"),
        valid_from=datetime(2025, 1, 1, tzinfo=UTC),
    )
    ExchangeRate.objects.create(base="USD", quote="EUR", rate=Decimal("0.9"), valid_from=date(2025, 12, 1))
    other = ClusterFactory(name="other")
    pools = {
        "web": PoolFactory(cluster=cluster, name="web"),
        "api": PoolFactory(cluster=cluster, name="api"),
        "secret": PoolFactory(cluster=other, name="secret"),
    }
    lives = [
        ("web", priced, datetime(2026, 1, 15, tzinfo=UTC), None),
        ("web", priced, datetime(2026, 2, 3, 12, tzinfo=UTC), datetime(2026, 2, 5, tzinfo=UTC)),
        ("api", priced, datetime(2026, 2, 10, tzinfo=UTC), datetime(2026, 2, 20, 6, 30, tzinfo=UTC)),
        ("api", unpriced, datetime(2026, 2, 1, tzinfo=UTC), None),
        ("secret", priced, datetime(2026, 1, 1, tzinfo=UTC), None),
    ]
    for i, (pool, template, launched, ended) in enumerate(lives):
        Host.objects.create(
            hostname=f"h{i}",
            pool=pools[pool],
            provider=account,
            template=template,
            zone="us-east-1a",
            instance_id=f"i-{i}",
            status=HostStatus.TERMINATED if ended else HostStatus.READY,
            launched_at=launched,
            terminated_at=ended,
        )
    return {"pools": pools, "other": other}


def schedule(client, **fields):
    """POST a schedule; the response."""
    body = {"name": "finance", "recipients": ["finance@example.com"], **fields}
    return client.post("/api/v1/cost-report-schedules/", body, format="json")


def costs(client, period, **params):
    """GET /api/v1/costs/ for a period."""
    answer = client.get("/api/v1/costs/", {"start": period[0].isoformat(), "end": period[1].isoformat(), **params})
    assert answer.status_code == 200, answer.content
    return answer.json()


def beat(now=NOW) -> list[int]:
    """What the beat task does at now (it then queues the e-mails): the ids of the reports made."""
    return services.make_due_reports(now)


def csv_rows(text: str) -> list[dict]:
    """A report CSV as dicts."""
    return list(csv.DictReader(io.StringIO(text)))


def xlsx_rows(data: bytes) -> list[dict]:
    """A report workbook's Costs sheet as dicts (numbers as Decimal via their text)."""
    sheet = load_workbook(io.BytesIO(data), read_only=True)["Costs"]
    header, *body = list(sheet.iter_rows(values_only=True))
    return [dict(zip(header, line, strict=True)) for line in body]


def test_report_email_and_files_match_the_cost_api(clients, users, cluster, fleet, smtp):
    """A monthly EUR report by pool: the e-mail's HTML, text and CSV/XLSX attachments give GET /costs/'s figures."""
    made = schedule(
        clients["admin"],
        cluster=cluster.pk,
        group_by=["pool"],
        currency="eur",
        frequency="monthly",
        formats=["csv", "xlsx"],
        recipients=["finance@example.com", "lead@example.org"],
    )
    assert made.status_code == 201, made.content
    body = made.json()
    assert body["owner"] == users["admin"].pk and body["currency"] == "EUR" and body["time_zone"] == "UTC"
    CostReportSchedule.objects.filter(pk=body["id"]).update(created_at=datetime(2026, 2, 15, tzinfo=UTC))

    [report_id] = beat()
    assert mail.deliver(report_id, NOW) is None
    expected = costs(clients["admin"], FEB, group_by="pool", cluster=cluster.pk, currency="EUR")
    before = costs(clients["admin"], JAN, group_by="pool", cluster=cluster.pk, currency="EUR")
    assert Decimal(expected["total"]) > 0 and Decimal(expected["unpriced_host_hours"]) > 0

    report = clients["guest"].get(f"/api/v1/cost-reports/{report_id}/").json()
    assert report["period_start"] == "2026-02-01T00:00:00Z" and report["period_end"] == "2026-03-01T00:00:00Z"
    assert (report["total"], report["currency"]) == (expected["total"], "EUR")
    assert report["previous_total"] == before["total"]
    assert Decimal(report["change"]) == Decimal(expected["total"]) - Decimal(before["total"])
    assert report["unpriced_host_hours"] == expected["unpriced_host_hours"]
    assert report["delivery"] == "sent" and report["attempts"] == 1
    shown = [{k: r[k] for k in ("key", "cost", "host_hours", "unpriced_host_hours")} for r in report["rows"]]
    assert shown == [{k: r[k] for k in ("key", "cost", "host_hours", "unpriced_host_hours")} for r in expected["rows"]]
    previous = {r["key"]: r["cost"] for r in before["rows"]}
    for row in report["rows"]:
        assert row["previous_cost"] == previous.get(row["key"], "0.00")
        assert Decimal(row["change"]) == Decimal(row["cost"]) - Decimal(row["previous_cost"])

    [message] = smtp.messages()
    assert message["From"] == "DCP <dcp@example.com>"
    assert message["To"] == "finance@example.com, lead@example.org"
    assert sorted(smtp.received[0][0]) == ["finance@example.com", "lead@example.org"]
    assert f"{expected['total']} EUR" in message["Subject"] and "2026-02-01 00:00" in message["Subject"]
    html = message.get_body(preferencelist=("html",)).get_content()
    text = message.get_body(preferencelist=("plain",)).get_content()
    for content in (html, text):
        assert expected["total"] in content and expected["unpriced_host_hours"] in content
        assert report["change"] in content and "web" in content and "api" in content
        assert "secret" not in content
    files = attachments(message)
    name = f"cost-report-{body['id']}-2026-02-01"
    assert set(files) == {f"{name}.csv", f"{name}.xlsx"}
    (csv_type, csv_text), (xlsx_type, xlsx_data) = files[f"{name}.csv"], files[f"{name}.xlsx"]
    assert (csv_type, xlsx_type) == ("text/csv", XLSX)
    for lines in (csv_rows(csv_text), xlsx_rows(xlsx_data)):
        *rows, total = lines
        assert total["line"] == "total" and Decimal(str(total["cost"])) == Decimal(expected["total"])
        assert Decimal(str(total["unpriced_host_hours"])) == Decimal(expected["unpriced_host_hours"])
        assert [(r["key"], Decimal(str(r["cost"])), Decimal(str(r["host_hours"]))) for r in rows] == [
            (r["key"], Decimal(r["cost"]), Decimal(r["host_hours"])) for r in expected["rows"]
        ]
        assert [str(r["pool"]) for r in rows] == [str(r["ids"]["pool"]) for r in expected["rows"]]
        assert {r["currency"] for r in lines} == {"EUR"}

    download = clients["guest"].get(f"/api/v1/cost-reports/{report_id}/", {"format": "csv"})
    assert download.status_code == 200 and download["Content-Type"] == "text/csv"
    assert download.content.decode() == csv_text
    workbook = clients["guest"].get(f"/api/v1/cost-reports/{report_id}/", {"format": "xlsx"})
    assert workbook.status_code == 200 and workbook["Content-Type"] == XLSX
    assert xlsx_rows(workbook.content) == xlsx_rows(xlsx_data)
    assert 'filename="cost-report-' in workbook["Content-Disposition"]


def test_a_second_beat_for_the_same_period_makes_no_second_report(clients, cluster, fleet):
    """The same beat run again, or a day later, finds the period's report and makes nothing."""
    made = schedule(clients["admin"], cluster=cluster.pk, frequency="monthly").json()
    CostReportSchedule.objects.filter(pk=made["id"]).update(created_at=datetime(2026, 2, 15, tzinfo=UTC))
    assert len(beat()) == 1
    assert beat() == [] and beat(NOW + timedelta(days=1)) == []
    assert services.make_report(made["id"], FEB, NOW) is None
    assert CostReport.objects.filter(schedule_id=made["id"]).count() == 1


def test_missed_periods_are_made_on_catch_up_within_the_bound(clients, cluster, fleet, settings):
    """DCP down for days: the latest DCP_COST_REPORT_CATCH_UP closed days are reported when it is back."""
    settings.DCP_COST_REPORT_CATCH_UP = 3
    made = schedule(clients["admin"], cluster=cluster.pk, frequency="daily").json()
    CostReportSchedule.objects.filter(pk=made["id"]).update(created_at=NOW - timedelta(days=6))
    assert len(beat()) == 3
    listed = clients["guest"].get("/api/v1/cost-reports/", {"schedule": made["id"]}).json()
    assert [r["period_start"][:10] for r in listed["results"]] == ["2026-03-09", "2026-03-08", "2026-03-07"]
    for report in listed["results"]:
        day = datetime.fromisoformat(report["period_start"])
        expected = costs(clients["admin"], (day, day + timedelta(days=1)), cluster=cluster.pk)
        assert report["total"] == expected["total"]
    assert beat() == []
    assert len(beat(NOW + timedelta(days=1))) == 1


def test_a_new_schedule_reports_from_the_period_it_was_made_in(clients, cluster, fleet):
    """Made today: yesterday is not reported; today is, once it closes."""
    made = schedule(clients["admin"], cluster=cluster.pk, frequency="daily").json()
    assert beat(datetime.now(UTC)) == []
    [report_id] = beat(datetime.now(UTC) + timedelta(days=1))
    assert CostReport.objects.get(pk=report_id).schedule_id == made["id"]


def test_periods_are_cut_in_the_schedule_time_zone(clients, cluster, fleet):
    """A weekly schedule in Asia/Shanghai reports Monday to Monday, midnight there."""
    made = schedule(clients["admin"], cluster=cluster.pk, frequency="weekly", time_zone="Asia/Shanghai").json()
    CostReportSchedule.objects.filter(pk=made["id"]).update(created_at=datetime(2026, 3, 5, tzinfo=UTC))
    [report_id] = beat()
    report = clients["admin"].get(f"/api/v1/cost-reports/{report_id}/").json()
    start, end = datetime.fromisoformat(report["period_start"]), datetime.fromisoformat(report["period_end"])
    assert (start, end) == (datetime(2026, 3, 1, 16, tzinfo=UTC), datetime(2026, 3, 8, 16, tzinfo=UTC))
    assert report["total"] == costs(clients["admin"], (start, end), cluster=cluster.pk)["total"]


def test_a_report_never_covers_clusters_its_owner_cannot_see(clients, users, cluster, fleet):
    """A guest's schedule over 'every cluster' covers its clusters only, and only the owner sees it."""
    made = schedule(clients["guest"], group_by=["cluster", "pool"], frequency="monthly")
    assert made.status_code == 201, made.content
    CostReportSchedule.objects.filter(pk=made.json()["id"]).update(created_at=datetime(2026, 2, 1, tzinfo=UTC))
    [report_id] = beat()
    report = clients["guest"].get(f"/api/v1/cost-reports/{report_id}/").json()
    assert {row["ids"]["cluster"] for row in report["rows"]} == {cluster.pk}
    assert report["total"] == costs(clients["guest"], FEB, group_by="cluster,pool")["total"]
    assert report["total"] != costs(clients["sysadmin"], FEB, group_by="cluster,pool")["total"]
    assert clients["admin"].get(f"/api/v1/cost-reports/{report_id}/").status_code == 404
    assert clients["admin"].get(f"/api/v1/cost-report-schedules/{made.json()['id']}/").status_code == 404


def test_a_schedule_whose_owner_lost_the_cluster_stops_instead_of_reporting(clients, users, cluster, fleet):
    """The owner is no longer a member: no report is made, and the schedule says why it stopped."""
    made = schedule(clients["admin"], cluster=cluster.pk, frequency="monthly").json()
    CostReportSchedule.objects.filter(pk=made["id"]).update(created_at=datetime(2026, 2, 1, tzinfo=UTC))
    Membership.objects.filter(user=users["admin"], cluster=cluster).delete()
    assert beat() == []
    stopped = clients["sysadmin"].get(f"/api/v1/cost-report-schedules/{made['id']}/").json()
    assert stopped["active"] is False and "may no longer see cluster" in stopped["paused_reason"]
    assert not CostReport.objects.exists()


def test_a_recipient_who_is_a_user_that_may_not_see_the_cluster_is_refused(clients, users, cluster, fleet):
    """Members' and outside mailboxes may receive the cluster's reports; a user who is not a member may not, in
    either case of the address, on a cluster schedule or on one of every cluster the owner sees."""
    outsider = users["outsider"].email.upper()
    for scope in ({"cluster": cluster.pk}, {}):
        refused = schedule(clients["admin"], recipients=["finance@example.com", outsider], **scope)
        assert refused.status_code == 400, refused.content
        [line] = refused.json()["recipients"]
        assert line.startswith(f"{outsider} is the address of user outsider, who may not see cluster {cluster.name}")
        assert "make the user a member" in line
    assert not CostReportSchedule.objects.exists()
    made = schedule(clients["admin"], cluster=cluster.pk, recipients=["finance@example.com", users["guest"].email])
    assert made.status_code == 201, made.content
    moved = clients["admin"].patch(
        f"/api/v1/cost-report-schedules/{made.json()['id']}/", {"recipients": [outsider]}, format="json"
    )
    assert moved.status_code == 400 and "outsider" in moved.json()["recipients"][0]
    assert CostReportSchedule.objects.get().recipients == ["finance@example.com", users["guest"].email]


def test_a_schedule_whose_recipient_lost_the_cluster_stops_instead_of_sending(clients, users, cluster, fleet, smtp):
    """A recipient who was a member when the schedule was made and no longer is: no report, and the schedule
    says why it stopped."""
    made = schedule(clients["admin"], cluster=cluster.pk, frequency="monthly", recipients=[users["guest"].email])
    assert made.status_code == 201, made.content
    CostReportSchedule.objects.filter(pk=made.json()["id"]).update(created_at=datetime(2026, 2, 1, tzinfo=UTC))
    Membership.objects.filter(user=users["guest"], cluster=cluster).delete()
    assert beat() == []
    stopped = clients["admin"].get(f"/api/v1/cost-report-schedules/{made.json()['id']}/").json()
    assert stopped["active"] is False
    assert stopped["paused_reason"] == (
        f"Recipient {users['guest'].email} is the address of user guest-user, who may not see cluster {cluster.name}."
    )
    assert not CostReport.objects.exists() and smtp.messages() == []


def test_roles_on_schedules_and_reports(clients, users, cluster, fleet):
    """Admins manage, developers and guests read, non-members get 404 like a missing id."""
    assert schedule(clients["developer"], cluster=cluster.pk).status_code == 403
    assert schedule(clients["guest"], cluster=cluster.pk).status_code == 403
    assert schedule(clients["outsider"], cluster=cluster.pk).status_code == 400
    assert schedule(clients["anonymous"], cluster=cluster.pk).status_code == 401
    made = schedule(clients["admin"], cluster=cluster.pk, frequency="monthly").json()
    url = f"/api/v1/cost-report-schedules/{made['id']}/"
    CostReportSchedule.objects.filter(pk=made["id"]).update(created_at=datetime(2026, 2, 1, tzinfo=UTC))
    [report_id] = beat()
    for role in ("developer", "guest"):
        assert clients[role].get(url).status_code == 200
        assert clients[role].patch(url, {"active": False}, format="json").status_code == 403
        assert clients[role].delete(url).status_code == 403
        assert clients[role].get(f"/api/v1/cost-reports/{report_id}/", {"format": "csv"}).status_code == 200
    for path in (url, f"/api/v1/cost-reports/{report_id}/"):
        missing = clients["outsider"].get(path, {"format": "csv"} if "reports" in path else {})
        assert missing.status_code == 404 and missing["Content-Type"] == "application/json"
    assert clients["outsider"].get("/api/v1/cost-reports/").json()["count"] == 0
    assert clients["outsider"].patch(url, {"active": False}, format="json").status_code == 404
    changed = clients["admin"].patch(url, {"recipients": ["ops@example.com"], "owner": 999}, format="json")
    assert changed.status_code == 200 and changed.json()["recipients"] == ["ops@example.com"]
    assert changed.json()["owner"] == users["admin"].pk
    other_admin = UserFactory(username="other-admin")
    MembershipFactory(cluster=fleet["other"], user=other_admin, role="admin")
    moved = client_for(other_admin).patch(url, {"cluster": fleet["other"].pk}, format="json")
    assert moved.status_code == 404
    away = clients["admin"].patch(url, {"cluster": fleet["other"].pk}, format="json")
    assert away.status_code == 400 and "cluster" in away.json()
    assert clients["admin"].delete(url).status_code == 204
    assert not CostReport.objects.filter(pk=report_id).exists()


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"recipients": []}, "recipients"),
        ({"recipients": None}, "recipients"),
        ({"recipients": ["not-an-address"]}, "recipients"),
        ({"recipients": ["a@example.com", "a@example.com"]}, "recipients"),
        ({"recipients": "a@example.com"}, "recipients"),
        ({"currency": "XYZ"}, "currency"),
        ({"currency": "CHF"}, "currency"),
        ({"group_by": ["colour"]}, "group_by"),
        ({"group_by": "pool"}, "group_by"),
        ({"group_by": []}, "group_by"),
        ({"formats": ["pdf"]}, "formats"),
        ({"formats": []}, "formats"),
        ({"frequency": "hourly"}, "frequency"),
        ({"time_zone": "Mars/Olympus"}, "time_zone"),
        ({"cluster": 10**6}, "cluster"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(clients, cluster, fields, field):
    """Each mistake is named; nothing is stored."""
    answer = schedule(clients["admin"], **{"cluster": cluster.pk, **fields})
    assert answer.status_code == 400, answer.content
    assert field in answer.json() and answer.json()[field]
    assert not CostReportSchedule.objects.exists()


def test_missing_recipients_are_refused(clients, cluster):
    """A schedule sends e-mail: recipients are required."""
    answer = clients["admin"].post("/api/v1/cost-report-schedules/", {"name": "x"}, format="json")
    assert answer.status_code == 400 and "recipients" in answer.json()


def test_an_unknown_download_format_is_a_400_naming_the_formats(clients, cluster, fleet):
    """?format= other than json, csv or xlsx: a 400 in JSON that lists them."""
    made = schedule(clients["admin"], cluster=cluster.pk, frequency="monthly").json()
    CostReportSchedule.objects.filter(pk=made["id"]).update(created_at=datetime(2026, 2, 1, tzinfo=UTC))
    [report_id] = beat()
    answer = clients["admin"].get(f"/api/v1/cost-reports/{report_id}/", {"format": "pdf"})
    assert answer.status_code == 400 and answer["Content-Type"] == "application/json"
    assert answer.json()["format"] == ["Unknown format 'pdf': use csv, json, xlsx."]


def test_a_failed_delivery_is_retried_with_back_off_then_recorded_failed(clients, cluster, fleet, smtp, settings):
    """The server refuses every try: tries 60 s, then 120 s apart, then the report says failed and why."""
    settings.DCP_COST_REPORT_ATTEMPTS, settings.DCP_COST_REPORT_RETRY_SECONDS = 3, 60
    made = schedule(clients["admin"], cluster=cluster.pk, frequency="monthly").json()
    CostReportSchedule.objects.filter(pk=made["id"]).update(created_at=datetime(2026, 2, 1, tzinfo=UTC))
    [report_id] = beat()
    smtp.refuse = True
    assert mail.deliver(report_id, NOW) == 60
    assert mail.deliver(report_id, NOW + timedelta(seconds=30)) is None  # not due yet: nothing tried
    assert services.due_deliveries(NOW + timedelta(seconds=30)) == []
    assert services.due_deliveries(NOW + timedelta(seconds=60)) == [report_id]
    assert mail.deliver(report_id, NOW + timedelta(seconds=60)) == 120
    assert mail.deliver(report_id, NOW + timedelta(seconds=180)) is None
    report = clients["guest"].get(f"/api/v1/cost-reports/{report_id}/").json()
    assert (report["delivery"], report["attempts"], smtp.refused) == ("failed", 3, 3)
    assert "554" in report["delivery_error"] and report["next_attempt_at"] is None
    smtp.refuse = False
    assert mail.deliver(report_id, NOW + timedelta(days=1)) is None
    assert smtp.messages() == []
    failed = clients["guest"].get("/api/v1/cost-reports/", {"delivery": "failed"}).json()
    assert [r["id"] for r in failed["results"]] == [report_id]


def test_an_unreachable_mail_server_is_a_failed_try(clients, cluster, fleet, settings):
    """Nothing listens on the port: the try is recorded with the connection error and retried later."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 1, 5
    made = schedule(clients["admin"], cluster=cluster.pk, frequency="monthly").json()
    CostReportSchedule.objects.filter(pk=made["id"]).update(created_at=datetime(2026, 2, 1, tzinfo=UTC))
    [report_id] = beat()
    assert mail.deliver(report_id, NOW) == settings.DCP_COST_REPORT_RETRY_SECONDS
    report = CostReport.objects.get(pk=report_id)
    assert report.delivery == "pending" and "ConnectionRefusedError" in report.delivery_error


def test_the_demo_sends_yesterdays_report_where_the_user_can_read_it(settings, tmp_path):
    """manage.py demo: with the embedded default's file backend, a report e-mail lands in the mail folder, once."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = str(tmp_path)
    out = io.StringIO()
    call_command("demo", stdout=out)
    assert f"e-mail is written as files to {tmp_path}" in out.getvalue()
    assert "Yesterday's report (" in out.getvalue() and "was sent" in out.getvalue()
    [written] = list(tmp_path.iterdir())
    message = email.message_from_bytes(written.read_bytes().split(b"\n" + b"-" * 79 + b"\n")[0], policy=email_policy)
    assert message["Subject"].startswith("DCP cost report demo daily costs") and message["To"] == "finance@example.com"
    assert {name.rsplit(".", 1)[1] for name in attachments(message)} == {"csv", "xlsx"}
    call_command("demo", stdout=io.StringIO())
    assert len(list(tmp_path.iterdir())) == 1 and CostReport.objects.count() == 1


def test_names_stay_text_in_the_workbook(clients, cluster, fleet):
    """A pool named like a formula is text in the XLSX, never a formula Excel would run."""
    fleet["pools"]["web"].name = '=HYPERLINK("http://example.com","web")'
    fleet["pools"]["web"].save(update_fields=["name"])
    made = schedule(clients["admin"], cluster=cluster.pk, frequency="monthly", formats=["xlsx"]).json()
    CostReportSchedule.objects.filter(pk=made["id"]).update(created_at=datetime(2026, 2, 15, tzinfo=UTC))
    [report_id] = beat()
    data = clients["admin"].get(f"/api/v1/cost-reports/{report_id}/", {"format": "xlsx"}).content
    sheet = load_workbook(io.BytesIO(data))["Costs"]
    keys = {cell.value: cell.data_type for cell in sheet["E"][1:]}
    assert keys['=HYPERLINK("http://example.com","web")'] == "s"
    assert {cell.data_type for cell in sheet["F"][1:]} == {"n"}
