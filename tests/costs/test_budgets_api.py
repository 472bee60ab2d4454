"""Budgets through the API: who may read and manage them, what bad input is told, recipients' secrets."""

from decimal import Decimal

import pytest
from django.db import connection

from apps.costs.budgets.models import Budget
from apps.costs.models import ExchangeRate
from tests.factories import ClusterFactory, MembershipFactory, PoolFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/budgets/"
ROBOT = "https://oapi.dingtalk.com/robot/send?access_token=secret-robot-token"


def body(cluster, **changes) -> dict:
    """A valid budget body for cluster."""
    return {
        "cluster": cluster.pk,
        "name": "compute",
        "period": "month",
        "amount": "1000.00",
        "currency": "USD",
        "thresholds": [{"percent": 80, "of": "actual"}, {"percent": 100, "of": "forecast"}],
        "notify": [{"email": "ops@example.com"}, {"url": ROBOT, "shape": "dingtalk"}],
        **changes,
    }


def test_cluster_admins_manage_members_read_others_learn_nothing(clients, cluster):
    """Admin creates and changes; developer and guest read only; an outsider gets 404s and an empty list."""
    created = clients["admin"].post(URL, body(cluster), format="json")
    assert created.status_code == 201, created.json()
    budget = created.json()
    assert budget["status"] == "ok" and budget["spent"] == "0.00" and budget["forecast"] == "0.00"
    assert budget["period_start"] < budget["period_end"]
    detail = f"{URL}{budget['id']}/"
    for role in ("developer", "guest"):
        assert clients[role].get(detail).json()["amount"] == "1000.00"
        assert clients[role].patch(detail, {"amount": "5.00"}, format="json").status_code == 403
        assert clients[role].post(URL, body(cluster), format="json").status_code == 403
    assert clients["admin"].patch(detail, {"amount": "1500.00"}, format="json").status_code == 200
    no_percent = clients["admin"].patch(detail, {"thresholds": [{"of": "actual"}]}, format="json")
    assert no_percent.status_code == 400 and "percent" in no_percent.json()["thresholds"][0]
    only_percent = clients["admin"].patch(detail, {"thresholds": [{"percent": 90}]}, format="json")
    assert only_percent.json()["thresholds"] == [{"percent": 90, "of": "actual"}]
    outsider = clients["outsider"]
    for path in (detail, f"{detail}alerts/", f"{detail}burndown/"):
        assert outsider.get(path).status_code == 404
    assert outsider.get(URL).json()["count"] == 0
    assert outsider.patch(detail, {"amount": "1.00"}, format="json").status_code == 404
    refused = outsider.post(URL, body(cluster), format="json")
    assert refused.status_code == 400 and "cluster" in refused.json()
    assert clients["guest"].delete(detail).status_code == 403
    assert clients["admin"].delete(detail).status_code == 204
    assert Budget.objects.count() == 0


def test_a_budget_of_one_pool_must_name_a_pool_of_its_cluster(clients, users, cluster):
    """A pool of another cluster (the admin's own, even) is refused."""
    other = ClusterFactory()
    MembershipFactory(cluster=other, user=users["admin"], role="admin")
    foreign = PoolFactory(cluster=other)
    answer = clients["admin"].post(URL, body(cluster, pool=foreign.pk), format="json")
    assert answer.status_code == 400 and "is not in cluster" in answer.json()["pool"][0]
    mine = PoolFactory(cluster=cluster)
    assert clients["admin"].post(URL, body(cluster, pool=mine.pk), format="json").status_code == 201


@pytest.mark.parametrize(
    ("changes", "field", "says"),
    [
        ({"amount": "-5.00"}, "amount", "above 0"),
        ({"amount": "0"}, "amount", "above 0"),
        ({"amount": "10.005"}, "amount", "2 decimal places"),
        ({"thresholds": [{"percent": 1001, "of": "actual"}]}, "thresholds", "1000"),
        ({"thresholds": [{"percent": 0, "of": "actual"}]}, "thresholds", "1"),
        ({"thresholds": [{"percent": 80, "of": "budget"}]}, "thresholds", "not a valid choice"),
        ({"thresholds": [{"percent": 80}, {"percent": 80, "of": "actual"}]}, "thresholds", "once"),
        ({"currency": "XYZ"}, "currency", "not an ISO 4217"),
        ({"currency": "EUR"}, "currency", "No exchange rates to or from EUR"),
        ({"notify": [{"email": "not-an-address"}]}, "notify", "not an e-mail address"),
        ({"notify": [{"url": "ftp://example.com/hook"}]}, "notify", "not an http or https URL"),
        ({"notify": [{"url": "https://example.com/hook", "shape": "slack"}]}, "notify", "shape must be one of"),
        ({"notify": [{"email": "a@example.com", "url": "https://example.com/"}]}, "notify", "with no other keys"),
        ({"notify": []}, "notify", "at least one"),
        ({"period": "week"}, "period", "not a valid choice"),
        ({"amount": 1000}, "amount", "JSON string"),
    ],
)
def test_bad_input_is_a_400_saying_what_to_fix_and_stores_nothing(clients, cluster, changes, field, says):
    """Each mistake is named in its field; nothing is stored."""
    answer = clients["admin"].post(URL, body(cluster, **changes), format="json")
    assert answer.status_code == 400, answer.json()
    assert says in str(answer.json()[field]), answer.json()
    assert Budget.objects.count() == 0


def test_a_currency_with_exchange_rates_is_accepted(clients, cluster):
    """EUR once it has a rate; JPY amounts in whole yen."""
    ExchangeRate.objects.create(base="EUR", quote="USD", rate=Decimal("1.1"), valid_from="2020-01-01")
    assert clients["admin"].post(URL, body(cluster, currency="EUR"), format="json").status_code == 201
    ExchangeRate.objects.create(base="USD", quote="JPY", rate=Decimal("150"), valid_from="2020-01-01")
    jpy = clients["admin"].post(URL, body(cluster, currency="jpy", amount="100000"), format="json")
    assert jpy.status_code == 201 and (jpy.json()["currency"], jpy.json()["amount"]) == ("JPY", "100000")


def test_no_thresholds_need_no_recipients(clients, cluster):
    """A budget that only guards scale-outs may have neither."""
    answer = clients["admin"].post(URL, body(cluster, thresholds=[], notify=[], enforce=True), format="json")
    assert answer.status_code == 201 and answer.json()["enforce"] is True


def test_webhook_tokens_are_stored_encrypted_never_shown_and_survive_a_put_back(clients, cluster):
    """The robot's access token is hidden in answers and in the audit log; PUT of what was read keeps it."""
    created = clients["admin"].post(URL, body(cluster), format="json").json()
    shown = created["notify"][1]
    assert shown == {"url": "https://oapi.dingtalk.com/robot/send?***", "shape": "dingtalk"}
    assert "secret-robot-token" not in str(clients["guest"].get(URL).json())
    budget = Budget.objects.get()
    assert budget.notify[1]["url"] == ROBOT
    with connection.cursor() as cursor:
        cursor.execute("SELECT recipients FROM costs_budget")
        assert "secret-robot-token" not in cursor.fetchone()[0]
    audit = clients["sysadmin"].get("/api/v1/audit/").json()
    assert "secret-robot-token" not in str(audit)
    read = clients["admin"].get(f"{URL}{created['id']}/").json()
    writable = {k: read[k] for k in ("cluster", "name", "period", "amount", "currency", "thresholds", "notify")}
    assert clients["admin"].put(f"{URL}{created['id']}/", read, format="json").status_code == 200
    assert clients["admin"].put(f"{URL}{created['id']}/", writable, format="json").status_code == 200
    budget.refresh_from_db()
    assert budget.notify[1]["url"] == ROBOT
    hidden_new = {**writable, "notify": [{"url": "https://example.com/hook?***"}]}
    answer = clients["admin"].put(f"{URL}{created['id']}/", hidden_new, format="json")
    assert answer.status_code == 400 and "give the whole URL" in answer.json()["notify"][0]


def test_alerts_and_burndown_answer_for_an_empty_cluster(clients, cluster):
    """No hosts: no alerts, and a burn-down of zeros over every day of this month."""
    created = clients["admin"].post(URL, body(cluster), format="json").json()
    alerts = clients["guest"].get(f"{URL}{created['id']}/alerts/").json()
    assert alerts["count"] == 0 and alerts["results"] == []
    chart = clients["guest"].get(f"{URL}{created['id']}/burndown/").json()
    assert chart["currency"] == "USD" and chart["forecast"] == "0.00"
    assert 28 <= len(chart["days"]) <= 31
    assert chart["days"][0]["spent"] == "0.00" and chart["days"][-1]["forecast"] == "0.00"
