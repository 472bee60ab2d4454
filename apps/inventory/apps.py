"""Inventory app: clusters, service pools, hosts, physical machines."""

from django.apps import AppConfig


class InventoryConfig(AppConfig):
    """Configuration of the inventory app."""

    name = "apps.inventory"
    label = "inventory"
