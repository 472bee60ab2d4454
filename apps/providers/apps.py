"""Providers app: provider accounts, machine templates, drivers."""

from django.apps import AppConfig


class ProvidersConfig(AppConfig):
    """Configuration of the providers app."""

    name = "apps.providers"
    label = "providers"
