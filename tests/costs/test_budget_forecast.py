"""A budget's forecast is what the fleet then accrues; accepted scale jobs move it; the burn-down draws it.

The clock is moved with time-machine: the forecast is read from the API in the
middle of the period, then the clock goes to the period's end, and the cost
API's total for the period (the accrual) must equal it to the cent.
"""

import math
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from rest_framework.test import APIClient

from apps.costs.models import ExchangeRate, Price
from apps.inventory.choices import HostStatus, MachineState
from apps.inventory.machines import record_intervals
from apps.inventory.models import Host, MachineInterval
from apps.providers.models import CloudAccount, MachineTemplate
from tests.factories import MachineFactory, PoolFactory, TemplateFactory, with_template

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 2, 10, 13, 17, 5, 123456, tzinfo=UTC)
FEB, MAR, APR = datetime(2026, 2, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)
JAN = datetime(2026, 1, 1, tzinfo=UTC)


def signed_in(user) -> APIClient:
    """A client that stays signed in whatever the clock says (tokens expire; the travel is weeks long)."""
    client = APIClient()
    client.force_authenticate(user)
    return client


class Fleet:
    """A cluster's pools: cloud hosts priced per second and per hour (one in EUR), and a physical machine."""

    def __init__(self, cluster):
        self.cloud = PoolFactory(cluster=cluster, max_size=20)
        self.iron = PoolFactory(cluster=cluster)
        self.account = CloudAccount.objects.create(name="aws-b", kind="aws", region="us-east-1")
        self.small = MachineTemplate.objects.create(name="small", provider=self.account, instance_type="t.small")
        self.large = MachineTemplate.objects.create(name="large", provider=self.account, instance_type="t.large")
        with_template(self.cloud, self.small)
        self.physical = TemplateFactory()
        self.price("t.small", "0.36", "USD", "per_second", JAN, 60)
        # The small type's price changes in the middle of the rest of the period: the forecast must know it.
        Price.objects.filter(instance_type="t.small").update(valid_to=datetime(2026, 2, 20, 6, tzinfo=UTC))
        self.price("t.small", "0.48", "USD", "per_second", datetime(2026, 2, 20, 6, tzinfo=UTC), 60)
        self.price("t.large", "1.2", "EUR", "per_hour", JAN, 0)
        ExchangeRate.objects.create(base="EUR", quote="USD", rate=Decimal("1.08"), valid_from=date(2026, 1, 1))
        ExchangeRate.objects.create(base="EUR", quote="USD", rate=Decimal("1.1"), valid_from=date(2026, 2, 5))

    def price(self, instance_type, hourly, currency, billing, start, minimum):
        """A catalog row for every AWS account."""
        Price.objects.create(
            kind="aws",
            instance_type=instance_type,
            currency=currency,
            hourly_price=Decimal(hourly),
            billing=billing,
            minimum_seconds=minimum,
            valid_from=start,
        )

    def host(self, template, launched, ended=None, status=HostStatus.READY, pool=None):
        """A cloud host with this life."""
        return Host.objects.create(
            hostname=f"h{Host.objects.count()}",
            pool=pool or self.cloud,
            provider=self.account,
            template=template,
            instance_id=f"i-{Host.objects.count()}",
            status=HostStatus.TERMINATED if ended else status,
            launched_at=launched,
            terminated_at=ended,
        )

    def machine(self, allocated):
        """A physical machine allocated to a host of the iron pool since allocated."""
        machine = MachineFactory(provider=self.physical.provider, monthly_cost=Decimal("730.00"))
        MachineInterval.objects.filter(machine=machine).update(started_at=allocated - timedelta(days=30))
        machine.state, machine.client_token = MachineState.ALLOCATED, f"tok-{machine.pk}"
        record_intervals([machine], allocated)
        Host.objects.create(
            hostname=machine.hostname,
            pool=self.iron,
            provider=self.physical.provider,
            template=self.physical,
            batch_token=machine.client_token,
            instance_id=machine.hostname,
            status=HostStatus.READY,
            launched_at=allocated,
        )

    def populate(self):
        """Lives before, across and inside the period; some still running at NOW."""
        self.host(self.small, datetime(2026, 1, 20, tzinfo=UTC))
        self.host(self.small, datetime(2026, 2, 3, 4, 5, 6, tzinfo=UTC))
        self.host(self.small, datetime(2026, 2, 4, tzinfo=UTC), datetime(2026, 2, 4, 0, 0, 30, tzinfo=UTC))
        self.host(self.large, datetime(2026, 2, 2, 10, 30, tzinfo=UTC))
        self.host(self.large, datetime(2026, 1, 31, 23, 0, tzinfo=UTC), datetime(2026, 2, 1, 0, 20, tzinfo=UTC))
        self.machine(datetime(2026, 1, 15, 12, tzinfo=UTC))
        self.settle()

    def settle(self):
        """Each pool's desired size is its live hosts, as after the reconciler's work: nothing pending."""
        for pool in (self.cloud, self.iron):
            pool.desired_size = pool.hosts.filter(status__in=HostStatus.ACTIVE).count()
            pool.save()


def accrued(client, cluster, start, end, currency="USD") -> str:
    """What the cost API says the cluster cost over [start, end)."""
    params = {"cluster": cluster.pk, "start": start.isoformat(), "end": end.isoformat(), "currency": currency}
    answer = client.get("/api/v1/costs/", params)
    assert answer.status_code == 200, answer.json()
    assert answer.json()["unpriced_host_hours"] == "0.0000"
    return answer.json()["total"]


def budget(client, cluster, **fields) -> dict:
    """Create a budget through the API; its answer."""
    body = {"cluster": cluster.pk, "period": "month", "amount": "5000.00", "currency": "USD", **fields}
    answer = client.post("/api/v1/budgets/", body, format="json")
    assert answer.status_code == 201, answer.json()
    return answer.json()


def test_the_forecast_of_a_frozen_fleet_is_what_it_accrues_by_the_period_end(users, cluster, sysadmin):
    """Month and pool budgets in USD, a quarter's in EUR: each forecast equals the period's accrual at its end."""
    fleet = Fleet(cluster)
    fleet.populate()
    admin, root = signed_in(users["admin"]), signed_in(sysadmin)
    with time_machine.travel(NOW, tick=False):
        month = budget(admin, cluster)
        pool = budget(admin, cluster, pool=fleet.cloud.pk)
        quarter = budget(admin, cluster, period="quarter", currency="EUR", amount="20000.00")
        so_far = accrued(root, cluster, FEB, NOW)
        figures = {b["id"]: admin.get(f"/api/v1/budgets/{b['id']}/").json() for b in (month, pool, quarter)}
    assert figures[month["id"]]["spent"] == so_far
    assert figures[month["id"]]["period_start"] == FEB.isoformat()
    assert figures[quarter["id"]]["period_end"] == APR.isoformat()
    elapsed = Decimal((NOW - FEB).total_seconds())
    linear = Decimal(figures[month["id"]]["spent"]) * Decimal((MAR - FEB).total_seconds()) / elapsed
    assert abs(Decimal(figures[month["id"]]["linear_forecast"]) - linear) <= Decimal("0.01")
    with time_machine.travel(MAR, tick=False):
        assert figures[month["id"]]["forecast"] == accrued(root, cluster, FEB, MAR)
        params = {"pool": fleet.cloud.pk, "start": FEB.isoformat(), "end": MAR.isoformat()}
        assert figures[pool["id"]]["forecast"] == root.get("/api/v1/costs/", params).json()["total"]
    with time_machine.travel(APR, tick=False):
        assert figures[quarter["id"]]["forecast"] == accrued(root, cluster, JAN, APR, "EUR")
    assert Decimal(figures[month["id"]]["forecast"]) > Decimal(figures[month["id"]]["spent"]) > 0


def test_accepted_scale_jobs_add_and_pending_scale_ins_remove(users, cluster):
    """Hosts still to place or launch add their template's price to the end; a host leaving stops counting."""
    fleet = Fleet(cluster)
    admin = signed_in(users["admin"])
    with time_machine.travel(NOW, tick=False):
        live = fleet.host(fleet.small, datetime(2026, 2, 1, tzinfo=UTC))
        fleet.settle()
        before = Decimal(budget(admin, cluster)["forecast"])
        # A scale-out of 3 accepted: one host planned (no instance yet), two not even planned.
        fleet.cloud.desired_size = 4
        fleet.cloud.save()
        Host.objects.create(
            hostname="planned", pool=fleet.cloud, provider=fleet.account, template=fleet.small, status="pending"
        )
        [figures] = admin.get("/api/v1/budgets/").json()["results"]
    change = datetime(2026, 2, 20, 6, tzinfo=UTC)
    # Prices in force now apply to hosts not launched yet (the later price change is the fleet's, not theirs).
    per_host = Decimal("0.36") * Decimal((MAR - NOW).total_seconds()) / 3600
    assert Decimal(figures["forecast"]) - before == pytest.approx(3 * per_host, abs=Decimal("0.02"))
    assert figures["unpriced_planned_hosts"] == 0
    with time_machine.travel(NOW, tick=False):
        # The scale-out is cancelled and the pool scaled in to nothing: its one live host is on its way out.
        fleet.cloud.desired_size = 0
        fleet.cloud.save()
        Host.objects.filter(hostname="planned").delete()
        live.status = HostStatus.TERMINATING
        live.save()
        [leaving] = admin.get("/api/v1/budgets/").json()["results"]
    rest = Decimal("0.36") * Decimal((change - NOW).total_seconds()) / 3600
    rest += Decimal("0.48") * Decimal((MAR - change).total_seconds()) / 3600
    assert Decimal(before) - Decimal(leaving["forecast"]) == pytest.approx(rest, abs=Decimal("0.02"))
    assert leaving["forecast"] == leaving["spent"]


def test_a_scale_in_not_yet_carried_out_removes_the_hosts_it_will_pick(users, cluster):
    """Two hosts, desired size lowered to one: the forecast loses the pricier host's rest of the period."""
    fleet = Fleet(cluster)
    admin = signed_in(users["admin"])
    with time_machine.travel(NOW, tick=False):
        fleet.host(fleet.small, datetime(2026, 2, 1, tzinfo=UTC))
        fleet.host(fleet.large, datetime(2026, 2, 1, tzinfo=UTC))
        Host.objects.filter(template=fleet.large).update(hourly_price=Decimal("1.32"))
        fleet.settle()
        before = Decimal(budget(admin, cluster)["forecast"])
        fleet.cloud.desired_size = 1
        fleet.cloud.save()
        [after] = admin.get("/api/v1/budgets/").json()["results"]
    # The large host goes first (most expensive): per started hour 1.2 EUR at 1.1 USD, from the hour after now.
    hours = math.ceil((MAR - datetime(2026, 2, 1, tzinfo=UTC)).total_seconds() / 3600)
    started = math.ceil((NOW - datetime(2026, 2, 1, tzinfo=UTC)).total_seconds() / 3600)
    assert before - Decimal(after["forecast"]) == (hours - started) * Decimal("1.32")


def test_unknown_prices_are_reported_not_counted_as_zero(users, cluster):
    """A planned host of a type with no price is counted in unpriced_planned_hosts; unpriced hours are shown."""
    fleet = Fleet(cluster)
    unknown = MachineTemplate.objects.create(name="odd", provider=fleet.account, instance_type="t.unknown")
    admin = signed_in(users["admin"])
    with time_machine.travel(NOW, tick=False):
        fleet.host(unknown, datetime(2026, 2, 9, tzinfo=UTC))
        Host.objects.create(hostname="p", pool=fleet.cloud, provider=fleet.account, template=unknown, status="pending")
        fleet.cloud.desired_size = 2
        fleet.cloud.save()
        figures = budget(admin, cluster)
    assert figures["unpriced_planned_hosts"] == 1
    hours = Decimal((NOW - datetime(2026, 2, 9, tzinfo=UTC)).total_seconds()) / 3600
    assert Decimal(figures["unpriced_host_hours"]) == hours.quantize(Decimal("0.0001"))
    assert figures["spent"] == "0.00"


def test_the_burndown_draws_spend_per_day_and_the_forecast_line_in_one_request(users, cluster, sysadmin):
    """Cumulative spend each day so far equals the cost API's; the forecast line ends at the forecast."""
    fleet = Fleet(cluster)
    fleet.populate()
    admin, root = signed_in(users["admin"]), signed_in(sysadmin)
    with time_machine.travel(NOW, tick=False):
        created = budget(admin, cluster)
        chart = admin.get(f"/api/v1/budgets/{created['id']}/burndown/").json()
        day5 = accrued(root, cluster, FEB, datetime(2026, 2, 6, tzinfo=UTC))
    assert len(chart["days"]) == 28 and (chart["amount"], chart["currency"]) == ("5000.00", "USD")
    assert chart["days"][4]["day"] == "2026-02-05" and chart["days"][4]["spent"] == day5
    assert chart["days"][9]["spent"] == chart["spent"]  # today, up to now
    assert chart["days"][10]["spent"] is None and chart["days"][8]["forecast"] is None
    assert chart["days"][-1]["forecast"] == chart["forecast"] == created["forecast"]
    assert chart["days"][-1]["linear"] == chart["linear_forecast"]
    line = [Decimal(day["forecast"]) for day in chart["days"][9:]]
    assert line == sorted(line)
