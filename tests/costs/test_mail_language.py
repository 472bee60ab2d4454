"""E-mails in the reader's language: a recipient who is a DCP user with a chosen console language reads the
budget alert and the cost report in it; any other address reads DCP_LANGUAGE.

The SMTP server is a real one (aiosmtpd on loopback); the checks read the messages it received.
"""

from datetime import UTC, datetime

import pytest

from apps.console.models import remember
from apps.costs.budgets import delivery
from apps.costs.reports import mail
from apps.costs.reports.models import CostReportSchedule
from tests.costs import test_reports
from tests.costs.test_budget_alerts import deliver_due, make_budget, spending
from tests.costs.test_reports import NOW, beat, schedule
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db
# The cost report tests' fixtures: a module-wide SMTP server, DCP's mail pointed at it, a priced fleet.
inbox, smtp, fleet = test_reports.inbox, test_reports.smtp, test_reports.fleet
ALERT_AT = datetime(2026, 3, 20, 12, tzinfo=UTC)


@pytest.fixture
def wang(cluster):
    """A cluster admin who chose Chinese on the console, with an address in mixed case."""
    user = UserFactory(username="wang", email="Wang.Lei@Example.com")
    MembershipFactory(cluster=cluster, user=user, role="admin")
    remember(user, "language", "zh-hans")
    return user


def by_recipient(server) -> dict[str, object]:
    """Each received message by its one recipient."""
    return {rcpt[0].lower(): message for (rcpt, _), message in zip(server.received, server.messages(), strict=True)}


def test_a_budget_alert_speaks_each_recipients_language(cluster, wang, smtp, settings):
    """Wang reads the alert in Chinese; an address of no user reads DCP_LANGUAGE (English, then Chinese)."""
    spending(cluster, datetime(2026, 3, 1, tzinfo=UTC))
    make_budget(
        cluster,
        [{"email": "wang.lei@example.com"}, {"email": "finance@example.com"}],
        thresholds=[{"percent": 50, "of": "actual"}],
    )
    delivery.check_budgets(ALERT_AT)
    assert deliver_due(ALERT_AT) == ["sent", "sent"]
    got = by_recipient(smtp)
    assert got["wang.lei@example.com"]["Subject"].strip() == "DCP 预算 compute：已达到实际花费的 50%"
    chinese = got["wang.lei@example.com"].get_content()
    assert "已花费：70.20 USD（70.2%）" in chinese and "周期：2026-03-01 至 2026-04-01（月）" in chinese
    assert got["finance@example.com"]["Subject"] == "DCP budget compute: 50% of actual spend reached"
    assert "Spent: 70.20 USD (70.2%)" in got["finance@example.com"].get_content()


def test_dcp_language_is_the_default_for_unknown_addresses(cluster, smtp, settings):
    """With DCP_LANGUAGE=zh-hans an address that is no user's gets the alert in Chinese."""
    settings.DCP_LANGUAGE = "zh-hans"
    spending(cluster, datetime(2026, 3, 1, tzinfo=UTC))
    make_budget(cluster, [{"email": "ops@example.com"}], thresholds=[{"percent": 50, "of": "actual"}])
    delivery.check_budgets(ALERT_AT)
    assert deliver_due(ALERT_AT) == ["sent"]
    [message] = smtp.messages()
    assert message["Subject"].strip().startswith("DCP 预算 compute：")


def test_a_cost_report_goes_out_once_per_language(clients, cluster, fleet, wang, smtp):
    """One report, two recipients of different languages: a Chinese and an English e-mail, each complete."""
    monthly = {"cluster": cluster.pk, "group_by": ["pool"], "frequency": "monthly", "formats": ["csv"]}
    made = schedule(clients["admin"], recipients=["finance@example.com", "wang.lei@example.com"], **monthly)
    assert made.status_code == 201, made.content
    CostReportSchedule.objects.filter(pk=made.json()["id"]).update(created_at=datetime(2026, 2, 15, tzinfo=UTC))
    [report_id] = beat()
    assert mail.deliver(report_id, NOW) is None
    got = by_recipient(smtp)
    assert set(got) == {"finance@example.com", "wang.lei@example.com"}
    chinese, english = got["wang.lei@example.com"], got["finance@example.com"]
    assert chinese["Subject"].strip().startswith("DCP 成本报告 finance：2026-02-01 00:00 至 2026-03-01 00:00，")
    assert english["Subject"].startswith("DCP cost report finance: 2026-02-01 00:00 to 2026-03-01 00:00, ")
    text = chinese.get_body(preferencelist=("plain",)).get_content()
    html = chinese.get_body(preferencelist=("html",)).get_content()
    assert "总计：" in text and "上一周期：" in text and "Total" not in text
    assert '<html lang="zh-hans">' in html and "无价格的主机小时数" in html
    assert "Total:" in english.get_body(preferencelist=("plain",)).get_content()
    assert [part.get_filename() for part in chinese.iter_attachments()] == [
        part.get_filename() for part in english.iter_attachments()
    ]
