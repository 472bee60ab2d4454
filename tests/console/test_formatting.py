"""Times, figures and money as the console prints them, in each language, with the time zone named."""

import re
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone, translation

from apps.console.formatting import clock, money, number, when
from tests.costs.test_where_people_look import never_launched, running
from tests.factories import PoolFactory

MOMENT = datetime(2026, 12, 5, 8, 7, 9, 123456, tzinfo=UTC)


@pytest.mark.parametrize(
    ("language", "zone", "expected"),
    [
        ("en", "UTC", "Dec 5, 2026, 08:07:09 UTC"),
        ("zh-hans", "UTC", "2026年12月5日 08:07:09 UTC"),
        ("zh-hans", "Asia/Shanghai", "2026年12月5日 16:07:09 CST"),
    ],
)
def test_a_time_in_the_readers_format_names_its_time_zone(language, zone, expected):
    """The console's time zone turns the instant into local time, and says which zone it is."""
    with translation.override(language), timezone.override(zone):
        assert when(MOMENT) == expected
        assert clock(MOMENT) == f"{expected.split()[-2]}.123 {expected.split()[-1]}"


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_figures_are_grouped_and_money_carries_its_currency(language):
    """Thousands are grouped; an amount shows its currency code; unknown stays unknown, never 0."""
    with translation.override(language):
        assert number(Decimal("1234567.50")) == "1,234,567.50"
        assert money(Decimal("1234.5"), "CNY") == "1,234.5 CNY"
        assert money("0.36", "USD") == "0.36 USD"
        assert money(None, "USD") == "–"
        assert when(None) == "" and number(None) == ""


@pytest.mark.django_db
def test_the_host_page_shows_its_rate_and_cost_with_the_currency(cluster, users, priced):
    """A host at 0.36 USD an hour for 30 hours: its page says 0.36 USD an hour and 10.80 USD so far."""
    host = running(PoolFactory(cluster=cluster), priced, hours=30)[0]
    client = Client()
    client.force_login(users["guest"])
    page = client.get(f"/hosts/{host.pk}/").content.decode()
    assert re.search(r'data-figure="hourly-price">0\.36(0*) USD<', page)
    assert re.search(r'data-figure="cost">10\.8\d USD<', page)


@pytest.mark.django_db
def test_the_page_of_a_host_that_never_launched_shows_a_zero_in_its_currency(cluster, users, priced):
    """No instance was ever created: the page says it cost 0.00 USD, rounded as money is, never a bare 0."""
    host = never_launched(PoolFactory(cluster=cluster), priced)
    client = Client()
    client.force_login(users["guest"])
    page = client.get(f"/hosts/{host.pk}/").content.decode()
    assert re.search(r'data-figure="cost">0\.00 USD<', page)
