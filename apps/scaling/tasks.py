"""Celery tasks of the scaling app, sent by beat: run due schedule occurrences, step in settled policies.

Both are safe to run twice at once (two beats) or again after a killed worker: each schedule and policy
is judged under its own row lock, and an occurrence is recorded once.
"""

from celery import shared_task
from django.db import OperationalError

from apps.scaling import policies, schedules

RETRY = {"autoretry_for": (OperationalError,), "retry_backoff": 1, "retry_jitter": True, "max_retries": 5}


@shared_task(**RETRY)
def run_schedules() -> int:
    """Run every scaling schedule's due occurrences (and ends); how many were recorded."""
    return schedules.run_due()


@shared_task(**RETRY)
def settle_policies() -> int:
    """Step in the policies whose alerts have stayed resolved for their stable period."""
    return policies.settle_due()
