"""Scaling policies: an alert's payload scales the pool out once per cooldown; a stable period scales it in.

Every trigger is recorded with its decision. A payload is judged under the policy's row lock, so two
payloads arriving together are judged one after the other: the second finds the first one's scale and
its cooldown. The scale itself goes through the scale service (bounds, budget guard, audit, a job
naming the policy).
"""

import logging
import secrets
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from apps.core import sentences
from apps.inventory.models import ServicePool
from apps.scaling import acting
from apps.scaling.alerts import FIRING, RESOLVED, Alert, authentic, parse
from apps.scaling.choices import Decision, StepUnit, TriggerSource
from apps.scaling.models import PolicyTrigger, ScalingPolicy

logger = logging.getLogger(__name__)


def new_token(policy: ScalingPolicy) -> str:
    """Give the policy a new webhook token (the old one stops working); the token, to show once."""
    token = secrets.token_urlsafe(32)
    policy.secret = token
    policy.token_prefix = token[:8]
    return token


def sender_of(policy_id: int, authorization: str, signature: str | None, body: bytes) -> ScalingPolicy | None:
    """The policy whose webhook was called, if the request holds its token; None for a wrong token and for
    no such policy alike (checked against a throwaway secret then, so both take the same time)."""
    policy = ScalingPolicy.objects.filter(pk=policy_id).only("pk", "secret").first()
    secret = policy.secret if policy is not None else secrets.token_urlsafe(32)
    if not authentic(secret, authorization, signature, body) or policy is None:
        return None
    return policy


def step(size: int, amount: int, unit: str) -> int:
    """Hosts a step of amount (hosts, or percent of size rounded up) means; at least 1."""
    if unit == StepUnit.PERCENT:
        return max(1, -(-size * amount // 100))
    return max(1, amount)


def bounds(policy: ScalingPolicy, pool: ServicePool) -> tuple[int, int]:
    """The policy's own bounds, held inside the pool's."""
    high = pool.max_size if policy.max_size is None else min(policy.max_size, pool.max_size)
    low = pool.min_size if policy.min_size is None else max(policy.min_size, pool.min_size)
    return min(low, high), high


def receive(policy_id: int, body, now: datetime | None = None) -> PolicyTrigger:
    """Judge one authenticated payload for the policy and record the trigger; a ServiceError if malformed."""
    source, alerts = parse(body)
    now = now or timezone.now()
    with transaction.atomic():
        policy = ScalingPolicy.objects.select_for_update(of=("self",)).get(pk=policy_id)
        mine = [alert for alert in alerts if alert.name == policy.alert_name]
        firing = any(alert.status == FIRING for alert in mine)
        trigger = PolicyTrigger(
            policy=policy,
            source=source,
            status=FIRING if firing else RESOLVED,
            alerts=[alert.as_json() for alert in alerts],
        )
        if not mine:
            _unknown(policy, trigger, alerts)
        elif not policy.enabled:
            trigger.decision = Decision.DISABLED
            trigger.message = sentences.POLICY_DISABLED()
        elif firing:
            _fired(policy, trigger, now)
        else:
            _resolved(policy, trigger, now)
        trigger.save()
        policy.save(update_fields=["firing_since", "resolved_since", "last_scaled_at", "updated_at"])
    logger.info("Policy %s: %s %s", policy, trigger.status, trigger.decision, extra={"pool": policy.pool_id})
    return trigger


def _unknown(policy: ScalingPolicy, trigger: PolicyTrigger, alerts: list[Alert]) -> None:
    names = ", ".join(sorted({alert.name for alert in alerts}))[:500]
    trigger.decision = Decision.UNKNOWN_ALERT
    trigger.message = sentences.UNKNOWN_ALERT(alert=repr(policy.alert_name), names=names)


def _in_cooldown(policy: ScalingPolicy, now: datetime) -> datetime | None:
    """Until when the policy is in cooldown, or None."""
    if policy.last_scaled_at is None:
        return None
    until = policy.last_scaled_at + timedelta(seconds=policy.cooldown_seconds)
    return until if now < until else None


def _fired(policy: ScalingPolicy, trigger: PolicyTrigger, now: datetime) -> None:
    """Scale out by the step, unless in cooldown or at the bound."""
    policy.resolved_since = None
    policy.firing_since = policy.firing_since or now
    until = _in_cooldown(policy, now)
    if until is not None:
        trigger.decision = Decision.COOLDOWN
        trigger.message = sentences.IN_COOLDOWN(until=until.isoformat(), at=policy.last_scaled_at.isoformat())
        return
    pool = acting.locked_pool(policy.pool_id)
    hosts = step(pool.desired_size, policy.step_out, policy.step_out_unit)
    _act(policy, trigger, pool, pool.desired_size + hosts, sentences.ALERT_FIRING(alert=policy.alert_name), now)


def _resolved(policy: ScalingPolicy, trigger: PolicyTrigger, now: datetime) -> None:
    """Note when the alert resolved: a step in waits for the stable period (see settle)."""
    policy.firing_since = None
    if policy.step_in is None:
        trigger.decision = Decision.RESOLVED
        trigger.message = sentences.RESOLVED_KEEPS()
        return
    policy.resolved_since = policy.resolved_since or now
    trigger.decision = Decision.WAITING
    after = policy.resolved_since + timedelta(seconds=policy.stable_seconds)
    trigger.message = sentences.RESOLVED_WAITS(after_time=after.isoformat())


def _act(policy: ScalingPolicy, trigger: PolicyTrigger, pool: ServicePool, wanted: int, why: str, now) -> None:
    """Ask the scale service for wanted hosts within the policy's bounds, and record the decision."""
    low, high = bounds(policy, pool)
    outcome = acting.scale_to(pool, wanted, sentences.BY_POLICY(policy=policy.name, id=policy.pk, why=why), low, high)
    trigger.decision = Decision.AT_BOUND if outcome.status == acting.UNCHANGED else outcome.status
    trigger.job = outcome.job
    trigger.size_before, trigger.size_after = outcome.size_before, outcome.size_after
    trigger.message = outcome.message[:2000]
    if outcome.job is not None:
        policy.last_scaled_at = now


def settle_due(now: datetime | None = None) -> int:
    """Step in every policy whose alert has been resolved for its stable period; the number of triggers."""
    now = now or timezone.now()
    waiting = ScalingPolicy.objects.filter(enabled=True, step_in__isnull=False, resolved_since__lte=now)
    done = 0
    for policy_id, since, stable in waiting.values_list("pk", "resolved_since", "stable_seconds"):
        if since + timedelta(seconds=stable) > now:
            continue
        try:
            done += settle(policy_id, now)
        except Exception:
            # Rolled back whole; the others still step in, and the next tick tries this one again.
            logger.exception("Scaling policy %s failed to step in; the next tick tries again", policy_id)
    return done


def settle(policy_id: int, now: datetime) -> int:
    """Step one policy in if it is (still) resolved past its stable period and out of cooldown."""
    with transaction.atomic():
        policy = ScalingPolicy.objects.select_for_update(of=("self",)).get(pk=policy_id)
        since = policy.resolved_since
        if since is None or policy.step_in is None or since + timedelta(seconds=policy.stable_seconds) > now:
            return 0
        if _in_cooldown(policy, now) is not None:
            return 0
        trigger = PolicyTrigger(policy=policy, source=TriggerSource.STABLE, status=RESOLVED)
        pool = acting.locked_pool(policy.pool_id)
        hosts = step(pool.desired_size, policy.step_in, policy.step_in_unit)
        why = sentences.ALERT_RESOLVED(alert=policy.alert_name, time=since.isoformat())
        _act(policy, trigger, pool, pool.desired_size - hosts, why, now)
        # Scaled: the next step waits another stable period. Otherwise (at the bound, refused): done.
        policy.resolved_since = now if trigger.job is not None else None
        trigger.save()
        policy.save(update_fields=["resolved_since", "last_scaled_at", "updated_at"])
    return 1
