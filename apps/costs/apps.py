"""Costs app: price catalog, exchange rates, accrual and cost queries."""

from django.apps import AppConfig


class CostsConfig(AppConfig):
    """Configuration of the costs app."""

    name = "apps.costs"
    label = "costs"

    def ready(self) -> None:
        """Register the budget tasks (Celery's autodiscovery looks at each app's tasks module only)."""
        from apps.costs.budgets import tasks  # noqa: F401
