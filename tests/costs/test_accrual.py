"""Accrual against the brute-force reference: any lives, prices, billing rules, minimums, windows and groupings.

Hypothesis generates host lives around a month boundary (which is also a day
boundary, where exchange rates change), catalog rows with gaps (unpriced time),
account- and kind-level rows of different specificity, per-second rows with
minimums and per-hour rows; DCP's answer must equal the reference to the cent.
"""

from dataclasses import replace
from datetime import date
from decimal import Decimal
from fractions import Fraction

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.costs.choices import Dimension
from apps.costs.periods import buckets
from apps.costs.queries import CostQuery, answer
from apps.costs.services import host_costs
from apps.inventory.models import Host
from tests.costs.reference import Life, Reference, Row
from tests.costs.world import World, at, cents, hours

BASE = 1769893200  # 2026-01-31T21:00:00Z: the month (and day) turns 3 hours in
SPAN = 6 * 3600
NOW = BASE + SPAN + 600

lives_strategy = st.lists(
    st.tuples(
        st.integers(0, 2),  # pool
        st.integers(0, 1),  # account
        st.sampled_from(["small", "large"]),
        st.sampled_from(["a", "b"]),
        st.integers(BASE, BASE + SPAN - 1),  # launched
        st.one_of(st.none(), st.integers(1, 120), st.integers(1, 3 * 3600)),  # lifetime; None: still running
    ),
    min_size=1,
    max_size=5,
)
key_strategy = st.tuples(
    st.sampled_from([None, 0, 1]),  # None: every aws account; else that account
    st.sampled_from(["small", "large"]),
    st.sampled_from(["", "a"]),
)
rows_strategy = st.lists(
    st.tuples(
        key_strategy,
        st.one_of(
            st.lists(st.integers(BASE - 3600, BASE + SPAN), min_size=1, max_size=4, unique=True),
            st.lists(st.integers(BASE, BASE + SPAN), max_size=3, unique=True).map(lambda cuts: [BASE - 3600, *cuts]),
        ),
        st.lists(
            st.tuples(
                st.booleans(),  # a row here (else a gap)
                st.sampled_from(["0.36", "1.2", "0.0104", "3"]),
                st.sampled_from(["USD", "EUR"]),
                st.sampled_from([(False, 0), (False, 60), (False, 3600), (True, 0)]),  # (per hour, minimum)
            ),
            min_size=4,
            max_size=4,
        ),
        st.booleans(),  # the last row is open-ended
    ),
    min_size=1,
    max_size=4,
    unique_by=lambda item: item[0],
)
rates_strategy = st.lists(
    st.tuples(
        st.sampled_from([date(2026, 1, 31), date(2026, 2, 1)]), st.booleans(), st.sampled_from(["1.1", "2", "0.8"])
    ),
    max_size=2,
    unique_by=lambda item: item[0],
)


@st.composite
def query_strategy(draw):
    """Dimensions, a window (often the whole span, else any part of it), a step and a currency."""
    start = draw(st.one_of(st.just(BASE - 1800), st.integers(BASE - 1800, BASE + SPAN)))
    end = draw(st.one_of(st.just(BASE + SPAN + 1800), st.integers(start + 1, BASE + SPAN + 1800)))
    dims = draw(st.lists(st.sampled_from(Dimension.values()), min_size=1, max_size=2, unique=True))
    return dims, start, end - start, draw(st.sampled_from([None, "day"])), draw(st.sampled_from(["USD", "EUR"]))


def _rows(world: World, spec) -> list[Row]:
    rows = []
    for (account, instance_type, zone), cuts, plan, open_end in spec:
        points = sorted(cuts)
        for index, start in enumerate(points):
            present, price, currency, (hourly, minimum) = plan[index]
            end = points[index + 1] if index + 1 < len(points) else (None if open_end else start + 3600)
            if present:
                provider = world.accounts[account].pk if account is not None else None
                row = Row(provider, "aws", instance_type, zone, currency, Decimal(price), hourly, minimum, start, end)
                world.price(row)
                rows.append(row)
    return rows


def _fleet(lives_spec, rows_spec, rates_spec) -> tuple[list, list[Row], dict]:
    """The hosts, catalog rows and exchange rates of the specs, made in the database and as the reference's."""
    world = World()
    lives = [
        world.host(pool, account, kind, zone, launched, min(launched + life, NOW) if life else None)
        for pool, account, kind, zone, launched, life in lives_spec
    ]
    rows = _rows(world, rows_spec)
    rates = {}
    for day, direct, rate in rates_spec:
        pair = ("EUR", "USD") if direct else ("USD", "EUR")
        value = (Decimal(rate) if direct else Decimal(1) / Decimal(rate)).quantize(Decimal("0.0000000001"))
        world.rate(*pair, value, day)
        rates.setdefault(pair, {})[day] = value
    return lives, rows, rates


def _compare(api_rows: list[dict], expected: dict, dims: list[str], currency: str) -> Fraction:
    got = {tuple(row["ids"][d] for d in dims): row for row in api_rows}
    wanted = {group: sums for group, sums in expected.items() if sums.seconds or sums.amount}
    assert set(got) == set(wanted)
    for group, sums in wanted.items():
        row = got[group]
        assert (row["cost"], row["host_hours"], row["unpriced_host_hours"]) == (
            cents(sums.amount, 2),
            hours(sums.seconds),
            hours(sums.unpriced),
        ), group
    return sum((s.amount for s in wanted.values()), Fraction(0))


@pytest.fixture(params=["curves", "off-grid", "join"])
def mode(request, monkeypatch):
    """Every way DCP sums charges: off curves (PostgreSQL), off curves with an hour grid that no bound lies on
    (so that every per-hour step and bucket bound is counted one by one), and by joining pieces (SQLite's)."""
    from apps.costs import accrual, curves

    monkeypatch.setattr(accrual, "USE_CURVES", request.param != "join")
    if request.param == "off-grid":
        monkeypatch.setattr(curves, "grid", lambda votes: 1_234_567)
    return request.param


@pytest.mark.django_db
@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lives_spec=lives_strategy, rows_spec=rows_strategy, rates_spec=rates_strategy, query_spec=query_strategy())
def test_accrual_equals_second_by_second_reference(mode, sysadmin, lives_spec, rows_spec, rates_spec, query_spec):
    """Every row, total, host hour, unpriced hour and missing rate of the answer equals the reference's."""
    dims, start, length, step, currency = query_spec
    with transaction.atomic():
        lives, rows, rates = _fleet(lives_spec, rows_spec, rates_spec)
        query = CostQuery(dims, at(start), at(start + length), currency, step=step)
        result = answer(sysadmin, query, at(NOW))
        reference = Reference(rows, rates, currency)
        total = _compare(result["rows"], reference.run(lives, dims, start, start + length, NOW), dims, currency)
        assert result["total"] == cents(total)
        assert {(m["currency"], m["day"]) for m in result["missing_rates"]} == reference.missing
        series = buckets(query.start, query.end, step) if step else []
        for item, (lo, hi) in zip(result.get("series", []), series, strict=True):
            assert (item["start"], item["end"]) == (lo.isoformat(), hi.isoformat())
            bucket = Reference(rows, rates, currency).run(lives, dims, int(lo.timestamp()), int(hi.timestamp()), NOW)
            _compare(item["rows"], bucket, dims, currency)
        transaction.set_rollback(True)


@pytest.mark.django_db
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    new_prices=st.lists(
        st.tuples(
            st.integers(BASE - 1800, BASE + SPAN),  # the new row's start: before or after the lives' launches
            st.sampled_from(["0.72", "3", "0.0104"]),
            st.sampled_from(["USD", "EUR"]),
            st.sampled_from([(False, 0), (False, 600), (True, 0)]),
        ),
        min_size=2,
        max_size=2,
    ),
    terminated=st.integers(BASE + 1001, NOW),
    moved=st.integers(-3600, 3600),
    step=st.sampled_from([None, "day"]),
    currency=st.sampled_from(["USD", "EUR"]),
)
def test_answers_follow_changes_made_after_the_fact(mode, sysadmin, new_prices, terminated, moved, step, currency):
    """A back-dated price re-prices only what it covers (through the catalog, which closes the row it
    replaces there); a late termination and a corrected launch re-cost their lives; the answers before and
    after each equal the reference's."""
    from apps.costs.catalog import add_price
    from apps.inventory.models import Host

    with transaction.atomic():
        world = World()
        lives = [
            world.host(0, 0, "small", "a", BASE + 100, None),
            world.host(1, 1, "large", "b", BASE + 1000, None),
            world.host(2, 0, "small", "a", BASE + 500, BASE + 530),
        ]
        rows = [
            Row(world.accounts[0].pk, "aws", "small", "", "USD", Decimal("0.36"), False, 60, BASE - 3600, None),
            Row(None, "aws", "large", "", "EUR", Decimal("1.2"), True, 0, BASE - 3600, None),
        ]
        for row in rows:
            world.price(row)
        rates = {("EUR", "USD"): {date(2026, 1, 31): Decimal("1.1"), date(2026, 2, 1): Decimal("2")}}
        for day, rate in rates[("EUR", "USD")].items():
            world.rate("EUR", "USD", rate, day)
        query = CostQuery(["pool"], at(BASE - 1800), at(NOW + 1800), currency, step=step)

        def check():
            result = answer(sysadmin, query, at(NOW))
            reference = Reference(rows, rates, currency)
            total = _compare(
                result["rows"], reference.run(lives, ["pool"], BASE - 1800, NOW + 1800, NOW), ["pool"], currency
            )
            assert result["total"] == cents(total)
            for item, (lo, hi) in zip(
                result.get("series", []), buckets(query.start, query.end, step) if step else [], strict=True
            ):
                bucket = Reference(rows, rates, currency).run(
                    lives, ["pool"], int(lo.timestamp()), int(hi.timestamp()), NOW
                )
                _compare(item["rows"], bucket, ["pool"], currency)
            return result["total"]

        check()
        for index, (start, price, row_currency, (hourly, minimum)) in enumerate(new_prices):
            old = rows[index]
            owner = {"provider": world.accounts[0]} if old.provider is not None else {"kind": "aws"}
            add_price(
                {
                    **owner,
                    "instance_type": old.instance_type,
                    "currency": row_currency,
                    "hourly_price": Decimal(price),
                    "billing": "per_hour" if hourly else "per_second",
                    "minimum_seconds": minimum,
                    "valid_from": at(start),
                },
                sysadmin,
            )
            rows[index] = replace(old, end=start)
            rows.append(
                Row(
                    old.provider,
                    "aws",
                    old.instance_type,
                    "",
                    row_currency,
                    Decimal(price),
                    hourly,
                    minimum,
                    start,
                    None,
                )
            )
        # A termination learnt late, and a launch time corrected.
        first = lives[0]
        Host.objects.filter(pk=lives[1].groups["host"]).update(terminated_at=at(terminated), status="terminated")
        Host.objects.filter(pk=first.groups["host"]).update(launched_at=at(BASE + 100 + moved))
        lives[1] = Life(lives[1].groups, lives[1].provider, "aws", "large", "b", BASE + 1000, terminated)
        lives[0] = Life(first.groups, first.provider, "aws", "small", "a", BASE + 100 + moved, None)
        check()
        transaction.set_rollback(True)


@pytest.mark.django_db
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lives_spec=lives_strategy, rows_spec=rows_strategy, rates_spec=rates_strategy)
def test_a_page_of_hosts_costs_what_the_reference_says(mode, sysadmin, lives_spec, rows_spec, rates_spec):
    """Each host's cost so far on a page of hosts (services.host_costs: the accrual without machine intervals,
    handed the hosts' price keys) equals the reference over its life, in its price's currency; unknown
    (unpriced time, or a charge with no rate) is never a figure."""
    with transaction.atomic():
        lives, rows, rates = _fleet(lives_spec, rows_spec, rates_spec)
        hosts = list(Host.objects.select_related("provider", "template").order_by("pk"))
        found = host_costs(hosts, at(NOW))
        for host, life in zip(hosts, lives, strict=True):
            figures = found[host.pk]
            reference = Reference(rows, rates, figures.currency)
            sums = reference.run([life], ["host"], life.launched, NOW, NOW)[(host.pk,)]
            known = not sums.unpriced and not reference.missing
            assert figures.cost == (Decimal(cents(sums.amount)) if known else None), host
            assert str(figures.unpriced_hours) == hours(sums.unpriced), host
        transaction.set_rollback(True)
