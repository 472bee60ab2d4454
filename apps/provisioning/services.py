"""Scale requests, job cancellation and pool sizing: what the API and the console call.

A scale request only changes the pool's desired size under its row lock and
records a job; the reconciler, queued on commit, does the work.
"""

import hashlib
import json
import logging
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.configuration import jobs as init_jobs
from apps.core import audit, sentences
from apps.core.exceptions import Conflict, ServiceError
from apps.core.models import AuditAction
from apps.costs.budgets import guard
from apps.costs.services import plan_cost
from apps.inventory.choices import HostStatus as H
from apps.inventory.models import ServicePool
from apps.provisioning import transitions
from apps.provisioning.choices import EventKind, JobKind, JobStatus
from apps.provisioning.dispatch import after_commit
from apps.provisioning.models import Job
from apps.provisioning.placement import plan_scale_out, scale_in_order

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScaleRequest:
    """Exactly one of delta, desired_size or hosts; validated by the API serializer."""

    delta: int | None = None
    desired_size: int | None = None
    hosts: tuple[int, ...] = ()

    def fingerprint(self, pool_id: int) -> str:
        """Identifies the request, so an Idempotency-Key reused for another request is caught."""
        body = {"pool": pool_id, "delta": self.delta, "desired_size": self.desired_size, "hosts": sorted(self.hosts)}
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


@dataclass
class ScaleResult:
    """The job a scale request made (or replayed), or a dry run's plan."""

    job: Job | None = None
    replayed: bool = False
    dry_run: dict | None = None


def _target(pool: ServicePool, request: ScaleRequest) -> tuple[int, str]:
    """The desired size a request asks for, and the input field it came from."""
    if request.hosts:
        return pool.desired_size - len(request.hosts), "hosts"
    if request.desired_size is not None:
        return request.desired_size, "desired_size"
    return pool.desired_size + request.delta, "delta"


def _check_target(pool: ServicePool, request: ScaleRequest, target: int, field: str) -> None:
    """Refuse a target outside the pool's bounds, or a scale-out the pool has no templates for."""
    if target == pool.desired_size:
        raise ServiceError(
            _("Pool %(pool)s is already at desired_size %(target)d; ask for a different size to change it.")
            % {"pool": pool, "target": target},
            field=field,
        )
    if target > pool.max_size:
        raise ServiceError(
            _(
                "This would take pool %(pool)s to desired_size %(target)d, past its max_size %(max)d "
                "(now %(now)d); ask for at most %(more)d more."
            )
            % {
                "pool": pool,
                "target": target,
                "max": pool.max_size,
                "now": pool.desired_size,
                "more": pool.max_size - pool.desired_size,
            },
            field=field,
        )
    if target < pool.min_size:
        raise ServiceError(
            _(
                "This would take pool %(pool)s to desired_size %(target)d, below its min_size %(min)d "
                "(now %(now)d); remove at most %(fewer)d."
            )
            % {
                "pool": pool,
                "target": target,
                "min": pool.min_size,
                "now": pool.desired_size,
                "fewer": pool.desired_size - pool.min_size,
            },
            field=field,
        )
    if target > pool.desired_size and not pool.template_links.exists():
        raise ServiceError(
            _("Pool %(pool)s has no templates to create hosts from; add one first.") % {"pool": pool}, field=field
        )


def _named_hosts(pool: ServicePool, ids: tuple[int, ...]) -> list:
    """The pool's live hosts with these ids, locked; a 400 naming every id that is not one."""
    hosts = list(pool.hosts.select_for_update(**transitions.HOST_LOCK).filter(pk__in=ids, status__in=H.ACTIVE))
    missing = sorted(set(ids) - {host.pk for host in hosts})
    if missing:
        listed = ", ".join(map(str, missing[:20])) + (f" and {len(missing) - 20} more" if len(missing) > 20 else "")
        raise ServiceError(
            f"Pool {pool} has no live host with id {listed}; list only ids of its hosts that are not terminated.",
            field="hosts",
        )
    return hosts


def _checked(pool: ServicePool, request: ScaleRequest) -> tuple[int, list]:
    """The target size and the named hosts (locked) of a request the pool can take, else a 400 saying why.

    Named hosts are checked first: an id that is not the pool's is the
    mistake to report, not the size the pool would reach without it.
    """
    named = _named_hosts(pool, request.hosts) if request.hosts else []
    target, field = _target(pool, request)
    _check_target(pool, request, target, field)
    return target, named


def dry_run(pool: ServicePool, request: ScaleRequest) -> dict:
    """What a scale request would do, changing nothing."""
    target, named = _checked(pool, request)
    result = {"dry_run": True, "pool": pool.pk, "desired_before": pool.desired_size, "desired_after": target}
    if target > pool.desired_size:
        plan = plan_scale_out(pool, target - pool.desired_size)
        # What the new hosts add per hour and per month, by template, at the prices in force now.
        templates = {template.pk: template for template in pool.ordered_templates()}
        now = timezone.now()
        cost = plan_cost(plan.placements, templates, now)
        result.update(kind=JobKind.SCALE_OUT, delta=target - pool.desired_size, plan={**plan.as_json(), "cost": cost})
        # The budgets covering the pool: their forecast, what this adds, and whether a real request is refused.
        result["budgets"] = guard.budget_figures(
            guard.covering(pool, enforced_only=False), plan.placements, templates, now
        )
    else:
        removed = named or scale_in_order(pool)[: pool.desired_size - target]
        result.update(
            kind=JobKind.SCALE_IN,
            delta=target - pool.desired_size,
            plan={"remove": [{"host": h.pk, "hostname": h.hostname, "status": h.status} for h in removed]},
        )
    return result


def _replay(user, idempotency_key: str, fingerprint: str) -> ScaleResult | None:
    """The job an earlier request with this key made (the same request), a Conflict (another one), or None."""
    earlier = Job.objects.filter(requested_by=user, idempotency_key=idempotency_key).first()
    if earlier is None:
        return None
    if earlier.request_fingerprint != fingerprint:
        raise Conflict(
            f"Idempotency-Key {idempotency_key!r} was already used for a different request "
            f"(job {earlier.pk}); use a new key for a new request."
        )
    return ScaleResult(job=earlier, replayed=True)


def _budget_check(pool: ServicePool, target: int, override: bool) -> list[dict]:
    """Refuse a scale-out that takes an enforced budget past its amount (unless overridden); scale-ins pass."""
    budgets = guard.covering(pool, enforced_only=True) if target > pool.desired_size else []
    if not budgets:
        return []
    templates = {template.pk: template for template in pool.ordered_templates()}
    plan = plan_scale_out(pool, target - pool.desired_size)
    return guard.check_scale_out(budgets, plan.placements, templates, override=override, now=timezone.now())


def scale(
    pool_id: int,
    user,
    request: ScaleRequest,
    *,
    idempotency_key: str = "",
    dry: bool = False,
    override_budget: bool = False,
    trigger: str = "",
) -> ScaleResult:
    """Change a pool's desired size and record the job; the reconciler acts after commit.

    A scale-out that would take an enforced budget's forecast past its amount is refused (409) unless
    override_budget (the API lets cluster admins only); an override is audited on the budget.
    trigger names what asked when no person did (a scaling schedule or policy, user None): the job
    carries it, and its event and audit entry name it.
    """
    with transaction.atomic():
        pool = ServicePool.objects.select_for_update(no_key=True).get(pk=pool_id)
        fingerprint = request.fingerprint(pool.pk)
        if idempotency_key:
            replay = _replay(user, idempotency_key, fingerprint)
            if replay is not None:
                return replay
        if dry:
            return ScaleResult(dry_run=dry_run(pool, request))
        target, named = _checked(pool, request)
        overridden = _budget_check(pool, target, override_budget)
        before = {"desired_size": pool.desired_size}
        try:
            with transaction.atomic():
                job = Job.objects.create(
                    pool=pool,
                    kind=JobKind.SCALE_OUT if target > pool.desired_size else JobKind.SCALE_IN,
                    delta=target - pool.desired_size,
                    desired_before=pool.desired_size,
                    desired_after=target,
                    requested_by=user,
                    idempotency_key=idempotency_key,
                    request_fingerprint=fingerprint,
                    trigger=trigger[:200],
                )
        except IntegrityError:
            # The same key sent at the same moment for another pool: the pool locks differ, so nothing kept
            # the two requests apart and the other one committed its job first. Answer as if it had come
            # first (a clear 409 naming its job), not with the bare "conflict, retry" of a unique index.
            replay = _replay(user, idempotency_key, fingerprint) if idempotency_key else None
            if replay is None:
                raise
            return replay
        pool.desired_size = target
        pool.save(update_fields=["desired_size", "updated_at"])
        pool.note_ready(pool.hosts.filter(status=H.READY).count())
        transitions.log(
            job.pk,
            EventKind.REQUESTED,
            sentences.SCALE_ASKED(
                who=trigger or user, delta=f"{job.delta:+d}", before=before["desired_size"], after=target
            ),
        )
        logger.info(
            "Pool %s scaled from %s to %s", pool, before["desired_size"], target, extra={"job": job.pk, "pool": pool.pk}
        )
        for host in named:
            host.removal_job = job
            host.save(update_fields=["removal_job", "updated_at"])
            transitions.move_host(host, H.TERMINATING, sentences.REMOVED_BY_NAME(job=job.pk))
        if named:
            after_commit("terminate_hosts", [host.pk for host in named])
        audit.record(
            user, AuditAction.SCALE, pool, before, {"desired_size": target, "job": job.pk}, username=trigger[:150]
        )
        guard.record_overrides(user, overridden, pool, job)
        after_commit("reconcile_pool", pool.pk)
    return ScaleResult(job=job)


def cancel(job_id: int, user) -> Job:
    """Stop a job; the pool's desired size drops (or rises) by what the job had not yet done."""
    with transaction.atomic():
        job = Job.objects.select_related("pool").get(pk=job_id)
        if job.kind in JobKind.INIT:
            # A re-run or drift check changes no pool's size: only the job and its runs stop.
            job = Job.objects.select_for_update(no_key=True).get(pk=job_id)
            _refuse_ended(job)
            return init_jobs.cancel(job, user)
        pool = ServicePool.objects.select_for_update(no_key=True).get(pk=job.pool_id)
        job = Job.objects.select_for_update(no_key=True).get(pk=job_id)
        _refuse_ended(job)
        before = {"desired_size": pool.desired_size, "status": job.status}
        if job.kind == JobKind.SCALE_OUT:
            unfinished = list(job.hosts.select_for_update(**transitions.HOST_LOCK).filter(status__in=H.IN_FLIGHT))
            ready = job.hosts.filter(status=H.READY).count()
            undo = job.size - ready
            for host in unfinished:
                transitions.move_host(host, H.TERMINATING, sentences.JOB_CANCELLED(job=job.pk))
            if unfinished:
                after_commit("terminate_hosts", [host.pk for host in unfinished])
            pool.desired_size = max(pool.min_size, pool.desired_size - undo)
        else:
            removed = job.removed_hosts.count()
            pool.desired_size = min(pool.max_size, pool.desired_size + job.size - removed)
        pool.save(update_fields=["desired_size", "updated_at"])
        transitions.move_job(job, JobStatus.CANCELLED, sentences.CANCELLED_BY(user=user))
        audit.record(user, AuditAction.CANCEL, job, before, {"desired_size": pool.desired_size, "status": job.status})
        after_commit("reconcile_pool", pool.pk)
    return job


def _refuse_ended(job: Job) -> None:
    """A 409 for a job that already ended."""
    if job.status in JobStatus.TERMINAL:
        raise Conflict(f"Job {job.pk} already ended {job.status}; there is nothing to cancel.")


def start_pool(pool: ServicePool, user) -> Job | None:
    """A new pool is created at desired_size = min_size: record the job that brings its hosts there."""
    if pool.desired_size == 0:
        return None
    job = Job.objects.create(
        pool=pool,
        kind=JobKind.SCALE_OUT,
        delta=pool.desired_size,
        desired_before=0,
        desired_after=pool.desired_size,
        requested_by=user,
    )
    transitions.log(job.pk, EventKind.REQUESTED, sentences.POOL_CREATED(size=pool.min_size))
    after_commit("reconcile_pool", pool.pk)
    return job
