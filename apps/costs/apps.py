"""Costs app: price catalog, exchange rates, accrual, cost queries and scheduled cost reports."""

from django.apps import AppConfig


class CostsConfig(AppConfig):
    """Configuration of the costs app."""

    name = "apps.costs"
    label = "costs"

    def ready(self) -> None:
        """Register the cost report tasks (Celery's autodiscovery looks at each app's tasks module only)."""
        from apps.costs.reports import tasks  # noqa: F401
