"""A budget period's forecast: spend so far, the fleet as it stands to the period's end, and accepted changes.

forecast = spent (the accrual from the period's start until now)
         + what every live host costs from now to the period's end (the accrual run to the end as if nothing
           changed: the same prices, billing rules, months of physical machines and exchange rates)
         + what accepted but unfinished scale-outs add (hosts planned or still to plan, not launched yet,
           at their templates' prices in force now, from now to the end; physical machines amortised)
         − what pending scale-ins remove (hosts terminating or still to pick, from now to the end).

Spend so far and the fleet's rest of the period come from one accrual statement, cut at now, so the
forecast of a frozen fleet is exactly what the accrual says once the period is over. Budgets sharing a
period and currency are computed together: a statement for all their clusters, grouped by pool.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_CEILING, Decimal

from django.conf import settings
from django.db import models
from django.db.models import Count, F, Q
from django.db.models.functions import RowNumber

from apps.costs import rates
from apps.costs.accrual import Window, accrue
from apps.costs.catalog import candidates, in_force
from apps.costs.choices import Billing
from apps.costs.periods import local_day, month_start, next_month, seconds
from apps.costs.pieces import NO_RATE, PRICED
from apps.costs.scope import Scope
from apps.costs.services import physical_monthly, placement_key
from apps.inventory.choices import HostStatus
from apps.inventory.models import Host, ServicePool
from apps.providers.choices import ProviderKind
from apps.providers.models import MachineTemplate
from apps.provisioning.placement import NOT_READY_FIRST, SCALE_IN_ORDER, Placement, plan_scale_out

HOUR = Decimal(3600)


@dataclass
class Figures:
    """A scope's figures for one period, exact (unrounded), in one currency."""

    currency: str
    start: datetime
    end: datetime
    now: datetime
    spent: Decimal = Decimal(0)
    rest: Decimal = Decimal(0)
    added: Decimal = Decimal(0)
    removed: Decimal = Decimal(0)
    unpriced_seconds: Decimal = Decimal(0)
    unpriced_hosts: int = 0
    missing_rates: set = field(default_factory=set)

    @property
    def forecast(self) -> Decimal:
        """Spend expected by the period's end."""
        return self.spent + self.rest + self.added - self.removed

    @property
    def linear(self) -> Decimal:
        """Spend so far extrapolated in a straight line to the period's end."""
        elapsed = seconds(self.now) - seconds(self.start)
        if elapsed <= 0:
            return Decimal(0)
        return self.spent * (seconds(self.end) - seconds(self.start)) / elapsed

    def add(self, other: Figures) -> None:
        """Count another scope's figures in."""
        self.spent += other.spent
        self.rest += other.rest
        self.added += other.added
        self.removed += other.removed
        self.unpriced_seconds += other.unpriced_seconds
        self.unpriced_hosts += other.unpriced_hosts
        self.missing_rates |= other.missing_rates


@dataclass(frozen=True)
class Period:
    """A budget period and the currency its figures are in, as of now."""

    start: datetime
    end: datetime
    currency: str
    now: datetime

    def figures(self) -> Figures:
        """Empty figures of this period."""
        return Figures(self.currency, self.start, self.end, self.now)

    def cuts(self) -> list[tuple[datetime, datetime]]:
        """The period cut at now: [start, now) is spent, [now, end) is the rest."""
        if self.start < self.now < self.end:
            return [(self.start, self.now), (self.now, self.end)]
        return [(self.start, self.end)]


def _accrued(pools: list[int], period: Period, found: dict[int, Figures]) -> None:
    """Spent and the fleet's rest of the period of each pool: one statement, the window cut at now."""
    buckets = period.cuts()
    rest_bucket = 1 if len(buckets) == 2 else (0 if period.now <= period.start else None)
    window = Window(period.start, period.end, buckets, period.currency, max(period.now, period.end))
    for charge in accrue(Scope(narrow={"pool": pools}), ["pool"], window):
        figures = found[charge.group[0]]
        if charge.bucket == rest_bucket:
            if charge.state == PRICED:
                figures.rest += charge.amount / HOUR
        else:
            figures.unpriced_seconds += charge.unpriced
            if charge.state == PRICED:
                figures.spent += charge.amount / HOUR
        if charge.state == NO_RATE and charge.amount:
            figures.missing_rates.add((charge.currency, charge.day))


def month_fraction(start: datetime, end: datetime) -> Decimal:
    """How many calendar months (DCP_TIME_ZONE) [start, end) spans, each month's share exact."""
    total, month = Decimal(0), month_start(start)
    while month < end:
        after = next_month(month)
        overlap = seconds(min(end, after)) - seconds(max(start, month))
        if overlap > 0:
            total += overlap / (seconds(after) - seconds(month))
        month = after
    return total


class Additions:
    """What hosts not launched yet cost from now to the period's end, at prices in force now."""

    def __init__(self, period: Period, placements: list[Placement], templates: dict):
        self.period = period
        self.templates = templates
        cloud = [p for p in placements if templates[p.template].provider.kind != ProviderKind.PHYSICAL]
        self.rows = candidates([placement_key(templates[p.template], p.zone) for p in cloud]) if cloud else []
        wanted = {row.currency for row in self.rows} | {settings.DCP_CURRENCY}
        self.convert = rates.conversions(wanted, period.currency)

    def amount(self, template, zone: str, count: int) -> Decimal | None:
        """count hosts of template in zone from now to the end, in the period's currency (None: unknown)."""
        period, moment = self.period, seconds(self.period.now)
        span = seconds(period.end) - moment
        if span <= 0:
            return Decimal(0)
        if template.provider.kind == ProviderKind.PHYSICAL:
            monthly = physical_monthly(template, zone, count)
            factor = self.convert[settings.DCP_CURRENCY].factor(moment)
            if monthly is None or factor is None:
                return None
            return monthly * factor * month_fraction(period.now, period.end)
        row = in_force(placement_key(template, zone), self.rows, period.now)
        factor = self.convert[row.currency].factor(moment) if row else None
        if factor is None:
            return None
        hours = span / HOUR
        if row.billing == Billing.PER_HOUR:
            # Each started hour is billed whole.
            hours = (span / HOUR).to_integral_value(rounding=ROUND_CEILING)
        return row.hourly_price * factor * hours * count

    def total(self, placements: list[Placement]) -> tuple[Decimal, int]:
        """What placements add, and how many of their hosts have no known price (left out of the sum)."""
        total, unpriced = Decimal(0), 0
        for placement in placements:
            amount = self.amount(self.templates[placement.template], placement.zone, placement.count)
            if amount is None:
                unpriced += placement.count
            else:
                total += amount
        return total, unpriced


def placements_amount(period: Period, placements: list[Placement], templates: dict) -> tuple[Decimal, int]:
    """What placements add from now to the period's end, and how many of their hosts have no known price."""
    return Additions(period, placements, templates).total(placements)


@dataclass
class PoolChanges:
    """A pool's accepted changes not yet done: hosts to place, to launch, and to remove."""

    placements: list[Placement] = field(default_factory=list)
    doomed: list[int] = field(default_factory=list)


#: Hosts on their way whose instance does not exist yet: they cost nothing so far and will from launch.
UNLAUNCHED = (HostStatus.PENDING, HostStatus.CREATING)


def _victims(excess: dict[int, int]) -> dict[int, list[int]]:
    """The hosts a pending scale-in will remove from each pool: its first excess hosts in scale-in order."""
    if not excess:
        return {}
    ranked = (
        Host.objects.filter(pool_id__in=list(excess), status__in=HostStatus.ACTIVE)
        .annotate(readiness=NOT_READY_FIRST)
        .annotate(rank=models.Window(RowNumber(), partition_by=[F("pool_id")], order_by=list(SCALE_IN_ORDER)))
        .values_list("pk", "pool_id", "rank")
        .order_by()
    )
    found: dict[int, list[int]] = defaultdict(list)
    for pk, pool_id, rank in ranked:
        if rank <= excess[pool_id]:
            found[pool_id].append(pk)
    return found


def _changes(pool_ids: list[int]) -> dict[int, PoolChanges]:
    """Each pool's unfinished scale-outs (as placements) and pending scale-ins (as hosts).

    A few queries for any number of pools; a pool whose scale-out is accepted but not planned yet (the
    reconciler plans on commit, so for moments) is planned here, as the reconciler will.
    """
    pools = list(
        ServicePool.objects.filter(pk__in=pool_ids)
        .annotate(
            active=Count("hosts", filter=Q(hosts__status__in=HostStatus.ACTIVE)),
            waiting=Count("hosts", filter=Q(hosts__status__in=UNLAUNCHED, hosts__launched_at__isnull=True)),
            leaving=Count("hosts", filter=Q(hosts__status=HostStatus.TERMINATING)),
        )
        .filter(Q(waiting__gt=0) | Q(leaving__gt=0) | ~Q(desired_size=F("active")))
    )
    if not pools:
        return {}
    found = {pool.pk: PoolChanges() for pool in pools}
    victims = _victims({p.pk: p.active - p.desired_size for p in pools if p.active > p.desired_size})
    leaving = Host.objects.filter(pool_id__in=list(found), status=HostStatus.TERMINATING, terminated_at__isnull=True)
    for pk, pool_id in leaving.values_list("pk", "pool_id").order_by():
        found[pool_id].doomed.append(pk)
    doomed = {pk for hosts in victims.values() for pk in hosts}
    for pool_id, hosts in victims.items():
        found[pool_id].doomed += hosts
    waiting = (
        Host.objects.filter(pool_id__in=list(found), status__in=UNLAUNCHED, launched_at__isnull=True)
        .exclude(pk__in=doomed)
        .values_list("pool_id", "template_id", "zone")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for pool_id, template, zone, n in waiting:
        found[pool_id].placements.append(Placement(template, "", "", zone, n))
    for pool in pools:
        if pool.desired_size > pool.active:
            found[pool.pk].placements += plan_scale_out(pool, pool.desired_size - pool.active).placements
    return found


def _changed(found: dict[int, Figures], period: Period) -> None:
    """Add what unfinished scale-outs add and subtract what pending scale-ins remove, per pool."""
    changes = _changes(list(found))
    if not changes:
        return
    wanted = {p.template for c in changes.values() for p in c.placements}
    templates = {t.pk: t for t in MachineTemplate.objects.filter(pk__in=wanted).select_related("provider")}
    additions = Additions(period, [p for c in changes.values() for p in c.placements], templates)
    for pool_id, change in changes.items():
        amount, unpriced = additions.total(change.placements)
        found[pool_id].added += amount
        found[pool_id].unpriced_hosts += unpriced
    doomed = [host for change in changes.values() for host in change.doomed]
    if not doomed or period.now >= period.end:
        return
    window = Window(period.now, period.end, [(period.now, period.end)], period.currency, period.end)
    for charge in accrue(Scope(narrow={"host": doomed}), ["pool"], window):
        if charge.state == PRICED:
            found[charge.group[0]].removed += charge.amount / HOUR


def pool_figures(pool_ids: list[int], period: Period) -> dict[int, Figures]:
    """The figures of each pool for the period."""
    found = {pk: period.figures() for pk in pool_ids}
    if not pool_ids:
        return found
    _accrued(pool_ids, period, found)
    if period.now < period.end:
        _changed(found, period)
    return found


def daily_rest(pool_ids: list[int], period: Period) -> tuple[dict, dict]:
    """Spend per day so far and the frozen fleet's spend per day to the end (money, exact), by bucket start."""
    from apps.costs.choices import Step
    from apps.costs.periods import boundaries

    cuts = sorted({period.start, *boundaries(period.start, period.end, Step.DAY), period.end})
    if period.start < period.now < period.end and period.now not in cuts:
        cuts = sorted([*cuts, period.now])
    buckets = list(zip(cuts, cuts[1:], strict=False))
    window = Window(period.start, period.end, buckets, period.currency, max(period.now, period.end))
    actual, projected = defaultdict(Decimal), defaultdict(Decimal)
    if not pool_ids:
        return actual, projected
    for charge in accrue(Scope(narrow={"pool": pool_ids}), ["pool"], window):
        if charge.state != PRICED:
            continue
        lo = buckets[charge.bucket][0]
        target = actual if lo < period.now else projected
        target[local_day(lo)] += charge.amount / HOUR
    return actual, projected
