"""Cost queries: the answer of ``GET /api/v1/costs/`` built from the database's charges.

Amounts are summed exactly (Decimal) and rounded once per figure to the report
currency's minor unit: each row's cost is its exact sum rounded, and the total
is the exact sum of every row rounded (so rows may differ from the total by
rounding, never by more than half a minor unit per row).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, localcontext

from apps.costs.accrual import Charge, Window, accrue, accrue_idle
from apps.costs.choices import Dimension
from apps.costs.currencies import round_money
from apps.costs.curves import PRECISION
from apps.costs.periods import buckets, zone
from apps.costs.pieces import NO_RATE, PRICED
from apps.costs.scope import Scope
from apps.inventory.models import Cluster, ServicePool
from apps.providers.models import CloudAccount, MachineTemplate

HOURS = Decimal("0.0001")
#: Objects whose names a row's key shows; other dimensions are their own name.
NAMED = {
    Dimension.CLUSTER: Cluster,
    Dimension.POOL: ServicePool,
    Dimension.PROVIDER: CloudAccount,
    Dimension.TEMPLATE: MachineTemplate,
}
NOTE = (
    "Amounts with no exchange rate for their day are not in any cost or total: see missing_rates and "
    "unconverted (in their own currency)."
)


@dataclass
class CostQuery:
    """What a cost query asks: validated by the API (apps.costs.api)."""

    dimensions: list[str]
    start: datetime
    end: datetime
    currency: str
    step: str | None = None
    filters: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class Sums:
    """Exact running sums of one group."""

    amount: Decimal = Decimal(0)
    seconds: Decimal = Decimal(0)
    unpriced: Decimal = Decimal(0)

    def add(self, charge: Charge) -> None:
        """Count one charge in."""
        self.seconds += charge.seconds
        self.unpriced += charge.unpriced
        if charge.state == PRICED:
            self.amount += charge.amount


def scope(user, filters: dict[str, int]) -> Scope:
    """The hosts the user may see, narrowed by the query's filters (an id the user cannot see matches nothing)."""
    return Scope.for_user(user, **{key: [value] for key, value in filters.items()})


def _when(moment: datetime) -> str:
    """An instant as ISO 8601 in DCP_TIME_ZONE, the zone its calendar buckets are cut in."""
    return moment.astimezone(zone()).isoformat()


def _hours(seconds: Decimal) -> str:
    return str((seconds / 3600).quantize(HOURS))


class Labels:
    """Each group's key (names joined by /) and ids, looked up once per answer (a query per named dimension)."""

    def __init__(self, dimensions: list[str], groups):
        self.dimensions = dimensions
        names: dict[str, dict] = {}
        for index, dimension in enumerate(dimensions):
            ids = {group[index] for group in groups}
            model = NAMED.get(dimension)
            names[dimension] = dict(model.objects.filter(pk__in=ids).values_list("pk", "name")) if model else {}
        self.names = names
        self.cache: dict[tuple, tuple[str, dict, tuple]] = {}

    def __call__(self, group: tuple) -> tuple[str, dict, tuple]:
        """(key, ids, sort key) of a group."""
        found = self.cache.get(group)
        if found is None:
            labels = [str(self.names[d].get(v, v)) or "-" for d, v in zip(self.dimensions, group, strict=True)]
            key = "/".join(labels)
            found = (key, dict(zip(self.dimensions, group, strict=True)), (key, [str(v) for v in group]))
            self.cache[group] = found
        return found


def _rows(sums: dict[tuple, Sums], labels: Labels, currency: str) -> list[dict]:
    rows = []
    for group in sorted(sums, key=lambda g: labels(g)[2]):
        total, (key, ids, _) = sums[group], labels(group)
        rows.append(
            {
                "key": key,
                "ids": ids,
                "cost": str(round_money(total.amount / 3600, currency)),
                "host_hours": _hours(total.seconds),
                "unpriced_host_hours": _hours(total.unpriced),
            }
        )
    return rows


def _missing(charges: list[Charge]) -> tuple[list[dict], list[dict]]:
    days, amounts = set(), defaultdict(Decimal)
    for charge in charges:
        if charge.state == NO_RATE and charge.amount:
            days.add((charge.currency, charge.day))
            amounts[charge.currency] += charge.amount
    missing = [{"currency": c, "day": d} for c, d in sorted(days)]
    unconverted = [{"currency": c, "amount": str(round_money(a / 3600, c))} for c, a in sorted(amounts.items())]
    return missing, unconverted


def _window(query: CostQuery, now: datetime) -> Window:
    return Window(query.start, query.end, buckets(query.start, query.end, query.step), query.currency, now)


def answer(user, query: CostQuery, now: datetime) -> dict:
    """The whole answer: totals, rows, a series per bucket when asked, idle cost for system administrators."""
    # Sums and the division by 3600 keep every digit, so that each figure is rounded once, when shown.
    with localcontext() as context:
        context.prec = PRECISION
        return _answer(user, query, now)


def _answer(user, query: CostQuery, now: datetime) -> dict:
    window = _window(query, now)
    charges = accrue(scope(user, query.filters), query.dimensions, window)
    idle = None
    if user.is_superuser and not ({"cluster", "pool"} & set(query.filters)):
        provider = query.filters.get("provider")
        idle = accrue_idle([provider] if provider else None, window)
    names = Labels(query.dimensions, {c.group for c in charges})
    idle_names = Labels([Dimension.PROVIDER], {c.group for c in idle or ()})
    whole, per_bucket, grand = defaultdict(Sums), defaultdict(lambda: defaultdict(Sums)), Sums()
    for charge in charges:
        whole[charge.group].add(charge)
        per_bucket[charge.bucket][charge.group].add(charge)
        grand.add(charge)
    result = {
        "currency": query.currency,
        "start": _when(query.start),
        "end": _when(query.end),
        "total": str(round_money(grand.amount / 3600, query.currency)),
        "host_hours": _hours(grand.seconds),
        "unpriced_host_hours": _hours(grand.unpriced),
        "rows": _rows(whole, names, query.currency),
    }
    idle_whole, idle_bucket = defaultdict(Sums), defaultdict(lambda: defaultdict(Sums))
    for charge in idle or ():
        idle_whole[charge.group].add(charge)
        idle_bucket[charge.bucket][charge.group].add(charge)
    if idle is not None:
        result["idle"] = _rows(idle_whole, idle_names, query.currency)
        result["idle_total"] = str(
            round_money(sum((s.amount for s in idle_whole.values()), Decimal(0)) / 3600, query.currency)
        )
    if query.step:
        result["series"] = []
        for index, (start, end) in enumerate(window.buckets):
            item = {
                "start": _when(start),
                "end": _when(end),
                "rows": _rows(per_bucket[index], names, query.currency),
            }
            if idle is not None:
                item["idle"] = _rows(idle_bucket[index], idle_names, query.currency)
            result["series"].append(item)
    missing, unconverted = _missing([*charges, *(idle or ())])
    result["missing_rates"] = missing
    if missing:
        result["unconverted"] = unconverted
        result["note"] = NOTE
    return result
