"""A budget's burn-down: cumulative spend per day of the period so far, and the forecast line to its end.

One accrual statement cut at every midnight and at now gives the spend of each
day so far and what the fleet as it stands costs each day to the end; what
accepted scale jobs add or remove is spread evenly over the time left.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from apps.costs.budgets.figures import budget_period, figures_of, pools_of
from apps.costs.budgets.forecast import daily_rest
from apps.costs.budgets.models import Budget
from apps.costs.choices import Step
from apps.costs.currencies import round_money
from apps.costs.periods import boundaries, local_day, seconds


def burndown(budget: Budget, now: datetime) -> dict:
    """The whole answer of GET /api/v1/budgets/{id}/burndown/."""
    period = budget_period(budget, now)
    figures = figures_of([budget], now)[budget.pk].figures
    actual, projected = daily_rest(pools_of(budget), period)
    change = figures.added - figures.removed
    money = lambda value: str(round_money(value, budget.currency))  # noqa: E731
    starts = [period.start, *boundaries(period.start, period.end, Step.DAY)]
    ends = [*starts[1:], period.end]
    lo, hi, at = seconds(period.start), seconds(period.end), seconds(now)
    left = hi - at
    spent = ahead = Decimal(0)
    days = []
    for start, end in zip(starts, ends, strict=True):
        day = local_day(start)
        spent += actual.get(day, Decimal(0))
        ahead += projected.get(day, Decimal(0))
        # The share of the time left that has passed by the day's end, of what scale jobs add or remove.
        share = (min(hi, max(seconds(end), at)) - at) / left if left > 0 else Decimal(0)
        days.append(
            {
                "day": day.isoformat(),
                "spent": money(spent) if start <= now else None,
                "forecast": money(spent + ahead + change * share) if end > now else None,
                "linear": money(figures.linear * (seconds(end) - lo) / (hi - lo)),
            }
        )
    return {
        "budget": budget.pk,
        "currency": budget.currency,
        "amount": str(budget.shown_amount),
        "period_start": period.start.isoformat(),
        "period_end": period.end.isoformat(),
        "now": now.isoformat(),
        "spent": money(figures.spent),
        "forecast": money(figures.forecast),
        "linear_forecast": money(figures.linear),
        "days": days,
    }
