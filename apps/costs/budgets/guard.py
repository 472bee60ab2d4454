"""The budget guard: a scale-out whose forecast would pass an enforced budget is refused (409) with the figures.

A cluster admin may override it (audited on the budget). Scale-ins are never
refused. A dry run shows the same figures for every budget covering the pool,
enforced or not, and refuses nothing. The budgets are locked while a real
scale-out is checked, so two scale-outs under one budget are judged one after
the other, the second with the first one's hosts in its forecast.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q

from apps.core import audit
from apps.core.exceptions import Conflict
from apps.core.models import AuditAction
from apps.costs.budgets.figures import PERCENT_PLACES, budget_period, figures_of
from apps.costs.budgets.forecast import placements_amount
from apps.costs.budgets.models import Budget
from apps.costs.currencies import round_money


class BudgetExceeded(Conflict):
    """A scale-out refused because its forecast would pass one or more enforced budgets."""

    def __init__(self, message: str, budgets: list[dict]):
        super().__init__(message)
        self.budgets = budgets

    def as_data(self) -> dict:
        """The message and every covering budget's figures."""
        return {"detail": self.message, "budgets": self.budgets}


def covering(pool, *, enforced_only: bool) -> list[Budget]:
    """The budgets of the pool's cluster that cover it (the cluster's whole, or this pool)."""
    budgets = Budget.objects.filter(cluster_id=pool.cluster_id).filter(Q(pool__isnull=True) | Q(pool_id=pool.pk))
    if enforced_only:
        budgets = budgets.filter(enforce=True).select_for_update(of=("self",))
    return list(budgets.order_by("pk"))


def budget_figures(budgets: list[Budget], placements: list, templates: dict, now: datetime) -> list[dict]:
    """Each budget's forecast now, what the placements add to its period, and where that takes it."""
    current = figures_of(budgets, now)
    found = []
    for budget in budgets:
        period = budget_period(budget, now)
        adds, unpriced = placements_amount(period, placements, templates)
        forecast = current[budget.pk].figures.forecast
        after = forecast + adds
        money = lambda value, b=budget: str(round_money(value, b.currency))  # noqa: E731
        found.append(
            {
                "budget": budget.pk,
                "name": budget.name,
                "enforce": budget.enforce,
                "period_start": period.start.isoformat(),
                "period_end": period.end.isoformat(),
                "amount": str(budget.shown_amount),
                "currency": budget.currency,
                "forecast": money(forecast),
                "adds": money(adds),
                "forecast_after": money(after),
                "percent_after": str((after * 100 / budget.amount).quantize(PERCENT_PLACES)),
                "unpriced_hosts": unpriced,
                "over": after > budget.amount,
            }
        )
    return found


def check_scale_out(budgets: list[Budget], placements, templates, *, override: bool, now: datetime) -> list[dict]:
    """Refuse (BudgetExceeded) a scale-out that takes one of the enforced budgets' forecast past its amount.

    With override (the caller has checked the user is a cluster admin) it goes ahead: the figures of
    the budgets it passes are answered, for record_overrides once the job exists.
    """
    figures = budget_figures(budgets, placements, templates, now)
    over = [entry for entry in figures if entry["over"]]
    if over and not override:
        names = ", ".join(f"{e['name'] or e['budget']} ({e['amount']} {e['currency']})" for e in over)
        raise BudgetExceeded(
            f"This scale-out would take the forecast past budget {names}: ask for fewer hosts, raise the budget, "
            'or (cluster admins) send "override_budget": true.',
            figures,
        )
    return over


def record_overrides(user, over: list[dict], pool, job) -> None:
    """An audit entry on each budget a cluster admin's scale-out passed, with the figures, pool and job."""
    budgets = Budget.objects.in_bulk([entry["budget"] for entry in over])
    for entry in over:
        after = {"override_budget": True, "pool": pool.pk, "job": job.pk, **entry}
        audit.record(user, AuditAction.SCALE, budgets[entry["budget"]], None, after)
