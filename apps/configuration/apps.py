"""Configuration app: runners that bring new hosts to their base state."""

from django.apps import AppConfig


class ConfigurationConfig(AppConfig):
    """Configuration of the configuration app."""

    name = "apps.configuration"
    label = "configuration"
