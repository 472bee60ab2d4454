"""Core app: base model, restricted querysets, audit log, API base classes."""

from django.apps import AppConfig


class CoreConfig(AppConfig):
    """Configuration of the core app."""

    name = "apps.core"
    label = "core"
    verbose_name = "Core"
