"""Celery tasks of the costs app: the daily price sync, one task per provider account."""

import logging

from celery import shared_task

from apps.costs import kept, sync
from apps.providers.drivers import ThrottledError, TransientError
from apps.providers.models import CloudAccount

logger = logging.getLogger(__name__)


@shared_task
def sync_prices() -> None:
    """The daily price sync (Celery beat, DCP_PRICE_SYNC_HOUR): one task per account, so none holds up another."""
    for account_id in CloudAccount.objects.order_by("pk").values_list("pk", flat=True):
        sync_account_prices.delay(account_id)


@shared_task(
    autoretry_for=(ThrottledError, TransientError),
    retry_backoff=60,
    retry_backoff_max=3600,
    retry_jitter=True,
    max_retries=5,
)
def sync_account_prices(account_id: int) -> None:
    """Sync one account's prices and log what was found; a passing provider fault is retried later."""
    account = CloudAccount.objects.filter(pk=account_id).first()
    if account is None:
        return
    result = sync.sync_account(account)
    logger.info("price sync: %s", sync.describe(result))
    if result.error and result.retryable:
        raise TransientError(f"price sync of {account.name}: {result.error}")


@shared_task(soft_time_limit=300, time_limit=330)
def keep_group_costs() -> int:
    """Keep every pool's and cluster's run-rate and cost this month for the lists (beat,
    DCP_COST_FIGURES_INTERVAL); how many were kept."""
    return kept.keep_all()
