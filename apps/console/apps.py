"""Console app: the web console for ops engineers."""

from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    """Configuration of the console app."""

    name = "apps.console"
    label = "console"

    def ready(self):
        """Connect the sign-in handler that brings back the user's language."""
        from apps.console import i18n  # noqa: F401
