"""The price sync against each emulated cloud, through the real SDKs over HTTP, read back where users look.

AWS prices come from the emulator's Pricing API (boto3's ``pricing`` client), Aliyun's from ECS
``DescribePrice`` (aliyunsdkecs), Libcloud's from its OpenStack driver's sizes, OpenStack flavors
from Nova. Each emulator's price list is changed between syncs through its control API.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from libcloud import pricing as libcloud_pricing

from apps.core.models import AuditEntry
from apps.costs import sync
from apps.costs.models import Price
from apps.inventory.choices import HostStatus
from apps.inventory.models import Host
from apps.providers.models import CloudAccount, MachineTemplate
from tests.conftest import serving
from tests.costs.world import at
from tests.factories import MachineFactory, PhysicalProviderFactory, PoolFactory
from tests.providers.harnesses.libcloud import LibcloudHarness
from tests.providers.harnesses.openstack import OpenStackHarness

pytestmark = pytest.mark.django_db

T0 = 1767225600  # 2026-01-01T00:00:00Z
DAY = 86400


@pytest.fixture
def aws(aws_emulator):
    """The AWS emulator with its default price list and no faults."""
    aws_emulator.reset()
    return aws_emulator


@pytest.fixture
def ecs(ecs_emulator):
    """The ECS emulator with its default price list and no faults."""
    ecs_emulator.reset()
    return ecs_emulator


@pytest.fixture(scope="module")
def nova() -> Iterator[LibcloudHarness]:
    """One OpenStack emulator, reached by the OpenStack driver (openstacksdk) and by Libcloud's."""
    yield from serving(LibcloudHarness)


def account_with(harness, *types: tuple[str, str], make=None, **fields) -> CloudAccount:
    """An account on harness's emulator (made by make, else harness.account) with a template per (region,
    instance type) ("" region: the account's) and these fields changed."""
    account = (make or harness.account)()
    for fields_key, value in fields.items():
        setattr(account, fields_key, value)
    account.save()
    for n, (region, instance_type) in enumerate(types):
        MachineTemplate.objects.create(
            name=f"{account.name}-{n}", provider=account, region=region, instance_type=instance_type
        )
    return account


def prices(account) -> list[tuple]:
    """The account's catalog rows: (region, type, price, currency, valid_from, valid_to, source)."""
    rows = Price.objects.filter(provider=account).order_by("region", "instance_type", "valid_from")
    return list(
        rows.values_list("region", "instance_type", "hourly_price", "currency", "valid_from", "valid_to", "source")
    )


def outcomes(result: sync.AccountSync) -> dict[str, str]:
    """instance type → outcome."""
    return {f"{f.region} {f.instance_type}".strip(): f.outcome for f in result.findings}


def test_aws_prices_are_added_confirmed_and_changed_from_the_pricing_api(aws):
    """Each template's type, in its region, priced per second with a 60 s minimum; a change starts a new row."""
    account = account_with(aws, ("", "t3.micro"), ("", "m5.large"), ("eu-west-1", "t3.small"))
    first = sync.sync_account(account, at(T0))
    assert outcomes(first) == {
        "eu-west-1 t3.small": "added",
        "us-east-1 m5.large": "added",
        "us-east-1 t3.micro": "added",
    }
    assert prices(account) == [
        ("eu-west-1", "t3.small", Decimal("0.0228"), "USD", at(T0), None, "sync:aws"),
        ("us-east-1", "m5.large", Decimal("0.096"), "USD", at(T0), None, "sync:aws"),
        ("us-east-1", "t3.micro", Decimal("0.0104"), "USD", at(T0), None, "sync:aws"),
    ]
    assert set(Price.objects.values_list("billing", "minimum_seconds")) == {("per_second", 60)}
    aws.control("PUT", "prices", {"us-east-1": {"m5.large": "0.1010"}})
    second = sync.sync_account(account, at(T0 + DAY))
    assert outcomes(second)["us-east-1 m5.large"] == "changed"
    assert outcomes(second)["us-east-1 t3.micro"] == "confirmed"
    changed = second.of("changed")[0]
    assert (changed.before, changed.price) == (Decimal("0.09600000"), Decimal("0.10100000"))
    assert prices(account)[1:3] == [
        ("us-east-1", "m5.large", Decimal("0.096"), "USD", at(T0), at(T0 + DAY), "sync:aws"),
        ("us-east-1", "m5.large", Decimal("0.101"), "USD", at(T0 + DAY), None, "sync:aws"),
    ]
    micro = Price.objects.get(provider=account, instance_type="t3.micro")
    assert micro.confirmed_at == at(T0 + DAY)
    made = AuditEntry.objects.filter(action="create", object_type__model="price").order_by("pk")
    assert list(made.values_list("username", flat=True)) == ["sync:aws"] * 4
    assert AuditEntry.objects.filter(action="update", object_type__model="price").count() == 1
    assert aws.calls()["GetProducts"] == 6


def test_a_changed_price_splits_history_and_earlier_periods_keep_their_cost(aws, clients, cluster):
    """January's cost read through GET /api/v1/costs/ is the same after February's price change."""
    account = account_with(aws, ("", "m5.large"))
    sync.sync_account(account, at(T0))
    Host.objects.create(
        hostname="h1",
        pool=PoolFactory(cluster=cluster),
        provider=account,
        template=account.templates.get(),
        zone="us-east-1a",
        instance_id="i-1",
        status=HostStatus.READY,
        launched_at=at(T0),
    )

    def cost(start: int, end: int) -> str:
        answer = clients["guest"].get("/api/v1/costs/", {"start": at(start).isoformat(), "end": at(end).isoformat()})
        assert answer.status_code == 200, answer.content
        return answer.json()["total"]

    january = cost(T0, T0 + 31 * DAY)
    assert january == "71.42"  # 744 hours at 0.096
    aws.control("PUT", "prices", {"us-east-1": {"m5.large": "0.2000"}})
    sync.sync_account(account, at(T0 + 31 * DAY))
    assert cost(T0, T0 + 31 * DAY) == january
    assert cost(T0 + 31 * DAY, T0 + 32 * DAY) == "4.80"  # one day at the new price


def test_a_price_of_zero_or_none_is_unknown_and_writes_nothing(aws, ecs):
    """AWS answering 0, or nothing (and Libcloud's data having none), and ECS the same: unknown, no row."""
    account = account_with(aws, ("", "t3.micro"), ("", "x9z.huge"))
    sync.sync_account(account, at(T0))
    aws.control("PUT", "prices", {"us-east-1": {"t3.micro": "0"}})
    result = sync.sync_account(account, at(T0 + DAY))
    assert outcomes(result) == {"us-east-1 t3.micro": "unknown", "us-east-1 x9z.huge": "unknown"}
    notes = {f.instance_type: f.note for f in result.findings}
    assert notes["t3.micro"] == "the Pricing API answered a price of 0"
    assert "no on-demand Linux price" in notes["x9z.huge"] and "Libcloud's data has none" in notes["x9z.huge"]
    # The price found before stays in force, unconfirmed: 0 neither replaces nor confirms it.
    assert prices(account) == [("us-east-1", "t3.micro", Decimal("0.0104"), "USD", at(T0), None, "sync:aws")]
    assert Price.objects.get(provider=account).confirmed_at == at(T0)

    ecs.control("PUT", "prices", {"cn-hangzhou": {"ecs.g6.large": "0", "ecs.g6.xlarge": None}})
    aliyun = account_with(ecs, ("", "ecs.g6.large"), ("", "ecs.g6.xlarge"))
    found = sync.sync_account(aliyun, at(T0))
    assert outcomes(found) == {"cn-hangzhou ecs.g6.large": "unknown", "cn-hangzhou ecs.g6.xlarge": "unknown"}
    assert "PriceNotFound" in found.of("unknown")[1].note
    assert prices(aliyun) == []


def test_aws_falls_back_on_libcloud_data_when_the_pricing_api_fails(aws):
    """A failing or unreachable Pricing API: Libcloud's price data fills keys with no price, and only those."""
    account = account_with(aws, ("", "t3.micro"), ("", "m5.large"))
    aws.control("PUT", "prices", {"us-east-1": {"t3.micro": None}})
    sync.sync_account(account, at(T0))
    shipped = Decimal(str(libcloud_pricing.get_size_price("compute", "ec2_linux", "t3.micro", "us-east-1")))
    assert prices(account) == [
        ("us-east-1", "m5.large", Decimal("0.096"), "USD", at(T0), None, "sync:aws"),
        ("us-east-1", "t3.micro", shipped, "USD", at(T0), None, "sync:libcloud-data"),
    ]

    aws.set_faults(error_rate=1.0)
    result = sync.sync_account(account, at(T0 + DAY))
    assert outcomes(result) == {"us-east-1 m5.large": "kept", "us-east-1 t3.micro": "kept"}
    assert all("the Pricing API failed" in f.note and "InternalErrorException" in f.note for f in result.findings)
    assert len(prices(account)) == 2

    unreachable = account_with(aws, ("", "c5.large"), options={"pricing_endpoint_url": "http://127.0.0.1:9"})
    found = sync.sync_account(unreachable, at(T0))
    assert outcomes(found) == {"us-east-1 c5.large": "added"}
    expected = Decimal(str(libcloud_pricing.get_size_price("compute", "ec2_linux", "c5.large", "us-east-1")))
    assert prices(unreachable) == [("us-east-1", "c5.large", expected, "USD", at(T0), None, "sync:libcloud-data")]


def test_refused_credentials_are_an_error_not_a_fallback(aws):
    """A key the Pricing API refuses is the account's to fix: reported, nothing written."""
    account = aws.account(valid=False)
    MachineTemplate.objects.create(name="bad-key", provider=account, instance_type="t3.micro")
    result = sync.sync_account(account, at(T0))
    assert result.error and "UnrecognizedClientException" in result.error and not result.retryable
    assert "secret" not in result.error.lower()
    assert prices(account) == []


def test_a_price_set_by_hand_is_never_replaced_by_a_sync(aws, clients):
    """A negotiated price entered by a system administrator stays; the sync says what the provider lists."""
    account = account_with(aws, ("", "t3.micro"))
    body = {"provider": account.pk, "region": "us-east-1", "instance_type": "t3.micro", "currency": "USD"}
    body |= {"hourly_price": "0.0090", "valid_from": at(T0).isoformat()}
    assert clients["sysadmin"].post("/api/v1/prices/", body, format="json").status_code == 201
    result = sync.sync_account(account, at(T0 + DAY))
    assert outcomes(result) == {"us-east-1 t3.micro": "kept"}
    assert "set by hand (manual)" in result.findings[0].note and "says 0.0104 USD/h" in result.findings[0].note
    assert prices(account) == [("us-east-1", "t3.micro", Decimal("0.009"), "USD", at(T0), None, "manual")]


def test_a_price_set_to_start_later_is_left_alone_and_reported(aws, clients):
    """A hand-set price from next week leaves the sync no open-ended row: nothing written, the reason said."""
    account = account_with(aws, ("", "t3.micro"))
    body = {"provider": account.pk, "region": "us-east-1", "instance_type": "t3.micro", "currency": "USD"}
    body |= {"hourly_price": "0.0090", "valid_from": at(T0 + 7 * DAY).isoformat()}
    assert clients["sysadmin"].post("/api/v1/prices/", body, format="json").status_code == 201
    result = sync.sync_account(account, at(T0))
    assert outcomes(result) == {"us-east-1 t3.micro": "kept"}
    assert "starts at 2026-01-08" in result.findings[0].note and "found 0.0104 USD/h" in result.findings[0].note
    assert prices(account) == [("us-east-1", "t3.micro", Decimal("0.009"), "USD", at(T0 + 7 * DAY), None, "manual")]


def test_aliyun_prices_come_from_describe_price_in_its_currency(ecs):
    """The instance type's own TradePrice (not its system disk) in the answer's currency; a change splits it."""
    account = account_with(ecs, ("", "ecs.g6.large"), ("cn-shanghai", "ecs.c6.2xlarge"))
    sync.sync_account(account, at(T0))
    assert prices(account) == [
        ("cn-hangzhou", "ecs.g6.large", Decimal("0.626"), "CNY", at(T0), None, "sync:aliyun"),
        ("cn-shanghai", "ecs.c6.2xlarge", Decimal("1.97"), "CNY", at(T0), None, "sync:aliyun"),
    ]
    assert set(Price.objects.values_list("billing", "minimum_seconds")) == {("per_second", 0)}
    ecs.control("PUT", "prices", {"cn-shanghai": {"ecs.c6.2xlarge": "1.85"}})
    result = sync.sync_account(account, at(T0 + DAY))
    assert outcomes(result) == {"cn-hangzhou ecs.g6.large": "confirmed", "cn-shanghai ecs.c6.2xlarge": "changed"}
    assert prices(account)[1:] == [
        ("cn-shanghai", "ecs.c6.2xlarge", Decimal("1.97"), "CNY", at(T0), at(T0 + DAY), "sync:aliyun"),
        ("cn-shanghai", "ecs.c6.2xlarge", Decimal("1.85"), "CNY", at(T0 + DAY), None, "sync:aliyun"),
    ]
    assert ecs.control("GET", "calls")["DescribePrice"] == 4


@pytest.fixture
def openstack_prices():
    """Libcloud pricing for its "openstack" driver by flavor id, as a custom pricing file gives it; removed after."""
    libcloud_pricing.set_pricing("compute", "openstack", {"1": 0.05, "2": 0.0})
    yield
    libcloud_pricing.PRICING_DATA["compute"].pop("openstack", None)


def test_libcloud_accounts_are_priced_by_their_sizes(nova, openstack_prices):
    """Every size the driver lists: priced ones added per hour in USD, 0 or none unknown."""
    nova.reset()
    account = account_with(nova, ("", "m1.small"))
    result = sync.sync_account(account, at(T0))
    assert outcomes(result) == {"RegionOne m1.small": "added", "RegionOne m1.medium": "unknown"} | {
        "RegionOne m1.large": "unknown"
    }
    assert prices(account) == [("RegionOne", "m1.small", Decimal("0.05"), "USD", at(T0), None, "sync:libcloud")]
    assert Price.objects.get(provider=account).billing == "per_hour"


def test_openstack_flavors_are_checked_against_the_rate_card(nova, clients):
    """Nova's flavors with a rate in the catalog (the account's or every OpenStack account's) are rated."""
    nova.reset()
    account = account_with(nova, ("", "m1.small"), ("", "m9.custom"), make=lambda: OpenStackHarness.account(nova))
    for owner in ({"provider": account.pk, "instance_type": "m1.small"}, {"kind": "openstack"}):
        body = {"instance_type": "m1.medium", "currency": "CNY", "hourly_price": "0.30"} | owner
        body["valid_from"] = at(T0 - DAY).isoformat()
        assert clients["sysadmin"].post("/api/v1/prices/", body, format="json").status_code == 201
    result = sync.sync_account(account, at(T0))
    assert outcomes(result) == {
        "RegionOne m1.small": "rated",
        "RegionOne m1.medium": "rated",
        "RegionOne m1.large": "unknown",
        "RegionOne m9.custom": "unknown",
    }
    notes = {f.instance_type: f.note for f in result.findings}
    assert notes["m1.large"] == "no rate in the catalog"
    assert notes["m9.custom"] == "no rate in the catalog; not a flavor Nova lists"
    assert Price.objects.count() == 2


def test_physical_machines_are_priced_by_their_monthly_cost(db):
    """Nothing is written; machines without a monthly_cost are unknown, by name."""
    account = PhysicalProviderFactory()
    MachineFactory.create_batch(2, provider=account, machine_class="c32", monthly_cost=Decimal(500))
    free = MachineFactory(provider=account, machine_class="c12", monthly_cost=Decimal(0))
    result = sync.sync_account(account, at(T0))
    assert [(f.outcome, f.instance_type, f.note) for f in result.findings] == [
        ("rated", "c32", "2 machine(s) priced by their monthly_cost"),
        ("unknown", "c12", f"no monthly_cost: {free.hostname}"),
    ]
    assert not Price.objects.exists()


def test_sync_prices_command_prints_each_account_and_refuses_unknown_names(aws, ecs):
    """By name or id; the counts and a line per type; a name that is no account is a clear error."""
    first = account_with(aws, ("", "t3.micro"), ("", "m5.large"))
    second = account_with(ecs, ("", "ecs.g6.large"))
    out = StringIO()
    call_command("sync_prices", first.name, str(second.pk), stdout=out)
    aws.control("PUT", "prices", {"us-east-1": {"m5.large": "0.1", "t3.micro": "0"}})
    call_command("sync_prices", first.name, stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0] == f"{first.name} (aws): 0 confirmed, 0 changed, 2 added, 0 unknown, 0 kept, 0 rated"
    assert "  added: us-east-1 t3.micro 0.0104 USD/h (sync:aws)" in lines
    assert lines[3] == f"{second.name} (aliyun): 0 confirmed, 0 changed, 1 added, 0 unknown, 0 kept, 0 rated"
    assert lines[5] == f"{first.name} (aws): 0 confirmed, 1 changed, 0 added, 1 unknown, 0 kept, 0 rated"
    assert "  changed: us-east-1 m5.large 0.096 -> 0.1 USD/h (sync:aws)" in lines
    assert "  unknown: us-east-1 t3.micro: the Pricing API answered a price of 0" in lines

    with pytest.raises(CommandError) as refused:
        call_command("sync_prices", first.name, "no-such-account", "99999", stdout=StringIO())
    assert str(refused.value).startswith("No provider account named or numbered no-such-account, 99999.")
    assert first.name in str(refused.value)


def test_sync_prices_command_fails_when_an_account_cannot_be_synced(aws):
    """An account that could not be synced is printed as such and the command exits non-zero."""
    account = aws.account(valid=False)
    MachineTemplate.objects.create(name="refused", provider=account, instance_type="t3.micro")
    out = StringIO()
    with pytest.raises(CommandError, match=f"Could not sync the prices of {account.name}"):
        call_command("sync_prices", account.name, stdout=out)
    assert out.getvalue().startswith(f"{account.name} (aws): not synced: ")


def test_emulator_price_list_refuses_bad_prices(aws):
    """The control API takes decimal strings or null, all or nothing."""
    with pytest.raises(Exception, match="400"):
        aws.control("PUT", "prices", {"us-east-1": {"t3.micro": "0.02", "t3.small": "-1"}})
    assert aws.control("GET", "prices")["us-east-1"]["t3.micro"] == "0.0104"
