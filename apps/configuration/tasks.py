"""Celery tasks of initialization re-runs (the engine's own runs are its initialize_hosts step)."""

from celery import shared_task

from apps.configuration import services
from apps.configuration.choices import InitStatus
from apps.configuration.models import InitRun


@shared_task
def run_initialization(run_ids: list[int]) -> None:
    """Carry out claimed re-runs; each host's status is left as it was, the run records the outcome."""
    runs = list(
        InitRun.objects.select_related(
            "host__template__registry", "host__pool__cluster", "host__provider", "host__known_host"
        ).filter(pk__in=run_ids, status=InitStatus.RUNNING)
    )
    services.execute(runs)
