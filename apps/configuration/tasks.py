"""Celery tasks of initialization re-runs and drift checks (the engine's own runs are its initialize_hosts step)."""

from celery import shared_task

from apps.configuration import jobs, services
from apps.configuration.choices import InitStatus
from apps.configuration.models import InitRun


@shared_task
def run_initialization(run_ids: list[int]) -> None:
    """Carry out claimed re-runs queued before re-runs were jobs; each host's status is left as it was."""
    runs = list(
        InitRun.objects.select_related(
            "host__template__registry", "host__pool__cluster", "host__provider", "host__known_host"
        ).filter(pk__in=run_ids, status=InitStatus.RUNNING)
    )
    services.execute(runs)


@shared_task
def run_init_job(job_id: int) -> None:
    """Carry out a re-run or drift check job: its hosts' runs, then the job's outcome."""
    jobs.carry_out(job_id)


@shared_task
def start_drift_checks() -> None:
    """The drift check schedule: a check job for each pool whose interval has passed since its last one."""
    for pool_id in jobs.due_pools():
        jobs.start_scheduled(pool_id)
