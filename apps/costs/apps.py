"""Costs app: price catalog, exchange rates, accrual and cost queries."""

from django.apps import AppConfig


class CostsConfig(AppConfig):
    """Configuration of the costs app."""

    name = "apps.costs"
    label = "costs"
