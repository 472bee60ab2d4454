"""Budgets' current periods and figures: spent, forecast, linear extrapolation, percentage and status.

The figures of many budgets are computed together: budgets of one period and
currency share one accrual statement over all their clusters' pools.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from apps.costs.budgets.choices import AlertBasis, BudgetPeriod, BudgetStatus
from apps.costs.budgets.forecast import Figures, Period, pool_figures
from apps.costs.budgets.models import Budget
from apps.costs.currencies import round_money
from apps.costs.periods import local_day, midnight
from apps.inventory.models import ServicePool

PERCENT_PLACES = Decimal("0.01")


def period_bounds(period: str, now: datetime) -> tuple[datetime, datetime]:
    """The calendar month, quarter or year (DCP_TIME_ZONE) holding now: [start, end)."""
    day = local_day(now)
    if period == BudgetPeriod.YEAR:
        return midnight(date(day.year, 1, 1)), midnight(date(day.year + 1, 1, 1))
    months = 3 if period == BudgetPeriod.QUARTER else 1
    first = (day.month - 1) // months * months + 1
    after = first + months
    end = date(day.year + (after - 1) // 12, (after - 1) % 12 + 1, 1)
    return midnight(date(day.year, first, 1)), midnight(end)


def budget_period(budget: Budget, now: datetime) -> Period:
    """The budget's current period, in its currency."""
    start, end = period_bounds(budget.period, now)
    return Period(start, end, budget.currency, now)


@dataclass
class BudgetFigures:
    """A budget's figures this period, exact; rounded once when shown."""

    budget: Budget
    figures: Figures

    def percent(self, of: str) -> Decimal:
        """Spent (or the forecast) as a percentage of the amount."""
        value = self.figures.spent if of == AlertBasis.ACTUAL else self.figures.forecast
        return value * 100 / self.budget.amount

    def crossed(self) -> list[dict]:
        """The thresholds reached now, each once."""
        return [t for t in self.budget.thresholds if self.percent(t["of"]) >= t["percent"]]

    @property
    def status(self) -> str:
        """exceeded: spend past the amount; warning: a threshold reached, or the forecast past the amount."""
        if self.figures.spent > self.budget.amount:
            return BudgetStatus.EXCEEDED
        if self.crossed() or self.figures.forecast > self.budget.amount:
            return BudgetStatus.WARNING
        return BudgetStatus.OK

    def money(self, value: Decimal) -> str:
        """An amount rounded once to the budget currency's minor unit."""
        return str(round_money(value, self.budget.currency))

    def as_json(self) -> dict:
        """The read-only figures a budget shows."""
        f = self.figures
        return {
            "period_start": f.start.isoformat(),
            "period_end": f.end.isoformat(),
            "spent": self.money(f.spent),
            "forecast": self.money(f.forecast),
            "linear_forecast": self.money(f.linear),
            "percent": str(self.percent(AlertBasis.ACTUAL).quantize(PERCENT_PLACES)),
            "forecast_percent": str(self.percent(AlertBasis.FORECAST).quantize(PERCENT_PLACES)),
            "status": self.status,
            "unpriced_host_hours": str((f.unpriced_seconds / 3600).quantize(Decimal("0.0001"))),
            "unpriced_planned_hosts": f.unpriced_hosts,
            "missing_rates": [{"currency": c, "day": d} for c, d in sorted(f.missing_rates)],
        }


def figures_of(budgets: list[Budget], now: datetime) -> dict[int, BudgetFigures]:
    """The figures of each budget, budgets of one period and currency computed together."""
    groups: dict[Period, list[Budget]] = defaultdict(list)
    for budget in budgets:
        groups[budget_period(budget, now)].append(budget)
    found = {}
    for period, members in groups.items():
        clusters = {b.cluster_id for b in members}
        pools = dict(ServicePool.objects.filter(cluster_id__in=clusters).values_list("pk", "cluster_id"))
        by_pool = pool_figures(list(pools), period)
        for budget in members:
            total = period.figures()
            covered = [budget.pool_id] if budget.pool_id else [p for p, c in pools.items() if c == budget.cluster_id]
            for pool_id in covered:
                total.add(by_pool[pool_id])
            found[budget.pk] = BudgetFigures(budget, total)
    return found


def pools_of(budget: Budget) -> list[int]:
    """The pools a budget covers."""
    if budget.pool_id:
        return [budget.pool_id]
    return list(ServicePool.objects.filter(cluster_id=budget.cluster_id).values_list("pk", flat=True))
