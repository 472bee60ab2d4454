"""dcp report list and download against a server with scheduled cost reports (skipped on one without)."""

from datetime import UTC, datetime

import pytest

from apps.core.choices import Role
from tests.conftest import client_for
from tests.factories import MembershipFactory, UserFactory

reports = pytest.importorskip("apps.costs.reports.services", reason="this server has no cost reports")
pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def report(demo):
    """February's report of a monthly schedule on cluster demo, made as the beat task makes it in March."""
    from apps.costs.reports.models import CostReportSchedule

    admin = UserFactory(username="demo-admin")
    MembershipFactory(cluster=demo.cluster, user=admin, role=Role.ADMIN)
    body = {
        "name": "finance",
        "recipients": ["finance@example.com"],
        "cluster": demo.cluster.pk,
        "frequency": "monthly",
    }
    answer = client_for(admin).post("/api/v1/cost-report-schedules/", body, format="json")
    assert answer.status_code == 201, answer.content
    CostReportSchedule.objects.filter(pk=answer.json()["id"]).update(created_at=datetime(2026, 2, 1, tzinfo=UTC))
    [made] = reports.make_due_reports(datetime(2026, 3, 10, 9, 0, tzinfo=UTC))
    return made


def test_list_and_download(dcp, demo, report):
    """The list is the API's; CSV and XLSX download to the server's file name, to a named file, or to stdout."""
    listed = dcp.json("report", "list", "--schedule", "finance")
    assert listed == client_for(demo.developer).get("/api/v1/cost-reports/").json()["results"]
    assert [row["id"] for row in listed] == [report]

    api_csv = client_for(demo.developer).get(f"/api/v1/cost-reports/{report}/", {"format": "csv"})
    to_stdout = dcp("report", "download", str(report), "-O", "-")
    # (read as text here, so compared line by line; the file written below is compared byte for byte)
    assert to_stdout.returncode == 0 and to_stdout.stdout.splitlines() == api_csv.content.decode().splitlines()

    saved = dcp("report", "download", str(report), "--format", "xlsx")
    assert saved.returncode == 0, saved.stderr
    [written] = [path for path in dcp.home.iterdir() if path.suffix == ".xlsx"]
    assert written.read_bytes()[:2] == b"PK"  # a zip: an XLSX workbook
    named = dcp("report", "download", str(report), "-O", "feb.csv")
    assert named.returncode == 0 and (dcp.home / "feb.csv").read_bytes() == api_csv.content

    missing = dcp("report", "download", "999999")
    assert missing.returncode == 1
