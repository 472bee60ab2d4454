"""Running scaling schedules: each occurrence exactly once, a late one within its grace, else recorded missed.

One pass over a schedule runs in one transaction holding the schedule's row lock: two beats, two workers
or a duplicate message that look at the same schedule take turns, and the second finds the occurrence
recorded (``checked_until`` moved on, and the occurrence's row is unique per schedule, time and kind).
A worker killed in the middle of a pass rolls the pass back whole, so the next tick runs it again.
"""

import logging
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from apps.core import sentences
from apps.scaling import acting, timing
from apps.scaling.choices import OccurrenceKind, OccurrenceStatus
from apps.scaling.models import ScalingSchedule, ScheduleOccurrence

logger = logging.getLogger(__name__)


def pending_ends(now: datetime):
    """Starts that scaled and whose end is due, with no end recorded yet."""
    ended = ScheduleOccurrence.objects.filter(
        schedule=OuterRef("schedule"), time=OuterRef("time"), kind=OccurrenceKind.END
    )
    return ScheduleOccurrence.objects.filter(
        kind=OccurrenceKind.START, status=OccurrenceStatus.SCALED, ends_at__lte=now
    ).exclude(Exists(ended))


def due(now: datetime) -> list[int]:
    """Ids of the schedules with something to do: occurrences to look for, or ends due."""
    looking = Q(enabled=True, next_at__lte=now)
    ending = Q(pk__in=pending_ends(now).values("schedule_id"))
    return list(ScalingSchedule.objects.filter(looking | ending).values_list("pk", flat=True))


def run_due(now: datetime | None = None) -> int:
    """Run every schedule with something to do; the number of occurrences recorded.

    A pass that fails is rolled back whole and logged, and the others still run: the next tick tries it again.
    """
    now = now or timezone.now()
    recorded = 0
    for schedule_id in due(now):
        try:
            recorded += run_schedule(schedule_id, now)
        except Exception:
            logger.exception("Scaling schedule %s failed this pass; the next tick runs it again", schedule_id)
    return recorded


def run_schedule(schedule_id: int, now: datetime) -> int:
    """One pass over a schedule: its occurrences since it was last looked at, then its ends due."""
    recorded = 0
    with transaction.atomic():
        schedule = ScalingSchedule.objects.select_for_update(of=("self",)).filter(pk=schedule_id).first()
        if schedule is None:
            return 0
        if schedule.enabled and schedule.checked_until < now:
            found = list(timing.occurrences(schedule, schedule.checked_until, now))
            for moment in found:
                recorded += _start(schedule, moment, now)
            # A pass that hit its limit carries on from its last occurrence at the next tick.
            schedule.look_from(found[-1] if len(found) == timing.MAX_PER_PASS else now)
            schedule.save(update_fields=["checked_until", "next_at", "updated_at"])
        for start in pending_ends(now).filter(schedule=schedule):
            recorded += _end(schedule, start, now)
    return recorded


def _claim(schedule, moment, kind) -> ScheduleOccurrence | None:
    """Claim an occurrence by inserting its row (None: it is already recorded, someone else ran it).

    Claimed before the pool is scaled, so that a clash on the unique row can never leave a scale behind.
    """
    try:
        with transaction.atomic():
            return ScheduleOccurrence.objects.create(
                schedule=schedule, time=moment, kind=kind, status=OccurrenceStatus.REFUSED
            )
    except IntegrityError:
        logger.info("Occurrence %s of %s already recorded", moment.isoformat(), schedule)
        return None


def _start(schedule: ScalingSchedule, moment: datetime, now: datetime) -> int:
    """Run one occurrence (or record it missed when it is found past its grace)."""
    occurrence = _claim(schedule, moment, OccurrenceKind.START)
    if occurrence is None:
        return 0
    late = (now - moment).total_seconds()
    if late > schedule.grace_seconds:
        occurrence.status = OccurrenceStatus.MISSED
        occurrence.message = sentences.MISSED(time=moment.isoformat(), seconds=late, grace=schedule.grace_seconds)
        occurrence.save()
        logger.warning("Schedule %s missed its occurrence at %s", schedule, moment.isoformat())
        return 1
    pool = acting.locked_pool(schedule.pool_id)
    wanted = schedule.desired_size if schedule.desired_size is not None else pool.desired_size + schedule.delta
    trigger = sentences.BY_SCHEDULE(schedule=schedule.name, id=schedule.pk, time=moment.isoformat())
    outcome = acting.scale_to(pool, wanted, trigger, pool.min_size, pool.max_size)
    if outcome.status == OccurrenceStatus.SCALED:
        occurrence.ends_at = timing.ends_at(schedule, moment)
    _save(occurrence, outcome)
    return 1


def _end(schedule: ScalingSchedule, start: ScheduleOccurrence, now: datetime) -> int:
    """End an occurrence: the pool returns to the size it had before it (ends are never missed: a late
    end still brings the pool back, or it would keep its peak size and cost)."""
    occurrence = _claim(schedule, start.time, OccurrenceKind.END)
    if occurrence is None:
        return 0
    pool = acting.locked_pool(schedule.pool_id)
    trigger = sentences.BY_SCHEDULE_END(schedule=schedule.name, id=schedule.pk, time=start.time.isoformat())
    _save(occurrence, acting.scale_to(pool, start.size_before, trigger, pool.min_size, pool.max_size))
    return 1


def _save(occurrence: ScheduleOccurrence, outcome: acting.Outcome) -> None:
    occurrence.status = outcome.status
    occurrence.job = outcome.job
    occurrence.size_before = outcome.size_before
    occurrence.size_after = outcome.size_after
    occurrence.message = outcome.message[:2000]
    occurrence.save()
