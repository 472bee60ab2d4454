"""The cost API as users meet it: the catalog's rules, permissions, bad input, conversion, CSV."""

from datetime import date
from decimal import Decimal

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from apps.costs.models import ExchangeRate, Price
from apps.inventory.choices import HostStatus
from apps.inventory.models import Host
from apps.providers.models import CloudAccount, MachineTemplate
from tests.costs.world import at
from tests.factories import ClusterFactory, PoolFactory

pytestmark = pytest.mark.django_db

T0 = 1767225600  # 2026-01-01T00:00:00Z
DAY = 86400


@pytest.fixture
def aws(db):
    """An AWS account and a template of type m5.large."""
    account = CloudAccount.objects.create(name="aws-main", kind="aws", region="us-east-1")
    return MachineTemplate.objects.create(name="m5", provider=account, instance_type="m5.large")


def host(pool, template, launched: int, ended: int | None = None, zone: str = "us-east-1a") -> Host:
    """A host that ran from launched to ended (epoch seconds; None: still running)."""
    return Host.objects.create(
        hostname=f"h{Host.objects.count()}",
        pool=pool,
        provider=template.provider,
        template=template,
        zone=zone,
        instance_id=f"i-{Host.objects.count()}",
        status=HostStatus.TERMINATED if ended else HostStatus.READY,
        launched_at=at(launched),
        terminated_at=at(ended) if ended else None,
    )


def price(client, **fields):
    """POST a price; the response."""
    body = {"kind": "aws", "instance_type": "m5.large", "currency": "USD", "hourly_price": "0.10", **fields}
    return client.post("/api/v1/prices/", body, format="json")


def costs(client, **params):
    """GET /api/v1/costs/ with these parameters."""
    return client.get("/api/v1/costs/", {"start": at(T0).isoformat(), "end": at(T0 + 31 * DAY).isoformat(), **params})


def test_only_system_administrators_write_prices_and_everyone_signed_in_reads(clients):
    """Guests and cluster admins get 403 on writes; every signed-in user lists the catalog; anonymous gets 401."""
    for role in ("admin", "developer", "guest", "outsider"):
        assert price(clients[role], valid_from=at(T0).isoformat()).status_code == 403
    assert price(clients["sysadmin"], valid_from=at(T0).isoformat()).status_code == 201
    for role in ("admin", "guest", "outsider", "sysadmin"):
        assert clients[role].get("/api/v1/prices/").json()["count"] == 1
    assert clients["anonymous"].get("/api/v1/prices/").status_code == 401


def test_a_new_price_closes_the_old_row_and_leaves_earlier_periods_unchanged(clients, cluster, aws):
    """The cost of January is the same before and after a price from February is added."""
    pool = PoolFactory(cluster=cluster)
    host(pool, aws, T0 + 3600, T0 + 40 * DAY)
    first = price(clients["sysadmin"], valid_from=at(T0 - DAY).isoformat()).json()
    january = costs(clients["guest"], group_by="pool").json()
    assert january["total"] == str(Decimal("0.10") * (31 * 24 - 1))
    second = price(clients["sysadmin"], hourly_price="0.50", valid_from=at(T0 + 31 * DAY).isoformat())
    assert second.status_code == 201, second.json()
    assert clients["guest"].get(f"/api/v1/prices/{first['id']}/").json()["valid_to"] == "2026-02-01T00:00:00Z"
    assert costs(clients["guest"], group_by="pool").json()["total"] == january["total"]
    february = costs(clients["guest"], start=at(T0 + 31 * DAY).isoformat(), end=at(T0 + 59 * DAY).isoformat())
    assert february.json()["total"] == str(Decimal("0.50") * (9 * 24))
    # Re-pricing a row is refused: history is never re-priced.
    changed = clients["sysadmin"].patch(f"/api/v1/prices/{first['id']}/", {"hourly_price": "9"}, format="json")
    assert changed.status_code == 400 and "never re-priced" in changed.json()["hourly_price"][0]


def test_rows_of_one_key_never_overlap(clients, aws):
    """Same start, a row inside another's span, a row running into a later one: 400; the database refuses too."""
    admin = clients["sysadmin"]
    assert price(admin, valid_from=at(T0).isoformat(), valid_to=at(T0 + 10 * DAY).isoformat()).status_code == 201
    assert price(admin, valid_from=at(T0 + 20 * DAY).isoformat()).status_code == 201
    same = price(admin, valid_from=at(T0).isoformat(), valid_to=at(T0 + DAY).isoformat())
    assert same.status_code == 400 and "already starts" in same.json()["valid_from"][0]
    inside = price(admin, valid_from=at(T0 + DAY).isoformat(), valid_to=at(T0 + 2 * DAY).isoformat())
    assert inside.status_code == 400 and "at least as long" in inside.json()["valid_to"][0]
    into_later = price(admin, valid_from=at(T0 + 15 * DAY).isoformat())
    assert into_later.status_code == 400 and "set valid_to" in into_later.json()["valid_to"][0]
    fits = price(admin, valid_from=at(T0 + 15 * DAY).isoformat(), valid_to=at(T0 + 20 * DAY).isoformat())
    assert fits.status_code == 201
    with pytest.raises(IntegrityError), transaction.atomic():
        Price.objects.create(
            kind="aws", instance_type="m5.large", currency="USD", hourly_price=1, valid_from=at(T0 + 5 * DAY)
        )


def test_unknown_prices_are_refused_and_unpriced_hours_are_never_zero(clients, cluster, aws):
    """A price of 0 is refused; a host with no price shows unpriced hours, not a cost of 0 silently."""
    zero = price(clients["sysadmin"], hourly_price="0", valid_from=at(T0).isoformat())
    assert zero.status_code == 400 and "unknown price" in zero.json()["hourly_price"][0]
    pool = PoolFactory(cluster=cluster)
    host(pool, aws, T0, T0 + 10 * 3600)
    answer = costs(clients["guest"], group_by="pool").json()
    assert answer["unpriced_host_hours"] == "10.0000"
    assert answer["rows"][0]["unpriced_host_hours"] == "10.0000" and answer["rows"][0]["host_hours"] == "10.0000"


def test_bulk_import_is_all_or_nothing_with_errors_by_row(clients):
    """A CSV with one bad row saves nothing and names the row; a good one saves every row."""
    admin = clients["sysadmin"]
    header = "kind,instance_type,currency,hourly_price,valid_from\n"
    bad = header + "aws,m5.large,USD,0.1,2026-01-01T00:00:00Z\naws,m5.xlarge,XXX,0.2,2026-01-01T00:00:00Z\n"
    answer = admin.post("/api/v1/prices/import/", bad, content_type="text/csv")
    assert answer.status_code == 400 and "ISO 4217" in answer.json()["rows"]["2"]["currency"][0]
    assert Price.objects.count() == 0
    good = header + "aws,m5.large,USD,0.1,2026-01-01T00:00:00Z\naws,m5.large,USD,0.2,2026-02-01T00:00:00Z\n"
    answer = admin.post("/api/v1/prices/import/", good, content_type="text/csv")
    assert answer.status_code == 201, answer.json()
    rows = list(Price.objects.order_by("valid_from").values_list("valid_to", "source"))
    assert rows == [(at(T0 + 31 * DAY), "import"), (None, "import")]
    garbage = admin.post("/api/v1/prices/import/", 'kind,"instance_type\n', content_type="text/csv")
    assert garbage.status_code == 400


def test_members_see_only_their_clusters_and_idle_only_system_administrators(clients, cluster, aws):
    """Guests read their cluster's cost; outsiders get nothing, not even by naming the cluster; idle is admin-only."""
    price(clients["sysadmin"], valid_from=at(T0 - DAY).isoformat())
    mine, theirs = PoolFactory(cluster=cluster), PoolFactory(cluster=ClusterFactory())
    host(mine, aws, T0, T0 + 3600)
    host(theirs, aws, T0, T0 + 7200)
    guest = costs(clients["guest"], group_by="cluster").json()
    assert [row["ids"]["cluster"] for row in guest["rows"]] == [cluster.pk] and guest["total"] == "0.10"
    assert "idle" not in guest
    for params in ({}, {"cluster": theirs.cluster_id}, {"pool": theirs.pk}, {"cluster": 999999}):
        nothing = costs(clients["outsider"], group_by="cluster", **params).json()
        assert (nothing["rows"], nothing["total"]) == ([], "0.00")
    assert costs(clients["guest"], cluster=theirs.cluster_id).json()["rows"] == []
    everything = costs(clients["sysadmin"], group_by="cluster").json()
    assert everything["total"] == "0.30" and everything["idle"] == []


@pytest.mark.parametrize(
    ("params", "field", "words"),
    [
        ({"group_by": "colour"}, "group_by", "Unknown group_by colour"),
        ({"end": at(T0 - DAY).isoformat()}, "end", "must be after start"),
        ({"end": at(T0 + 100 * 365 * DAY).isoformat()}, "end", "at most 1830 days"),
        ({"currency": "XYZ"}, "currency", "not an ISO 4217"),
        ({"currency": "0"}, "currency", "three letters"),
        ({"cluster": str(2**63)}, "cluster", "less than or equal to"),
        ({"format": "xml"}, "format", "Unknown format 'xml': use csv, json"),
        ({"currency": "JPY"}, "currency", "No exchange rates to or from JPY"),
        ({"start": "last tuesday"}, "start", "not a date or an ISO 8601 instant"),
        ({"step": "fortnight"}, "step", "not a valid choice"),
        ({"step": "day", "end": at(T0 + 1500 * DAY).isoformat()}, "step", "at most 1000 buckets"),
    ],
)
def test_bad_input_is_a_400_that_says_what_to_fix(clients, params, field, words):
    """Every bad parameter is refused with its name and what to do."""
    answer = costs(clients["guest"], **params)
    assert answer.status_code == 400
    assert words in str(answer.json()[field])


def test_conversion_uses_each_days_rate_and_reports_a_missing_rate(clients, cluster, aws):
    """A EUR price over two days with a rate from the second day only: day two converted, day one reported."""
    admin = clients["sysadmin"]
    price(admin, currency="EUR", hourly_price="1", valid_from=at(T0 - DAY).isoformat())
    pool = PoolFactory(cluster=cluster)
    host(pool, aws, T0 + 12 * 3600, T0 + DAY + 12 * 3600)  # 12 h on Jan 1, 12 h on Jan 2
    ExchangeRate.objects.create(base="EUR", quote="USD", rate=Decimal("1.5"), valid_from=date(2026, 1, 2))
    answer = costs(clients["guest"], group_by="pool").json()
    assert answer["total"] == "18.00"  # 12 h × 1 EUR × 1.5
    assert answer["missing_rates"] == [{"currency": "EUR", "day": "2026-01-01"}]
    assert answer["unconverted"] == [{"currency": "EUR", "amount": "12.00"}] and "not in any cost" in answer["note"]
    ExchangeRate.objects.create(base="USD", quote="EUR", rate=Decimal("0.5"), valid_from=date(2025, 12, 1))
    answer = costs(clients["guest"], group_by="pool").json()
    assert (answer["total"], answer["missing_rates"]) == ("42.00", [])  # 12 × 2 (inverse of 0.5) + 12 × 1.5
    in_eur = costs(clients["guest"], currency="EUR", step="day").json()
    assert in_eur["total"] == "24.00" and [s["rows"][0]["cost"] for s in in_eur["series"][:2]] == ["12.00", "12.00"]


def test_csv_has_a_line_per_row_and_bucket(clients, cluster, aws):
    """?format=csv answers text/csv a spreadsheet opens, one line per group and day."""
    price(clients["sysadmin"], valid_from=at(T0 - DAY).isoformat())
    pool = PoolFactory(cluster=cluster)
    host(pool, aws, T0, T0 + DAY + 3600)
    answer = costs(clients["guest"], group_by="cluster,pool", step="day", format="csv")
    assert answer.status_code == 200 and answer["Content-Type"].startswith("text/csv")
    lines = answer.content.decode().splitlines()
    assert lines[0] == "period_start,period_end,line,cluster,pool,key,cost,host_hours,unpriced_host_hours,currency"
    assert lines[1].endswith(f",cost,{cluster.pk},{pool.pk},{cluster.name}/{pool.name},2.40,24.0000,0.0000,USD")
    assert lines[2].endswith(",0.10,1.0000,0.0000,USD") and len(lines) == 3
    refused = costs(clients["guest"], group_by="colour", format="csv")
    assert refused.status_code == 400 and refused["Content-Type"] == "application/json"  # errors are JSON
    assert "Unknown group_by colour" in refused.json()["group_by"][0]


def test_empty_start_and_end_mean_this_month(clients):
    """?start=&end= (as a form leaves them) are not given: the default window applies."""
    answer = clients["guest"].get("/api/v1/costs/?start=&end=")
    default = clients["guest"].get("/api/v1/costs/").json()
    assert answer.status_code == 200
    assert (answer.json()["start"], answer.json()["end"]) == (default["start"], default["end"])


def test_a_sync_confirms_an_unchanged_price_and_a_changed_one_leaves_earlier_periods_alone(clients, cluster, aws):
    """observe(): the same price twice is one row, confirmed; a new price closes it and January keeps its cost."""
    from apps.costs.catalog import observe

    terms = {"provider": aws.provider, "instance_type": "m5.large", "currency": "USD", "billing": "per_second"}
    terms |= {"hourly_price": Decimal("0.10"), "minimum_seconds": 0, "source": "sync:test"}
    observe(terms, None, at(T0 - DAY))
    observe(terms, None, at(T0 + 10 * DAY))
    assert list(Price.objects.values_list("valid_from", "valid_to", "confirmed_at")) == [
        (at(T0 - DAY), None, at(T0 + 10 * DAY))
    ]
    host(PoolFactory(cluster=cluster), aws, T0, T0 + 40 * DAY)
    january = costs(clients["guest"]).json()["total"]
    observe({**terms, "hourly_price": Decimal("0.20")}, None, at(T0 + 31 * DAY))
    assert costs(clients["guest"]).json()["total"] == january == "74.40"
    assert list(Price.objects.order_by("valid_from").values_list("hourly_price", "valid_to", "source")) == [
        (Decimal("0.10"), at(T0 + 31 * DAY), "sync:test"),
        (Decimal("0.20"), None, "sync:test"),
    ]


@pytest.mark.parametrize(
    "params",
    [
        {"group_by": "pool"},
        {"group_by": "cluster,provider", "step": "day"},
        {"group_by": "instance_type", "currency": "EUR"},
    ],
)
def test_the_answer_costs_the_same_number_of_queries_for_2_or_40_hosts(clients, cluster, aws, params):
    """The cost is summed in the database: more hosts, pools, clusters and price changes add no query."""
    admin = clients["sysadmin"]
    price(admin, valid_from=at(T0 - DAY).isoformat(), valid_to=at(T0 + 10 * DAY).isoformat())
    price(admin, hourly_price="0.20", valid_from=at(T0 + 10 * DAY).isoformat())
    ExchangeRate.objects.create(base="EUR", quote="USD", rate=Decimal("1.1"), valid_from=date(2025, 12, 1))

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            answer = costs(admin, **params)
            assert answer.status_code == 200, answer.json()
        return len(queries)

    pool = PoolFactory(cluster=cluster)
    host(pool, aws, T0, T0 + 20 * DAY)
    host(pool, aws, T0 + DAY)
    count()  # the token's first use is recorded once
    few = count()
    for n in range(19):
        other = PoolFactory(cluster=ClusterFactory()) if n % 2 else PoolFactory(cluster=cluster)
        host(other, aws, T0 + n * 3600, T0 + (n + 12) * DAY)
        host(other, aws, T0 + n * DAY, zone="us-east-1b")
    answer = costs(admin, **params).json()
    assert Decimal(answer["total"]) > 0 and answer["unpriced_host_hours"] == "0.0000"
    assert count() == few


def test_weeks_months_and_the_provider_filter(clients, cluster, aws):
    """Weeks run Monday to Monday, cut at the window's ends; months are calendar months; ?provider= keeps one
    account's hosts."""
    price(clients["sysadmin"], valid_from=at(T0 - DAY).isoformat())
    pool = PoolFactory(cluster=cluster)
    host(pool, aws, T0, T0 + 20 * DAY)  # 480 h at 0.10
    other = MachineTemplate.objects.create(
        name="other", provider=CloudAccount.objects.create(name="aws-other", kind="aws"), instance_type="m5.large"
    )
    host(pool, other, T0, T0 + DAY)  # 24 h at 0.10 (the kind's price)
    weeks = costs(clients["guest"], step="week", provider=aws.provider_id).json()
    assert [(s["start"][:10], s["end"][:10], [r["cost"] for r in s["rows"]]) for s in weeks["series"]] == [
        ("2026-01-01", "2026-01-05", ["9.60"]),  # Thursday to Monday
        ("2026-01-05", "2026-01-12", ["16.80"]),
        ("2026-01-12", "2026-01-19", ["16.80"]),
        ("2026-01-19", "2026-01-26", ["4.80"]),
        ("2026-01-26", "2026-02-01", []),
    ]
    assert weeks["total"] == "48.00"
    three_months = {"start": at(T0).isoformat(), "end": at(T0 + (31 + 28 + 31) * DAY).isoformat()}
    months = costs(clients["guest"], step="month", group_by="provider", **three_months).json()
    assert [(s["start"][:7], {r["key"]: r["cost"] for r in s["rows"]}) for s in months["series"]] == [
        ("2026-01", {"aws-main": "48.00", "aws-other": "2.40"}),
        ("2026-02", {}),
        ("2026-03", {}),
    ]
    assert costs(clients["guest"], provider=other.provider_id).json()["total"] == "2.40"


def test_bulk_import_takes_a_json_list_all_or_nothing(clients):
    """The same import as a JSON list: a price of 0 in row 2 saves nothing and says why; a good list saves both."""
    admin = clients["sysadmin"]
    rows = [
        {"kind": "aws", "instance_type": "c5.large", "currency": "USD", "hourly_price": "0.085"},
        {"kind": "aws", "instance_type": "c5.large", "currency": "USD", "hourly_price": "0"},
    ]
    rows[0]["valid_from"], rows[1]["valid_from"] = at(T0).isoformat(), at(T0 + DAY).isoformat()
    refused = admin.post("/api/v1/prices/import/", rows, format="json")
    assert refused.status_code == 400 and "unknown price" in refused.json()["rows"]["2"]["hourly_price"][0]
    assert not Price.objects.exists()
    rows[1]["hourly_price"] = "0.09"
    answer = admin.post("/api/v1/prices/import/", rows, format="json")
    assert answer.status_code == 201, answer.json()
    # The answer shows the rows as stored: the first closed by the second.
    assert [(r["hourly_price"], r["valid_to"], r["source"]) for r in answer.json()] == [
        ("0.08500000", "2026-01-02T00:00:00Z", "import"),
        ("0.09000000", None, "import"),
    ]
    assert [r["id"] for r in answer.json()] == list(Price.objects.order_by("valid_from").values_list("pk", flat=True))
