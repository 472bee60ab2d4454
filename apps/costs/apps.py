"""Costs app: price catalog, exchange rates, accrual, cost queries and scheduled cost reports."""

from django.apps import AppConfig


class CostsConfig(AppConfig):
    """Configuration of the costs app."""

    name = "apps.costs"
    label = "costs"

    def ready(self) -> None:
        """Register the budget and cost report tasks (Celery's autodiscovery looks at each app's tasks module only)."""
        from apps.costs.budgets import tasks as budget_tasks  # noqa: F401
        from apps.costs.reports import tasks as report_tasks  # noqa: F401
