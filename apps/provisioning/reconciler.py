"""The reconciler: compare a pool's desired size with its hosts and act.

One pass runs under the pool's row lock, reads everything from the database
and only queues work (tasks are sent after commit), so it may run any number
of times, from any worker, and a killed worker loses nothing: the next pass,
started by the next event or the periodic tick, carries on.
"""

import secrets
import uuid
from datetime import timedelta
from itertools import zip_longest

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from apps.core import sentences
from apps.inventory.choices import HostStatus as H
from apps.inventory.models import Host, ServicePool
from apps.providers.drivers import get_driver_class
from apps.provisioning import transitions
from apps.provisioning.choices import EventKind, JobKind, JobStatus
from apps.provisioning.dispatch import after_commit
from apps.provisioning.models import Job
from apps.provisioning.placement import plan_scale_out, scale_in_order


def reconcile(pool_id: int) -> None:
    """One reconciliation pass over a pool."""
    with transaction.atomic():
        pool = ServicePool.objects.select_for_update(no_key=True).filter(pk=pool_id).first()
        if pool is None:
            return
        jobs = list(
            pool.jobs.select_for_update(no_key=True).filter(status__in=JobStatus.ACTIVE).order_by("created_at", "pk")
        )
        for job in jobs:
            if job.status == JobStatus.PENDING:
                transitions.move_job(job, JobStatus.RUNNING)
        _retire_failed(pool)
        diff = pool.desired_size - pool.hosts.filter(status__in=H.ACTIVE).count()
        if diff > 0:
            _scale_out(pool, [j for j in jobs if j.kind == JobKind.SCALE_OUT], diff)
        elif diff < 0:
            _scale_in(pool, [j for j in jobs if j.kind == JobKind.SCALE_IN], -diff)
        _redispatch_stuck(pool)
        _finish_jobs(pool, jobs)
        pool.note_ready(pool.hosts.filter(status=H.READY).count())


def _retire_failed(pool: ServicePool) -> None:
    """Failed and lost hosts stop costing money: terminate them (they are replaced by the pass)."""
    doomed = list(pool.hosts.select_for_update(**transitions.HOST_LOCK).filter(status__in=(H.FAILED, H.LOST)))
    for host in doomed:
        transitions.move_host(host, H.TERMINATING, host.status_message)
    if doomed:
        after_commit("terminate_hosts", [host.pk for host in doomed])


def _needs(jobs: list[Job], counts: dict[int, int]) -> list[tuple[Job, int]]:
    """How many more hosts each job still wants, oldest job first."""
    return [(job, job.size - counts.get(job.pk, 0)) for job in jobs if job.size > counts.get(job.pk, 0)]


def _give_up(pool: ServicePool, jobs: list[Job], count: int, reason: str) -> None:
    """Lower desired_size by hosts that cannot be had, so the pool stays consistent; tell the jobs."""
    lowered = min(count, pool.desired_size - pool.min_size)
    if lowered > 0:
        pool.desired_size -= lowered
        pool.save(update_fields=["desired_size", "updated_at"])
    for job in jobs:
        transitions.give_up(job, reason)
        transitions.log(job.pk, EventKind.ERROR, sentences.NOT_PLACED(count=count, reason=reason))


def _exhausted(job: Job) -> bool:
    """Whether a job has used up its retries: failures past DCP_HOST_RETRIES per host asked."""
    failures = job.hosts.filter(failed_at__isnull=False).count()
    return failures > settings.DCP_HOST_RETRIES * job.size


def _scale_out(pool: ServicePool, jobs: list[Job], count: int) -> None:
    """Plan and record count new hosts, attributed to the jobs that asked for them.

    Jobs that gave up (a fatal provider error, or their retries are spent) get no
    more hosts: what they still wanted comes off desired_size instead.
    """
    done = dict(Host.objects.filter(job__in=jobs, status__in=H.ACTIVE).values_list("job").annotate(n=Count("pk")))
    for job in jobs:
        if not job.gave_up and _exhausted(job):
            transitions.give_up(job, sentences.TOO_MANY_FAILED())
    spent = [job for job in jobs if job.gave_up]
    unwanted = min(count, sum(need for _, need in _needs(spent, done)))
    if unwanted:
        _give_up(pool, spent, unwanted, sentences.NO_MORE_HOSTS())
        count -= unwanted
    jobs = [job for job in jobs if not job.gave_up]
    if count <= 0:
        return
    plan = plan_scale_out(pool, count)
    wanting = [job for job, _ in _needs(jobs, done)] or jobs
    # Every job the plan was made for keeps it, placed or not: a shortfall's notes say why hosts are missing.
    _record_plan(wanting, plan)
    if plan.shortfall:
        reason = sentences.JOIN.join(plan.notes) or sentences.NO_TEMPLATE_PLACES()
        _give_up(pool, wanting, plan.shortfall, reason)
    if not plan.placements:
        return
    owners = [job for job, need in _needs(jobs, done) for _ in range(need)]
    templates = {t.pk: t for t in pool.ordered_templates()}
    hosts = []
    batches: list[list[str]] = []
    for item in plan.placements:
        template = templates[item.template]
        batch = min(get_driver_class(template.provider.kind).max_batch, settings.DCP_CREATE_BATCH_SIZE)
        batches.append([])
        for start in range(0, item.count, batch):
            token = uuid.uuid4().hex
            batches[-1].append(token)
            for _ in range(min(batch, item.count - start)):
                owner = owners.pop(0) if owners else None
                hosts.append(_new_host(pool, template, owner, token, item.zone))
    Host.objects.bulk_create(hosts)
    summary = ", ".join(
        sentences.PLACED_IN_ZONE(count=p.count, template=p.template_name, zone=p.zone)
        if p.zone
        else sentences.PLACED(count=p.count, template=p.template_name)
        for p in plan.placements
    )
    for job in {host.job for host in hosts if host.job}:
        transitions.log(job.pk, EventKind.PLANNED, sentences.PLACING(placements=summary))
    # One batch of each placement in turn: every source's first create is queued at once, so a source
    # with many batches (small batches, a big share, a tight rate limit) does not hold the others back.
    for token in (token for turn in zip_longest(*batches) for token in turn if token):
        after_commit("create_hosts", token)


def _record_plan(jobs: list[Job], plan) -> None:
    """Append the plan to each job's list of plans (one per reconciler pass that planned for it)."""
    for job in jobs:
        job.plan = [*job.plan, plan.as_json()]
        job.save(update_fields=["plan", "updated_at"])


def _new_host(pool: ServicePool, template, job: Job | None, token: str, zone: str) -> Host:
    return Host(
        hostname=f"{pool.name}-{secrets.token_hex(4)}",
        pool=pool,
        provider=template.provider,
        template=template,
        job=job,
        status=H.PENDING,
        batch_token=token,
        zone=zone,
        hourly_price=template.hourly_price or 0,
    )


def _scale_in(pool: ServicePool, jobs: list[Job], count: int) -> None:
    """Mark count hosts for termination, in scale-in order, attributed to the scale-in jobs."""
    removed = dict(Host.objects.filter(removal_job__in=jobs).values_list("removal_job").annotate(n=Count("pk")))
    owners = [job for job, need in _needs(jobs, removed) for _ in range(need)]
    victims = list(scale_in_order(pool).select_for_update(**transitions.HOST_LOCK)[:count])
    by_owner: dict[Job | None, list[Host]] = {}
    for host in victims:
        host.removal_job = owners.pop(0) if owners else None
        by_owner.setdefault(host.removal_job, []).append(host)
    # A statement per owning job and one move for all, not several per host.
    for owner, hosts in by_owner.items():
        Host.objects.filter(pk__in=[h.pk for h in hosts]).update(removal_job=owner)
    transitions.move_hosts(victims, H.TERMINATING, sentences.SCALE_IN())
    if victims:
        after_commit("terminate_hosts", [host.pk for host in victims])


def _redispatch_stuck(pool: ServicePool) -> None:
    """Queue again the work of hosts that have not moved for a while (a worker died, a message was lost)."""
    cutoff = timezone.now() - timedelta(seconds=settings.DCP_STUCK_AFTER_SECONDS)
    stuck = list(
        pool.hosts.select_for_update(**transitions.HOST_LOCK).filter(
            status__in=(*H.IN_FLIGHT, H.TERMINATING), updated_at__lt=cutoff
        )
    )
    if not stuck:
        return
    Host.objects.filter(pk__in=[h.pk for h in stuck]).update(updated_at=timezone.now())
    for token in dict.fromkeys(h.batch_token for h in stuck if h.status in (H.PENDING, H.CREATING)):
        after_commit("create_hosts", token)
    initializing = [h.pk for h in stuck if h.status == H.INITIALIZING]
    if initializing:
        after_commit("initialize_hosts", initializing)
    terminating = [h.pk for h in stuck if h.status == H.TERMINATING]
    if terminating:
        after_commit("terminate_hosts", terminating)


def _finish_jobs(pool: ServicePool, jobs: list[Job]) -> None:
    """End every job whose work is over, as succeeded, partial or failed."""
    settled = pool.desired_size == pool.hosts.filter(status__in=H.ACTIVE).count()
    for job in jobs:
        if job.status != JobStatus.RUNNING:
            continue
        if job.kind == JobKind.SCALE_OUT:
            _finish_scale_out(job, settled)
        else:
            _finish_scale_in(job, settled)


def _finish_scale_out(job: Job, settled: bool) -> None:
    counts = job.hosts.aggregate(
        in_flight=Count("pk", filter=Q(status__in=H.IN_FLIGHT)),
        active=Count("pk", filter=Q(status__in=H.ACTIVE)),
        ready=Count("pk", filter=Q(ready_at__isnull=False)),
    )
    # A job that gave up ends with what it got once nothing of it is in flight.
    if counts["in_flight"] or (counts["active"] < job.size and not settled and not job.gave_up):
        return
    ready = min(counts["ready"], job.size)
    if ready >= job.size:
        transitions.move_job(job, JobStatus.SUCCEEDED)
    else:
        status = JobStatus.PARTIAL if ready else JobStatus.FAILED
        message = (
            sentences.HOSTS_READY_BECAUSE(count=ready, size=job.size, reason=job.message)
            if job.message
            else sentences.HOSTS_READY(count=ready, size=job.size)
        )
        transitions.move_job(job, status, message)


def _finish_scale_in(job: Job, settled: bool) -> None:
    counts = job.removed_hosts.aggregate(
        terminating=Count("pk", filter=Q(status=H.TERMINATING)),
        terminated=Count("pk", filter=Q(status=H.TERMINATED)),
    )
    if counts["terminating"] or (counts["terminated"] < job.size and not settled):
        return
    if counts["terminated"] >= job.size:
        transitions.move_job(job, JobStatus.SUCCEEDED)
    else:
        reason = job.message or sentences.DESIRED_CHANGED()
        status = JobStatus.PARTIAL if counts["terminated"] else JobStatus.FAILED
        removed = sentences.HOSTS_REMOVED_BECAUSE(count=counts["terminated"], size=job.size, reason=reason)
        transitions.move_job(job, status, removed)
