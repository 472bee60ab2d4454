"""Budget and cost report pages: lists served by the API's viewsets, a budget's burn-down and alerts,
a report schedule's reports with their downloads.

Figures come from the budgets service (``figures_of``, ``burndown``), the same
computation the API answers with; downloads are the API's own report
endpoint, so they pass the API's permission checks.
"""

from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.console.generic import ListPage
from apps.console.lists import CLUSTER_CHOICES, POOL_CHOICES
from apps.console.paging import paged
from apps.console.tables import Column, Table
from apps.costs.budgets.api import BudgetViewSet
from apps.costs.budgets.burndown import burndown
from apps.costs.budgets.figures import figures_of
from apps.costs.budgets.models import Budget
from apps.costs.reports.api import CostReportScheduleViewSet
from apps.costs.reports.models import CostReportSchedule

ALERTS_PER_PAGE = 50
REPORTS_PER_PAGE = 50


def with_figures(budgets) -> list[Budget]:
    """The budgets, each with ``figures``: this period's figures as the API shows them (computed together)."""
    budgets = list(budgets)
    found = figures_of(budgets, timezone.now()) if budgets else {}
    for budget in budgets:
        budget.figures = found[budget.pk].as_json()
    return budgets


def figure(name: str):
    """A column's value: one of the budget's figures."""
    return lambda budget: budget.figures[name]


BUDGETS = Table(
    "budgets",
    [
        Column("name", _("Budget"), value=lambda b: b.name or f"#{b.pk}", order="name", link="console:budget"),
        Column("cluster", _("Cluster"), path="cluster.name", link="console:cluster", link_path="cluster"),
        Column("pool", _("Pool"), path="pool.name", link="console:pool", link_path="pool"),
        Column("period", _("Period"), labelled=True),
        Column("amount", _("Amount")),
        Column("currency", _("Currency")),
        Column("spent", _("Spent"), order="", value=figure("spent")),
        Column("forecast", _("Forecast"), order="", value=figure("forecast")),
        Column("forecast_percent", _("Forecast %"), order="", value=figure("forecast_percent")),
        Column("status", _("Status"), order="", pill=True, value=figure("status")),
        Column("enforce", _("Enforced"), labelled=True),
    ],
)
SCHEDULES = Table(
    "report-schedules",
    [
        Column("name", _("Name"), link="console:report-schedule"),
        Column("cluster", _("Cluster"), path="cluster.name", link="console:cluster", link_path="cluster"),
        Column("frequency", _("Frequency"), labelled=True),
        Column("group_by", _("Group by"), order=""),
        Column("currency", _("Currency")),
        Column("formats", _("Formats"), order="", value=lambda s: ", ".join(s.formats)),
        Column("owner", _("Owner"), path="owner.username", order=""),
        Column("active", _("Active"), labelled=True),
        Column("paused_reason", _("Paused because"), order="", default=False),
    ],
)


class BudgetList(ListPage):
    """Budgets of the user's clusters, with this period's figures."""

    viewset, table, title, section = BudgetViewSet, BUDGETS, _("Budgets"), "budgets"
    filters, choices = ("cluster", "pool", "period"), {"cluster": CLUSTER_CHOICES, "pool": POOL_CHOICES}
    search = ("name",)

    def prepare(self, objects) -> None:
        """The figures of the page's budgets, computed together."""
        with_figures(objects)


class ReportScheduleList(ListPage):
    """Cost report schedules the user may see."""

    viewset, table, title, section = CostReportScheduleViewSet, SCHEDULES, _("Cost reports"), "reports"
    filters, choices = ("cluster", "frequency"), {"cluster": CLUSTER_CHOICES}
    search = ("name",)


@login_required
def budget_detail(request, budget_id: int):
    """A budget: its figures this period, the burn-down (spent, forecast and linear) and the alerts it fired."""
    budget = get_object_or_404(Budget.objects.restrict(request.user).select_related("cluster", "pool"), pk=budget_id)
    alerts = budget.alerts.prefetch_related("deliveries").order_by("-created_at", "-pk")
    context = {
        "section": "budgets",
        "budget": with_figures([budget])[0],
        "burndown": burndown(budget, timezone.now()),
        "alerts": paged(request, alerts, ALERTS_PER_PAGE, param="alerts_page"),
    }
    return render(request, "console/budget.html", context)


@login_required
def report_schedule_detail(request, schedule_id: int):
    """A report schedule and a page of the reports it made, each with its downloads."""
    schedules = CostReportSchedule.objects.restrict(request.user).select_related("cluster", "owner")
    schedule = get_object_or_404(schedules, pk=schedule_id)
    reports = schedule.reports.order_by("-period_start", "pk")
    context = {
        "section": "reports",
        "schedule": schedule,
        "reports": paged(request, reports, REPORTS_PER_PAGE, param="reports_page"),
    }
    return render(request, "console/report_schedule.html", context)
