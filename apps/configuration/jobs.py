"""Re-runs of initialization and drift checks as jobs: start one on hosts, carry it out, end it, cancel it.

A job of kind ``initialize`` runs initialization again on ready hosts; a job of
kind ``check`` runs it in check mode (Ansible ``--check --diff``, Puppet
``--noop``), changes nothing, and records on each host whether it is in its
base state and what differs. Both change no pool's size: their progress is
their hosts' runs. The API, the console, the CLI (through the API) and the
scheduled drift checks all start them through ``start``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from apps.configuration import services
from apps.configuration.choices import InitStatus
from apps.configuration.models import InitRun
from apps.configuration.runners import needs_run
from apps.core import audit, sentences
from apps.core.exceptions import ServiceError
from apps.core.models import AuditAction
from apps.inventory.choices import DriftState, HostStatus
from apps.inventory.models import Host, ServicePool
from apps.provisioning import transitions
from apps.provisioning.choices import EventKind, JobKind, JobStatus
from apps.provisioning.models import Job
from dcp.celery import app

logger = logging.getLogger(__name__)

TASK = "apps.configuration.tasks.run_init_job"
ALREADY_RUNNING = sentences.ALREADY_RUNNING()


@dataclass
class Started:
    """The job a request started, its runs, and the hosts it left alone with why."""

    job: Job
    runs: list[InitRun] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)


def _why_not(host: Host, only_drifted: bool) -> str:
    """Why a host cannot take part in a re-run or check, or "" if it can."""
    if host.status != HostStatus.READY:
        return sentences.NOT_READY()
    if not needs_run(host):
        return sentences.NO_INIT_METHOD()
    if only_drifted and host.drift_state != DriftState.DRIFTED:
        return sentences.NOT_DRIFTED()
    return ""


def start(
    pool: ServicePool,
    hosts: list[Host],
    user,
    *,
    check: bool = False,
    forget_host_keys: bool = False,
    only_drifted: bool = False,
) -> Started:
    """Start a re-run (or with ``check`` a drift check) of the pool's given hosts as one job.

    Only ready hosts whose template has an init method take part; if none does, nothing is recorded and a 400
    says why. A host already being initialized (or checked) is skipped, saying so; a job that is left with no
    host ends at once.
    """
    reasons = {host.pk: _why_not(host, only_drifted) for host in hosts}
    eligible = [host for host in hosts if not reasons[host.pk]]
    if not eligible:
        wanted = "drifted ready hosts" if only_drifted else "ready hosts"
        raise ServiceError(
            f"Only {wanted} whose template has an init method (ansible or puppet) can be "
            f"{'checked' if check else 're-run'}; none of the {len(hosts)} asked for is one.",
            field="hosts",
        )
    kind = JobKind.CHECK if check else JobKind.INITIALIZE
    with transaction.atomic():
        job = Job.objects.create(
            pool=pool,
            kind=kind,
            delta=0,
            desired_before=pool.desired_size,
            desired_after=pool.desired_size,
            requested_by=user,
        )
        if forget_host_keys:
            for host in eligible:
                services.forget_host_keys(host)
        runs = services.claim(services.load([h.pk for h in eligible]), rerun=True, job_id=job.pk, check=check)
        who = str(user) if user is not None else sentences.CHECK_SCHEDULE()
        asked = sentences.CHECK_ASKED if check else sentences.RERUN_ASKED
        transitions.log(job.pk, EventKind.REQUESTED, asked(who=who, count=len(hosts)))
        started = {run.host_id for run in runs}
        skipped = [
            {"host": host.pk, "reason": reasons[host.pk] or ALREADY_RUNNING} for host in hosts if host.pk not in started
        ]
        for item in skipped:
            transitions.log(job.pk, EventKind.INFO, sentences.HOST_SKIPPED(id=item["host"], reason=item["reason"]))
        for run in runs:
            transitions.log(
                job.pk, EventKind.RUNNING, sentences.RUN_STARTED(host=run.host.hostname, kind=kind), run.host
            )
            if user is not None:
                audit.record(user, AuditAction.UPDATE, run.host, None, {"initialization": kind, "run": run.pk})
        if runs:
            transaction.on_commit(lambda: app.send_task(TASK, args=[job.pk], task_id=f"job-{job.pk}"))
        else:
            transitions.move_job(job, JobStatus.RUNNING)
            transitions.move_job(job, JobStatus.SUCCEEDED, sentences.ALL_BUSY())
    return Started(job=job, runs=runs, skipped=skipped)


def carry_out(job_id: int) -> None:
    """Run a job's claimed runs on the worker, then end the job; a job cancelled meanwhile stops its runs."""
    with transaction.atomic():
        job = Job.objects.select_for_update(no_key=True).get(pk=job_id)
        if job.status in JobStatus.TERMINAL:
            _close_unstarted(job, sentences.ENDED_BEFORE_RUN(status=job.status))
            return
        if job.status == JobStatus.PENDING:
            transitions.move_job(job, JobStatus.RUNNING)
    runs = list(
        InitRun.objects.select_related(
            "host__template__registry", "host__pool__cluster", "host__provider", "host__known_host"
        ).filter(job=job, status=InitStatus.RUNNING)
    )

    def cancelled() -> bool:
        return Job.objects.filter(pk=job_id, status=JobStatus.CANCELLED).exists()

    services.execute(runs, check=job.kind == JobKind.CHECK, cancelled=cancelled)
    finish(job_id)


def finish(job_id: int) -> None:
    """End a job whose runs all ended: succeeded, partial or failed by its runs, the message counting them."""
    with transaction.atomic():
        job = Job.objects.select_for_update(no_key=True).get(pk=job_id)
        if job.status in JobStatus.TERMINAL:
            return
        statuses = list(job.init_runs.values_list("status", flat=True))
        if InitStatus.RUNNING in statuses:
            return
        failed = sum(status not in InitStatus.SUCCEEDED for status in statuses)
        outcome = (
            JobStatus.SUCCEEDED if not failed else JobStatus.FAILED if failed == len(statuses) else JobStatus.PARTIAL
        )
        if job.status == JobStatus.PENDING:
            transitions.move_job(job, JobStatus.RUNNING)
        transitions.move_job(job, outcome, summary(job.kind, statuses))


def summary(kind: str, statuses: list[str]) -> str:
    """One line counting a job's hosts by outcome."""
    failed = sum(status not in InitStatus.SUCCEEDED for status in statuses)
    changed = statuses.count(InitStatus.CHANGED)
    if kind == JobKind.CHECK:
        in_sync = statuses.count(InitStatus.OK)
        return sentences.CHECKED(total=len(statuses), changed=changed, in_sync=in_sync, failed=failed)
    return sentences.RERUN_DONE(total=len(statuses), changed=changed, failed=failed)


def _close_unstarted(job: Job, reason: str) -> None:
    """Close a job's runs that never started (the job was cancelled first)."""
    job.init_runs.filter(status=InitStatus.RUNNING).update(
        status=InitStatus.FAILED, message=reason, finished_at=timezone.now()
    )


def cancel(job: Job, user) -> Job:
    """Cancel a locked re-run or drift check: runs not begun end at once, a run under way stops at its next step."""
    before = {"status": job.status}
    if job.status == JobStatus.PENDING:
        _close_unstarted(job, sentences.CANCELLED_BEFORE_RUN(job=job.pk))
    transitions.move_job(job, JobStatus.CANCELLED, sentences.CANCELLED_BY(user=user))
    audit.record(user, AuditAction.CANCEL, job, before, {"status": job.status})
    return job


def due_pools(now=None) -> list[int]:
    """Pools whose drift check schedule is due: interval set, and no check job started within it."""
    now = now or timezone.now()
    due = []
    for pool in ServicePool.objects.filter(drift_check_interval__isnull=False).only("pk", "drift_check_interval"):
        since = now - timedelta(hours=pool.drift_check_interval)
        if not pool.jobs.filter(kind=JobKind.CHECK, created_at__gt=since).exists():
            due.append(pool.pk)
    return due


def start_scheduled(pool_id: int, now=None) -> Job | None:
    """Start a pool's scheduled drift check if it is still due; two schedulers asking at once start one job.

    The pool's row is locked while its last check is looked for, so a second scheduler waits and then finds
    the job the first one made.
    """
    now = now or timezone.now()
    with transaction.atomic():
        pool = ServicePool.objects.select_for_update(no_key=True).get(pk=pool_id)
        if not pool.drift_check_interval:
            return None
        since = now - timedelta(hours=pool.drift_check_interval)
        if pool.jobs.filter(kind=JobKind.CHECK, created_at__gt=since).exists():
            return None
        hosts = [
            host for host in pool.hosts.filter(status=HostStatus.READY).select_related("template") if needs_run(host)
        ]
        if not hosts:
            return None
        started = start(pool, hosts, None, check=True)
        logger.info("Scheduled drift check of pool %s started", pool, extra={"job": started.job.pk, "pool": pool.pk})
        return started.job
