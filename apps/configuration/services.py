"""Initialization runs: claim hosts (one run at a time per host), run their runner, record what happened."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from apps.configuration.choices import InitStatus
from apps.configuration.models import InitRun, KnownHost
from apps.configuration.results import InitResult
from apps.configuration.runners import get_runner, ssh_address
from apps.core import sentences
from apps.inventory.choices import DriftState
from apps.inventory.models import Host
from apps.monitoring import counters
from apps.provisioning import transitions
from apps.provisioning.choices import EventKind

#: A drift check's run status → what it says of the host.
DRIFT_BY_STATUS = {InitStatus.OK: DriftState.IN_SYNC, InitStatus.CHANGED: DriftState.DRIFTED}

#: A run still marked running after this long lost its worker (the task's hard time limit is shorter).
STALE_AFTER = timedelta(seconds=90)


def stale_before():
    """Runs started before this moment and still running were lost with their worker."""
    return timezone.now() - timedelta(seconds=settings.DCP_INIT_TIMEOUT) - STALE_AFTER


def claim(hosts: list[Host], *, rerun: bool = False, job_id: int | None = None, check: bool = False) -> list[InitRun]:
    """Start a run for each host that has none going; a host already being initialized is left alone.

    Two workers handed the same host (a re-sent step, a re-run asked for
    twice) cannot both run: the host row is locked while its running run is
    looked for. A run whose worker died is closed as failed first.
    """
    runs = []
    with transaction.atomic():
        locked = Host.objects.select_for_update(of=("self",), no_key=True).filter(pk__in=[h.pk for h in hosts])
        by_pk = {h.pk: h for h in hosts}
        for host in locked.order_by("pk"):
            going = InitRun.objects.filter(host=host, status=InitStatus.RUNNING)
            going.filter(started_at__lt=stale_before()).update(
                status=InitStatus.FAILED, message=sentences.WORKER_LOST(), finished_at=timezone.now()
            )
            if going.exists():
                continue
            attempt = InitRun.objects.filter(host=host, rerun=rerun).count() + 1
            run = InitRun.objects.create(
                host=by_pk[host.pk],
                job_id=job_id if rerun else host.job_id,
                method=by_pk[host.pk].template.init_method,
                attempt=attempt,
                rerun=rerun,
                drift_check=check,
                started_at=timezone.now(),
            )
            runs.append(run)
    return runs


def execute(runs: list[InitRun], *, check: bool = False, cancelled=None) -> dict[int, InitResult]:
    """Run each method's runner over its hosts (``check``: in check mode) and record the results by host id."""
    by_method: dict[str, list[Host]] = {}
    for run in runs:
        by_method.setdefault(run.method, []).append(run.host)
    results: dict[int, InitResult] = {}
    for method, hosts in by_method.items():
        results.update(get_runner(method).initialize(hosts, check=check, cancelled=cancelled))
    for run in runs:
        record(
            run, results.setdefault(run.host_id, InitResult(status=InitStatus.FAILED, message=sentences.NO_RESULT()))
        )
    return results


def record(run: InitRun, result: InitResult) -> None:
    """Store one host's result on its run, and its host keys if this was the first contact."""
    now = timezone.now()
    run.status = result.status
    run.message = result.message[:2000]
    run.ok_tasks, run.changed_tasks, run.failed_tasks = result.ok_tasks, result.changed_tasks, result.failed_tasks
    run.output = result.output
    run.changes = list(result.changes) if run.drift_check else []
    run.finished_at = now
    # The host's own time in the run (its last event), else the run's whole time.
    run.duration_seconds = result.duration if result.duration else (now - run.started_at).total_seconds()
    run.save()
    counters.observe(
        counters.INIT_RUNS,
        {"method": run.method, "outcome": run.status},
        run.duration_seconds,
        counters.INIT_RUN_BUCKETS,
    )
    host = run.host
    note_drift(run, result, now)
    ip = ssh_address(host)  # where the keys were met, as the runner compares them next time
    if result.host_keys and ip:
        KnownHost.objects.get_or_create(host=host, defaults={"address": ip, "keys": result.host_keys})


def note_drift(run: InitRun, result: InitResult, now) -> None:
    """What a run tells of the host's drift: a check its finding, a successful initialization the base state.

    A re-run or check that belongs to a job adds the host's outcome to the job's timeline.
    """
    if run.drift_check:
        state = DRIFT_BY_STATUS.get(result.status, DriftState.FAILED)
        transitions.note_drift(run.host, state, run.changes, now)
    elif result.ok:
        transitions.note_drift(run.host, DriftState.IN_SYNC, [], now)
    if run.rerun and run.job_id:
        host = run.host.hostname
        if not result.ok:
            kind = EventKind.FAILED
            verdict = sentences.SAYS(
                who=host, message=sentences.JOB_ENDED_BECAUSE(status=result.status, reason=result.message)
            )
        elif run.drift_check:
            kind = EventKind.CHECKED
            verdict = (
                sentences.DRIFTED(host=host, count=len(run.changes))
                if run.changes
                else sentences.IN_BASE_STATE(host=host)
            )
        else:
            kind, verdict = EventKind.INITIALIZED, sentences.SAYS(who=host, message=result.message)
        transitions.log(run.job_id, kind, verdict, run.host)


def load(host_ids: list[int], **filters) -> list[Host]:
    """Hosts with what a runner reads (template, registry, pool, cluster, provider, known host keys)."""
    return list(
        Host.objects.select_related("template__registry", "pool__cluster", "provider", "known_host").filter(
            pk__in=host_ids, **filters
        )
    )


def forget_host_keys(host: Host) -> bool:
    """Drop a host's recorded keys (it was rebuilt); the next contact records them again."""
    return KnownHost.objects.filter(host=host).delete()[0] > 0
