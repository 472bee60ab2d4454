"""Celery tasks of the engine: thin wrappers that call the reconciler and the host steps.

Each is short and idempotent. Retryable provider errors (throttled, transient)
are retried with exponential back-off and jitter, each retry on the job's
timeline; waiting for instances is done by re-queueing with a countdown, never
by sleeping in a worker.
"""

import logging
import random
from datetime import datetime, timedelta

from celery import Task, shared_task
from django.conf import settings
from django.db import OperationalError
from django.db.models import Count, F, Q
from django.utils import timezone

from apps.inventory.choices import HostStatus
from apps.inventory.models import ServicePool
from apps.providers.drivers import ProviderError, ThrottledError, TransientError
from apps.provisioning import reconciler, retries, sweep, work
from apps.provisioning.choices import JobStatus

logger = logging.getLogger(__name__)

# A step that lost a deadlock (or its connection) was rolled back whole; it is idempotent, so it runs
# again in a moment instead of waiting DCP_STUCK_AFTER_SECONDS for the reconciler to find its hosts stuck.
DB_RETRY = {
    "autoretry_for": (OperationalError,),
    "retry_backoff": 1,
    "retry_backoff_max": 10,
    "retry_jitter": True,
    "max_retries": 5,
}
PROVIDER_RETRY = {
    "autoretry_for": (ThrottledError, TransientError, OperationalError),
    "retry_backoff": 2,
    # Capped (30 s by default): a cloud that throttles steadily must not park a step for minutes.
    "retry_backoff_max": settings.DCP_PROVIDER_RETRY_MAX_DELAY,
    "retry_jitter": True,
    "max_retries": 20,
}


class ProviderTask(Task):
    """A step that calls a provider: each retry of a throttled or failed call is told on its job's timeline."""

    def on_retry(self, exc, task_id, args, kwargs, einfo) -> None:
        """Count the retry and note the failed try and when the next one runs (Celery's Retry carries it: a
        countdown or a time)."""
        when = getattr(einfo.exception, "when", None)
        at = when if isinstance(when, datetime) else timezone.now() + timedelta(seconds=float(when or 0))
        if isinstance(exc, ProviderError):
            try:
                retries.count_retry(self.name.rsplit(".", 1)[-1], tuple(args))
            except Exception:
                logger.exception("Retry of %s not counted", self.name)
        self._note(exc, args, at)

    def on_failure(self, exc, task_id, args, kwargs, einfo) -> None:
        """Note a step that ran out of retries while the provider still failed."""
        if isinstance(exc, ProviderError) and exc.retryable:
            self._note(exc, args, None)

    def _note(self, exc, args, at) -> None:
        if not isinstance(exc, ProviderError):
            return  # a database hiccup is no news about the provider
        try:
            retries.note_retry(
                self.name.rsplit(".", 1)[-1],
                tuple(args),
                exc,
                tries=self.request.retries + 1,
                max_tries=self.max_retries + 1,
                at=at,
            )
        except Exception:
            # The timeline is what a person reads; the retry itself must go ahead whatever happens here.
            logger.exception("Retry of %s not noted on the job's timeline", self.name)


@shared_task(**DB_RETRY)
def reconcile_pool(pool_id: int) -> None:
    """One reconciliation pass over a pool."""
    reconciler.reconcile(pool_id)


@shared_task
def reconcile_all() -> None:
    """The periodic tick: reconcile every pool with work in progress or a size to correct."""
    pools = ServicePool.objects.annotate(
        active=Count("hosts", filter=Q(hosts__status__in=HostStatus.ACTIVE), distinct=True),
        moving=Count(
            "hosts", filter=Q(hosts__status__in=(*HostStatus.IN_FLIGHT, HostStatus.TERMINATING)), distinct=True
        ),
        jobs_open=Count("jobs", filter=Q(jobs__status__in=JobStatus.ACTIVE), distinct=True),
    ).filter(Q(moving__gt=0) | Q(jobs_open__gt=0) | ~Q(active=F("desired_size")))
    for pool_id in pools.values_list("pk", flat=True):
        reconcile_pool.delay(pool_id)


@shared_task(base=ProviderTask, **PROVIDER_RETRY)
def create_hosts(batch_token: str) -> None:
    """Create one batch of hosts with a single provider call."""
    work.create_batch(batch_token)


@shared_task(base=ProviderTask, **PROVIDER_RETRY)
def poll_batch(batch_token: str, probe: dict | None = None) -> None:
    """See whether a batch's instances run yet: one of them (a probe) or all of them."""
    work.poll_batch(batch_token, probe)


@shared_task(bind=True, max_retries=60)
def tag_hosts(self, host_ids: list[int]) -> None:
    """Name each ready host's instance in its tags; when throttled (or no slot is free) the rest is retried later."""
    rest = work.tag_hosts(host_ids)
    if rest:
        countdown = min(30, 2 ** (self.request.retries + 1)) * random.uniform(0.5, 1.0)  # noqa: S311 - jitter
        raise self.retry(args=[rest], countdown=countdown)


@shared_task(**DB_RETRY)
def initialize_hosts(host_ids: list[int]) -> None:
    """Bring running hosts (one batch) to their base state in one runner call."""
    work.initialize(host_ids)


@shared_task(base=ProviderTask, **PROVIDER_RETRY)
def terminate_hosts(host_ids: list[int]) -> None:
    """Destroy the instances of terminating hosts."""
    work.terminate(host_ids)


@shared_task
def sweep_providers() -> None:
    """The periodic sweep: one sweep_provider task per provider account, so no account holds up another."""
    for account_id in sweep.account_ids():
        sweep_provider.delay(account_id)


@shared_task(base=ProviderTask, **PROVIDER_RETRY)
def sweep_provider(account_id: int) -> None:
    """Look for orphan instances and lost hosts on one provider account."""
    sweep.sweep_account_id(account_id)
