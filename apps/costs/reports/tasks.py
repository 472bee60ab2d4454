"""Celery tasks of cost reports: the beat that makes due reports, and the e-mail of one report."""

from celery import shared_task
from django.db import OperationalError
from django.utils import timezone

from apps.costs.reports import mail, services

DB_RETRY = {"autoretry_for": (OperationalError,), "retry_backoff": 1, "retry_backoff_max": 10, "max_retries": 5}


@shared_task(**DB_RETRY)
def make_cost_reports() -> None:
    """Queue the making of each schedule's due reports (periods just closed, and missed ones), then queue every
    e-mail whose try is due: each schedule is its own short task, so many schedules never add up to one long one."""
    now = timezone.now()
    for schedule_id in services.due_schedules(now):
        make_schedule_reports.delay(schedule_id)
    for report_id in services.due_deliveries(now):
        services.queue_delivery(report_id)


@shared_task(**DB_RETRY)
def make_schedule_reports(schedule_id: int) -> None:
    """Make one schedule's due reports (a second run for the same periods makes nothing)."""
    services.make_schedule_reports(schedule_id, timezone.now())


@shared_task(**DB_RETRY)
def deliver_cost_report(report_id: int) -> None:
    """Send one report's e-mail; after a failure, come back when its next try is due."""
    retry_in = mail.deliver(report_id, timezone.now())
    if retry_in is not None:
        services.queue_delivery(report_id, countdown=retry_in)
