"""Every host and job state change goes through here; illegal moves are refused.

Callers hold the row lock (select_for_update) on what they move: ``HOST_LOCK``
for hosts, ``select_for_update(no_key=True)`` for pools and jobs.
"""

from django.utils import timezone

from apps.core import sentences
from apps.inventory.choices import FailureReason
from apps.inventory.choices import HostStatus as H
from apps.monitoring import counters
from apps.provisioning.choices import EventKind, JobStatus
from apps.provisioning.models import Job, JobEvent

#: How a host row is locked before it moves. FOR NO KEY UPDATE, not FOR UPDATE: the foreign-key checks
#: PostgreSQL runs at COMMIT for rows that reference it (FOR KEY SHARE) need not wait for it. OF the host
#: only: a query that joins its pool and cluster (select_related, a filter through them) would otherwise
#: lock those rows too (every pool of the cluster then waits on one cluster row).
HOST_LOCK = {"of": ("self",), "no_key": True}

HOST_MOVES: dict[str, set[str]] = {
    H.PENDING: {H.CREATING, H.FAILED, H.TERMINATING},
    H.CREATING: {H.INITIALIZING, H.FAILED, H.TERMINATING},
    H.INITIALIZING: {H.READY, H.FAILED, H.TERMINATING},
    H.READY: {H.TERMINATING, H.LOST, H.FAILED},
    H.FAILED: {H.TERMINATING},
    H.LOST: {H.TERMINATING},
    H.TERMINATING: {H.TERMINATED},
    H.TERMINATED: set(),
}

HOST_EVENTS = {
    H.CREATING: EventKind.CREATING,
    H.INITIALIZING: EventKind.RUNNING,
    H.READY: EventKind.READY,
    H.FAILED: EventKind.FAILED,
    H.LOST: EventKind.ERROR,
    H.TERMINATING: EventKind.TERMINATING,
    H.TERMINATED: EventKind.TERMINATED,
}

JOB_MOVES: dict[str, set[str]] = {
    JobStatus.PENDING: {JobStatus.RUNNING, JobStatus.CANCELLED},
    JobStatus.RUNNING: set(JobStatus.TERMINAL),
}


class IllegalTransition(Exception):
    """A state change that the life cycle does not allow."""


def move_host(host, to: str, message: str = "", reason: str = "") -> None:
    """Move a locked host to a new status, stamping times and logging an event on its job."""
    move_hosts([host], to, message, reason)


def move_hosts(hosts, to: str, message: str = "", reason: str = "") -> None:
    """Move locked hosts to one new status together: one UPDATE and one INSERT of events, whatever their number.

    A move to failed records ``reason``, a FailureReason code (provider_error when none is given), which
    /metrics counts by provider. Every move is checked first; one illegal move refuses them all, before
    anything is written.
    """
    if not hosts:
        return
    for host in hosts:
        if to not in HOST_MOVES[host.status]:
            raise IllegalTransition(f"host {host.pk}: {host.status} → {to} is not allowed")
    now = timezone.now()
    values = {"status": to, "updated_at": now}
    if message or to == H.READY:
        values["status_message"] = message[:1000]
    stamp = {H.READY: "ready_at", H.FAILED: "failed_at", H.TERMINATED: "terminated_at"}.get(to)
    if stamp:
        values[stamp] = now
    if to == H.FAILED:
        values["failure_reason"] = reason or FailureReason.PROVIDER_ERROR
    for host in hosts:
        for field, value in values.items():
            setattr(host, field, value)
    if len(hosts) == 1:
        hosts[0].save(update_fields=list(values))
    else:
        type(hosts[0]).objects.filter(pk__in=[host.pk for host in hosts]).update(**values)
    events = []
    for host in hosts:
        job_id = host.removal_job_id if to in (H.TERMINATING, H.TERMINATED) and host.removal_job_id else host.job_id
        if job_id:
            since = (now - host.created_at).total_seconds()
            text = (
                sentences.HOST_MOVED_BECAUSE(host=host.hostname, status=to, seconds=since, reason=message)
                if message
                else sentences.HOST_MOVED(host=host.hostname, status=to, seconds=since)
            )
            events.append(event(job_id, HOST_EVENTS[to], text, host))
    JobEvent.objects.bulk_create(events)
    _count(hosts, to, now)


def _count(hosts, to: str, now) -> None:
    """Count for /metrics what only this moment knows: each host's time from request to ready, failed hosts
    by reason, hosts lost."""
    if to == H.READY:
        series = [
            series
            for host in hosts
            for series in counters.observations(
                counters.HOST_READY,
                {"provider": host.provider_id, "template": host.template_id},
                (now - host.created_at).total_seconds(),
                counters.HOST_READY_BUCKETS,
            )
        ]
    elif to == H.FAILED:
        series = [
            (counters.HOST_FAILURES, {"provider": host.provider_id, "reason": host.failure_reason}, 1) for host in hosts
        ]
    elif to == H.LOST:
        series = [(counters.HOSTS_LOST, {"provider": host.provider_id}, 1) for host in hosts]
    else:
        return
    counters.add(series)


def move_job(job: Job, to: str, message: str = "") -> None:
    """Move a locked job to a new status, stamping start/finish times."""
    if to not in JOB_MOVES.get(job.status, set()):
        raise IllegalTransition(f"job {job.pk}: {job.status} → {to} is not allowed")
    now = timezone.now()
    job.status = to
    if to == JobStatus.RUNNING:
        job.started_at = now
    if to in JobStatus.TERMINAL:
        job.finished_at = now
        job.started_at = job.started_at or now
        if message:
            job.message = message[:2000]
        text = sentences.JOB_ENDED_BECAUSE(status=to, reason=message) if message else sentences.JOB_ENDED(status=to)
        JobEvent.objects.create(job=job, kind=EventKind.FINISHED, message=text)
    job.save(update_fields=["status", "started_at", "finished_at", "message", "updated_at"])


def note_drift(host, state: str, summary: list, checked_at) -> None:
    """Record what the last drift check (or successful initialization) found on a host; its status is untouched."""
    host.drift_state, host.drift_summary, host.drift_checked_at = state, summary, checked_at
    type(host).objects.filter(pk=host.pk).update(
        drift_state=state, drift_summary=summary, drift_checked_at=checked_at, updated_at=timezone.now()
    )


def log(job_id: int | None, kind: str, message: str, host=None) -> None:
    """Add an event to a job's timeline."""
    if job_id:
        event(job_id, kind, message, host).save()


def event(job_id: int, kind: str, message: str, host=None) -> JobEvent:
    """An unsaved timeline event, for callers that write many with one bulk_create."""
    return JobEvent(job_id=job_id, host=host, kind=kind, message=message[:2000], time=timezone.now())


def give_up(job: Job, reason: str) -> None:
    """Stop making hosts for a job, remembering why; the reason is shown when it ends."""
    job.gave_up = True
    if reason and reason not in job.message:
        job.message = (f"{job.message}{sentences.JOIN}{reason}" if job.message else reason)[:2000]
    job.save(update_fields=["gave_up", "message", "updated_at"])
