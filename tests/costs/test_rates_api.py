"""Exchange rates through the API as users meet them: who writes, bad input, and a rate's effect on costs."""

from decimal import Decimal

import pytest

from apps.costs.models import ExchangeRate, Price
from tests.costs.test_api import DAY, T0, aws, costs, host  # noqa: F401 - aws is a fixture
from tests.costs.world import at
from tests.factories import PoolFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/exchange-rates/"


def rate(client, **fields):
    """POST a rate; the response."""
    return client.post(
        URL, {"base": "EUR", "quote": "USD", "rate": "1.1", "valid_from": "2026-01-01", **fields}, format="json"
    )


def test_only_system_administrators_write_rates_and_everyone_signed_in_reads(clients):
    """Cluster roles and outsiders get 403 on writes; everyone signed in lists them; anonymous gets 401."""
    for role in ("admin", "developer", "guest", "outsider"):
        assert rate(clients[role]).status_code == 403
    created = rate(clients["sysadmin"], base="eur", quote="usd")
    assert created.status_code == 201, created.json()
    assert {k: created.json()[k] for k in ("base", "quote", "rate", "valid_from")} == {
        "base": "EUR",
        "quote": "USD",
        "rate": "1.1000000000",
        "valid_from": "2026-01-01",
    }
    for role in ("admin", "guest", "outsider", "sysadmin"):
        assert clients[role].get(URL).json()["count"] == 1
    assert clients["anonymous"].get(URL).status_code == 401
    detail = f"{URL}{created.json()['id']}/"
    assert clients["guest"].patch(detail, {"rate": "9"}, format="json").status_code == 403
    assert clients["guest"].delete(detail).status_code == 403
    assert ExchangeRate.objects.get().rate == Decimal("1.1")


@pytest.mark.parametrize(
    ("fields", "field", "says"),
    [
        ({"base": "XYZ"}, "base", "not an ISO 4217"),
        ({"quote": "dollars"}, "quote", "no more than 3 characters"),
        ({"quote": "EUR"}, "quote", "must differ from base"),
        ({"rate": "0"}, "rate", "above 0"),
        ({"rate": "-1.5"}, "rate", "above 0"),
        ({"rate": "lots"}, "rate", 'e.g. "12.50"'),
        ({"valid_from": "yesterday"}, "valid_from", "Date has wrong format"),
    ],
)
def test_bad_rates_are_a_400_saying_what_to_fix_and_store_nothing(clients, fields, field, says):
    """Each mistake is named in its field."""
    answer = rate(clients["sysadmin"], **fields)
    assert answer.status_code == 400, answer.json()
    assert says in str(answer.json()[field]), answer.json()
    assert not ExchangeRate.objects.exists()


def test_a_second_rate_for_the_same_day_is_refused_and_a_later_day_starts_a_new_rate(clients, cluster, aws):  # noqa: F811
    """One rate per pair and day; a rate from a later day converts from that day on, read by the cost API."""
    admin = clients["sysadmin"]
    assert rate(admin, rate="1.5").status_code == 201
    again = rate(admin, rate="2")
    assert again.status_code == 400 and "already has a rate from 2026-01-01" in again.json()["valid_from"][0]
    assert rate(admin, rate="2", valid_from="2026-01-02").status_code == 201
    Price.objects.create(
        provider=aws.provider, instance_type="m5.large", currency="EUR", hourly_price=1, valid_from=at(T0 - DAY)
    )
    host(PoolFactory(cluster=cluster), aws, T0 + 12 * 3600, T0 + DAY + 12 * 3600)  # 12 h on each day
    answer = costs(clients["guest"], group_by="pool").json()
    assert (answer["total"], answer["missing_rates"]) == ("42.00", [])  # 12 × 1.5 + 12 × 2
