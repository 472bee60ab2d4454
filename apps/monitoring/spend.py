"""Money metrics: each cluster's run-rate and its hosts of unknown price, and each budget's spend and
forecast against its amount. Both come from apps.costs, the computation the API, console and reports use,
so a dashboard never disagrees with a cost report.

Both take a scan of the whole fleet (a budget's figures accrue every host's life over the period: seconds
on 100,000 hosts), too slow for every scrape, so the periodic budget check (every DCP_BUDGET_CHECK_INTERVAL
seconds, 5 minutes by default) keeps them (record_run_rates, record_budget_figures) and a scrape reads
what it kept, with its age in dcp_cost_figures_age_seconds.

Unknown is not 0: a host with no price in force (or no exchange rate to convert it) adds nothing to the
run-rate and is counted in dcp_cluster_unpriced_hosts instead, so a dashboard can say "at least".
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator

from django.conf import settings
from django.db.models import Max
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily, Metric

from apps.costs.budgets.models import Budget
from apps.costs.currencies import round_money
from apps.costs.services import run_rates
from apps.inventory.models import Cluster
from apps.monitoring import counters
from apps.monitoring.models import CounterValue

PPM = 1_000_000
logger = logging.getLogger(__name__)


def record_run_rates() -> None:
    """Keep each cluster's run-rate and unpriced hosts, as apps.costs computes them now, for /metrics; never
    raises (the budget check that calls it has alerts to deliver)."""
    ids = list(Cluster.objects.values_list("pk", flat=True))
    series = []
    try:
        costs = run_rates("cluster", ids, timezone.now())
    except Exception:
        logger.exception("The clusters' run-rates could not be computed for /metrics")
        return
    for pk, cost in costs.items():
        series.append(
            (counters.RUN_RATE_MICRO, {"cluster": pk}, round(round_money(cost.run_rate, cost.currency) * PPM))
        )
        series.append((counters.UNPRICED_HOSTS, {"cluster": pk}, cost.unpriced_hosts))
    counters.replace([counters.RUN_RATE_MICRO, counters.UNPRICED_HOSTS], series)


def spend_metrics(totals: dict) -> Iterator[Metric]:
    """Run-rate per cluster, and budget ratios, as the last budget check kept them (totals: every counter's
    series)."""
    names = dict(Cluster.objects.order_by().values_list("pk", "name"))
    rate = GaugeMetricFamily(
        "dcp_cluster_cost_per_hour",
        "What the cluster's hosts live now cost per hour, in DCP's report currency (DCP_CURRENCY); hosts of "
        "unknown price are left out and counted in dcp_cluster_unpriced_hosts.",
        labels=["cluster", "currency"],
    )
    unpriced = GaugeMetricFamily(
        "dcp_cluster_unpriced_hosts",
        "The cluster's live hosts with no price in force (or no exchange rate): their cost is unknown, not 0.",
        labels=["cluster"],
    )
    for counter, family, scale, extra in (
        (counters.RUN_RATE_MICRO, rate, PPM, [settings.DCP_CURRENCY]),
        (counters.UNPRICED_HOSTS, unpriced, 1, []),
    ):
        for stored, value in totals.get(counter, []):
            name = names.get(int(stored["cluster"]))
            if name is not None:
                family.add_metric([name, *extra], value / scale)
    yield rate
    yield unpriced
    yield figures_age()
    yield from budget_metrics(totals)


def figures_age() -> Metric:
    """Seconds since the budget check last kept the run-rates (none before the first check)."""
    age = GaugeMetricFamily(
        "dcp_cost_figures_age_seconds",
        "Seconds since the periodic budget check last kept the run-rates and budget ratios /metrics shows.",
    )
    kept = CounterValue.objects.filter(name=counters.RUN_RATE_MICRO).aggregate(at=Max("updated_at"))["at"]
    if kept is not None:
        age.add_metric([], max(0.0, (timezone.now() - kept).total_seconds()))
    return age


def record_budget_figures(found: Iterable) -> None:
    """Keep each budget's spend and forecast over its amount (BudgetFigures of every budget) for /metrics."""
    series = []
    for figures in found:
        budget = {"budget": figures.budget.pk}
        amount = figures.budget.amount
        series.append((counters.BUDGET_SPENT_PPM, budget, round(figures.figures.spent * PPM / amount)))
        series.append((counters.BUDGET_FORECAST_PPM, budget, round(figures.figures.forecast * PPM / amount)))
    counters.replace([counters.BUDGET_SPENT_PPM, counters.BUDGET_FORECAST_PPM], series)


def budget_metrics(totals: dict) -> Iterator[Metric]:
    """Each budget's spend and forecast this period as a share of its amount (1 = all of it), as the last
    budget check found them."""
    labels = ["cluster", "pool", "budget", "period", "currency"]
    spent = GaugeMetricFamily(
        "dcp_budget_spent_ratio", "Spent this period over the budget's amount (1 = the whole budget).", labels=labels
    )
    forecast = GaugeMetricFamily(
        "dcp_budget_forecast_ratio",
        "The period's forecast spend (the fleet as it stands) over the budget's amount; over 1 is over budget.",
        labels=labels,
    )
    budgets = {budget.pk: budget for budget in Budget.objects.select_related("cluster", "pool").order_by()}
    for counter, family in ((counters.BUDGET_SPENT_PPM, spent), (counters.BUDGET_FORECAST_PPM, forecast)):
        for stored, value in totals.get(counter, []):
            budget = budgets.get(int(stored["budget"]))
            if budget is None:
                continue  # deleted since the last check
            names = [
                budget.cluster.name,
                budget.pool.name if budget.pool_id else "",
                budget.name or str(budget.pk),
                budget.period,
                budget.currency,
            ]
            family.add_metric(names, value / PPM)
    yield spent
    yield forecast
