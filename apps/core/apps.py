"""Core app: base model, restricted querysets, audit log, API base classes."""

from django.apps import AppConfig


class CoreConfig(AppConfig):
    """Configuration of the core app."""

    name = "apps.core"
    label = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        """Connect the sign-in handler that starts a console session's idle clock."""
        from django.contrib.auth.signals import user_logged_in

        from apps.core.middleware import start_idle_clock

        user_logged_in.connect(start_idle_clock, dispatch_uid="dcp-start-idle-clock")
