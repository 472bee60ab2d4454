"""Console app: the web console for ops engineers."""

from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    """Configuration of the console app."""

    name = "apps.console"
    label = "console"
