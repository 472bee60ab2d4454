"""Physical machines: monthly_cost spread over each calendar month, split exactly between hosts and idle."""

from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.costs.periods import month_start, next_month, seconds
from apps.costs.queries import CostQuery, answer
from apps.costs.services import _machine_costs, month_hours, run_rates
from apps.inventory.choices import HostStatus, MachineState
from apps.inventory.machines import record_intervals
from apps.inventory.models import Host, MachineInterval
from tests.costs.world import at, cents
from tests.factories import MachineFactory, PoolFactory, TemplateFactory

pytestmark = pytest.mark.django_db


def machine_life(pool, template, joined: datetime, allocated: datetime, freed: datetime | None, cost="500"):
    """A machine in the inventory from joined, allocated to a host of pool from allocated until freed."""
    machine = MachineFactory(provider=template.provider, monthly_cost=Decimal(cost))
    MachineInterval.objects.filter(machine=machine).update(started_at=joined)
    machine.state, machine.client_token = MachineState.ALLOCATED, f"tok-{machine.pk}"
    record_intervals([machine], allocated)
    Host.objects.create(
        hostname=machine.hostname,
        pool=pool,
        provider=template.provider,
        template=template,
        batch_token=machine.client_token,
        instance_id=machine.hostname,
        status=HostStatus.TERMINATED if freed else HostStatus.READY,
        launched_at=allocated,
        terminated_at=freed,
    )
    if freed:
        machine.state, machine.client_token = MachineState.FREE, ""
        record_intervals([machine], freed)
    return machine


def month_cost(user, start: datetime, end: datetime) -> tuple[str, str]:
    """(the pools' total, the idle total) of [start, end), in USD."""
    result = answer(user, CostQuery(["pool"], start, end, "USD"), datetime(2027, 1, 1, tzinfo=UTC))
    return result["total"], result["idle_total"]


@pytest.mark.parametrize("zone", ["UTC", "Asia/Shanghai"])
def test_a_whole_month_costs_exactly_monthly_cost_and_splits_between_pool_and_idle(sysadmin, settings, zone):
    """Allocated all January: 500.00 to the pool. Allocated for 10 of February's 28 days: 10/28 pool, 18/28 idle."""
    settings.DCP_TIME_ZONE = zone
    template = TemplateFactory()
    pool = PoolFactory()
    january = month_start(datetime(2026, 1, 15, tzinfo=UTC))
    february = next_month(january)
    machine_life(pool, template, january, january, None)
    assert month_cost(sysadmin, january, february) == ("500.00", "0.00")
    other = machine_life(pool, template, january, february.replace(day=11), february.replace(day=21), cost="280")
    march = next_month(february)
    assert month_cost(sysadmin, february, march) == ("600.00", "180.00")  # 500 + 280 × 10/28, idle 280 × 18/28
    assert MachineInterval.objects.filter(machine=other).count() == 3


@pytest.mark.django_db
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    points=st.lists(st.integers(0, 59 * 86400), min_size=4, max_size=4, unique=True).map(sorted),
    window=st.tuples(st.integers(0, 59 * 86400), st.integers(1, 59 * 86400)),
    cost=st.sampled_from(["500", "333.33", "0.01"]),
)
def test_machine_cost_equals_the_reference_for_any_split_and_window(sysadmin, points, window, cost):
    """Joined, allocated, freed at any instants in Jan/Feb: pool and idle each equal the exact spread, to the cent."""
    base = 1767225600  # 2026-01-01T00:00:00Z
    joined, allocated, freed, _ = (base + p for p in points)
    start, end = base + window[0], base + window[0] + window[1]
    with transaction.atomic():
        machine_life(PoolFactory(), TemplateFactory(), at(joined), at(allocated), at(freed), cost=cost)
        now = datetime(2027, 1, 1, tzinfo=UTC)
        result = answer(sysadmin, CostQuery(["pool"], at(start), at(end), "USD"), now)

        def spread(lo: int, hi: int) -> Fraction:
            """Second by second: monthly_cost / the seconds of that second's month."""
            total, second = Fraction(0), max(lo, start)
            while second < min(hi, end):
                month = month_start(at(second))
                stop = min(hi, end, int(seconds(next_month(month))))
                length = int(seconds(next_month(month)) - seconds(month))
                total += Fraction(Decimal(cost)) * (stop - second) / length
                second = stop
            return total

        assert result["total"] == cents(spread(allocated, freed))
        assert result["idle_total"] == cents(spread(joined, allocated) + spread(freed, int(now.timestamp())))
        transaction.set_rollback(True)


def test_run_rate_of_machines_is_their_latest_monthly_cost_over_the_month(settings):
    """A pool's run-rate counts each live physical host's machine at the monthly_cost of its latest allocation,
    over the month's hours, summed before the one division; a host whose machine has no cost, or that names no
    allocation, is unpriced. Read against the per-host lookup the host page uses (_machine_costs)."""
    settings.DCP_CURRENCY = "USD"
    now = datetime(2026, 2, 10, 12, tzinfo=UTC)
    template = TemplateFactory()
    pool = PoolFactory()
    january = datetime(2026, 1, 1, tzinfo=UTC)
    boxes = [machine_life(pool, template, january, january, None, cost=cost) for cost in ("500", "333.33", "0")]
    # The first machine was allocated again under the same token: its latest allocation's cost counts.
    MachineInterval.objects.filter(machine=boxes[0], state=MachineState.ALLOCATED).update(
        monthly_cost=Decimal("1"), ended_at=datetime(2026, 2, 1, tzinfo=UTC)
    )
    MachineInterval.objects.create(
        machine=boxes[0],
        provider=template.provider,
        hostname=boxes[0].hostname,
        machine_class=boxes[0].machine_class,
        idc=boxes[0].idc,
        state=MachineState.ALLOCATED,
        monthly_cost=Decimal("720"),
        client_token=boxes[0].client_token,
        started_at=datetime(2026, 2, 1, tzinfo=UTC),
    )
    Host.objects.create(
        hostname="no-token",
        pool=pool,
        provider=template.provider,
        template=template,
        status=HostStatus.READY,
        launched_at=january,
    )
    hosts = list(Host.objects.filter(pool=pool))
    machines = _machine_costs(hosts)
    assert machines[Host.objects.get(hostname=boxes[0].hostname).pk] == Decimal("720")
    shown = run_rates("pool", [pool.pk], now)[pool.pk]
    assert shown.run_rate == (Decimal("720") + Decimal("333.33")) / month_hours(now)
    assert shown.unpriced_hosts == sum(1 for host in hosts if not machines.get(host.pk)) == 2
