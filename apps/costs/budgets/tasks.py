"""Celery tasks of budgets: the periodic check, and delivering an alert's messages (retried with back-off)."""

from celery import shared_task
from django.utils import timezone

from apps.costs.budgets import delivery
from apps.costs.budgets.models import AlertDelivery
from apps.monitoring.spend import record_run_rates

TIME_LIMITS = {"soft_time_limit": 300, "time_limit": 330}


@shared_task(**TIME_LIMITS)
def check_budgets() -> int:
    """Fire the thresholds crossed this period, and try the deliveries whose time has come (beat); keep the
    clusters' run-rates for /metrics beside the budgets' figures."""
    fired = delivery.check_budgets(timezone.now())
    for delivery_id in delivery.due(timezone.now()):
        deliver.delay(delivery_id)
    record_run_rates()
    return len(fired)


@shared_task(**TIME_LIMITS)
def deliver_alert(alert_id: int) -> None:
    """Queue each delivery of a new alert."""
    for delivery_id in AlertDelivery.objects.filter(alert_id=alert_id).values_list("pk", flat=True):
        deliver.delay(delivery_id)


@shared_task(bind=True, max_retries=None, **TIME_LIMITS)
def deliver(self, delivery_id: int) -> str | None:
    """Try one delivery; a failed try is tried again at its next_attempt (the beat also picks it up then)."""
    status = delivery.attempt(delivery_id)
    wait = delivery.retry_in(delivery_id) if status is not None else None
    if wait is not None:
        raise self.retry(countdown=wait)
    return status
