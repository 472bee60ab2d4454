"""Monitoring app: the /metrics endpoint, counters shared by every process, HTTP metrics, JSON logs."""

from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    """Configuration of the monitoring app."""

    name = "apps.monitoring"
    label = "monitoring"
    verbose_name = "Monitoring"

    def ready(self) -> None:
        """Connect the Celery task signals that give each task's log lines their ids."""
        from apps.monitoring import tasks  # noqa: F401 - connects signal handlers
