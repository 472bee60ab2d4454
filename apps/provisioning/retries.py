"""Retried provider calls on the job's timeline: a step that is throttled or meets a passing fault says so.

A step the engine retries with back-off (see tasks.ProviderTask) used to wait in silence: a job could sit in
``creating`` for minutes while only the worker's log said why. Each retry now adds one event to the timeline
of each job the step works for (one per retried call, not one per host): what was being done, why it failed,
and when it is tried again; a step out of retries says so too.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from django.conf import settings
from django.utils import timezone

from apps.core import sentences
from apps.inventory.choices import HostStatus
from apps.inventory.models import Host
from apps.monitoring import counters
from apps.providers.drivers import ProviderError, ThrottledError
from apps.provisioning import transitions
from apps.provisioning.choices import EventKind
from apps.provisioning.models import JobEvent

#: What each retried step was doing, by task name; steps not named here work for no job (the sweep).
DOING = {
    "create_hosts": sentences.CREATING(),
    "poll_batch": sentences.LOOKING_AT(),
    "terminate_hosts": sentences.REMOVING(),
}


def reason(exc: ProviderError) -> str:
    """Why a retryable call failed, in the words a person reading the timeline looks for."""
    if isinstance(exc, ThrottledError):
        return sentences.THROTTLED()
    text = f"{exc.code} {exc.message}".lower()
    if "timeout" in text or "timed out" in text:
        return sentences.TIMED_OUT()
    return sentences.CALL_FAILED()


def note_retry(task: str, args: tuple, exc: ProviderError, *, tries: int, max_tries: int, at: datetime | None) -> None:
    """Add one event per job to the timeline: try number ``tries`` of at most ``max_tries`` failed with exc.

    ``at`` is when the step runs again; None when it is out of retries (the reconciler picks its hosts up
    again once they have not moved for DCP_STUCK_AFTER_SECONDS).
    """
    if task not in DOING:
        return
    jobs = _hosts_by_job(task, args)
    if at is not None:
        then = sentences.RETRY_AT(time=f"{timezone.localtime(at):%H:%M:%S %Z}", count=tries + 1, total=max_tries)
    else:
        then = sentences.RETRIES_SPENT(count=tries, seconds=settings.DCP_STUCK_AFTER_SECONDS)
    JobEvent.objects.bulk_create(
        transitions.event(
            job_id,
            EventKind.RETRYING,
            sentences.RETRYING(
                doing=DOING[task], count=count, account=account, why=reason(exc), reason=exc.message, then=then
            ),
        )
        for (job_id, account), count in jobs.items()
    )


def count_retry(task: str, args: tuple) -> None:
    """Add one to the retries of this step on each provider account it calls, for /metrics."""
    if task == "sweep_provider":
        accounts = {args[0]}
    elif task in DOING:
        accounts = set(_step_hosts(task, args).values_list("provider_id", flat=True).order_by().distinct())
    else:
        return
    for account in accounts:
        counters.increment(counters.PROVIDER_RETRIES, {"provider": account, "operation": task})


def _step_hosts(task: str, args: tuple):
    """The hosts a retried step works on."""
    if task == "terminate_hosts":
        return Host.objects.filter(pk__in=args[0])
    if task == "poll_batch":
        return Host.objects.filter(batch_token=args[0], status=HostStatus.CREATING)
    return Host.objects.filter(batch_token=args[0])


def _hosts_by_job(task: str, args: tuple) -> Counter:
    """How many of the step's hosts each job has, by (job id, account name)."""
    hosts = _step_hosts(task, args)
    counts: Counter = Counter()
    for job_id, removal_job_id, account in hosts.values_list("job_id", "removal_job_id", "provider__name"):
        # A removal is told on the job that removes the host, as transitions.move_hosts does.
        owner = removal_job_id if task == "terminate_hosts" and removal_job_id else job_id
        if owner:
            counts[(owner, account)] += 1
    return counts
