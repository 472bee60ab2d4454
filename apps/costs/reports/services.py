"""Making cost reports: once per schedule and closed period, from the same query as GET /api/v1/costs/.

A report is made under a lock on its schedule's row, so two beats (or a beat and
a catch-up) running at once make it once; the unique constraint on (schedule,
period_start) holds even if that lock were bypassed. Its e-mail is queued once
the report is committed; a queue message lost in a crash is found again by the
next beat (apps.costs.reports.tasks).
"""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models.functions import Lower, Trim

from apps.core.choices import Action
from apps.costs.currencies import round_money
from apps.costs.queries import CostQuery, answer
from apps.costs.reports import periods
from apps.costs.reports.choices import Delivery
from apps.costs.reports.models import CostReport, CostReportSchedule
from apps.inventory.models import Cluster

logger = logging.getLogger(__name__)


def due_periods(schedule: CostReportSchedule, now: datetime) -> list[periods.Period]:
    """Closed periods still to report, oldest first: of the latest DCP_COST_REPORT_CATCH_UP, those that ended
    after the schedule was made and have no report yet."""
    latest = periods.closed(now, schedule.frequency, schedule.time_zone, settings.DCP_COST_REPORT_CATCH_UP)
    wanted = [period for period in latest if period[1] > schedule.created_at]
    made = set(schedule.reports.filter(period_start__in=[p[0] for p in wanted]).values_list("period_start", flat=True))
    return sorted(period for period in wanted if period[0] not in made)


def due_schedules(now: datetime) -> list[int]:
    """Active schedules with a report due."""
    schedules = CostReportSchedule.objects.filter(active=True).order_by("pk")
    return [schedule.pk for schedule in schedules if due_periods(schedule, now)]


def make_schedule_reports(schedule_id: int, now: datetime) -> list[int]:
    """Make one schedule's due reports, oldest first; the ids of those made (none if another maker was first)."""
    schedule = CostReportSchedule.objects.filter(pk=schedule_id, active=True).first()
    made = [make_report(schedule_id, period, now) for period in (due_periods(schedule, now) if schedule else [])]
    return [report.pk for report in made if report is not None]


def make_due_reports(now: datetime) -> list[int]:
    """Make every active schedule's due reports; the ids of the reports made."""
    return [report for schedule in due_schedules(now) for report in make_schedule_reports(schedule, now)]


def _blocked(schedule: CostReportSchedule) -> str:
    """Why the owner may no longer receive this schedule's reports, or a recipient may not, or ''."""
    owner = schedule.owner
    if not owner.is_active:
        return f"Its owner {owner.username} is no longer active."
    if schedule.cluster_id and not Cluster.objects.restrict(owner, Action.VIEW).filter(pk=schedule.cluster_id).exists():
        return f"Its owner {owner.username} may no longer see cluster {schedule.cluster.name}."
    unseeing = recipients_who_may_not_see(owner, schedule.cluster, schedule.recipients)
    return f"Recipient {unseeing[0]}." if unseeing else ""


def recipients_who_may_not_see(owner, cluster: Cluster | None, recipients: list[str]) -> list[str]:
    """Why each recipient that is a DCP user may not receive the report (one line each), or [].

    A report covers cluster, or (None) every cluster its owner may see. An address that is no user's (finance's
    mailbox) may receive it: the owner chose it. An address of an active user who may not see every cluster the
    report covers may not: nobody receives a report covering clusters they cannot see.
    """
    wanted = {address.strip().lower(): address for address in recipients}
    users = list(
        get_user_model()
        .objects.filter(is_active=True, is_superuser=False)
        .annotate(address=Lower(Trim("email")))
        .filter(address__in=list(wanted))
        .order_by("pk")
    )
    if not users:
        return []
    covered = [cluster] if cluster is not None else list(Cluster.objects.restrict(owner, Action.VIEW).order_by("name"))
    found = []
    for user in users:
        visible = Cluster.objects.restrict(user, Action.VIEW).filter(pk__in=[c.pk for c in covered])
        seen = set(visible.values_list("pk", flat=True))
        hidden = [c.name for c in covered if c.pk not in seen]
        if hidden:
            clusters = "cluster" if len(hidden) == 1 else "clusters"
            found.append(
                f"{wanted[user.address]} is the address of user {user.username}, who may not see "
                f"{clusters} {', '.join(hidden)}"
            )
    return found


def _query(schedule: CostReportSchedule, period: periods.Period) -> CostQuery:
    filters = {"cluster": schedule.cluster_id} if schedule.cluster_id else {}
    dimensions = schedule.group_by.split(",")
    return CostQuery(dimensions=dimensions, start=period[0], end=period[1], currency=schedule.currency, filters=filters)


def _group(row: dict) -> tuple:
    return tuple(sorted(row["ids"].items()))


def compare(rows: list[dict], before: list[dict], currency: str) -> list[dict]:
    """Rows with the previous period's cost of the same group (0 where the group had no hosts then) and the
    change."""
    earlier = {_group(row): Decimal(row["cost"]) for row in before}
    zero = round_money(Decimal(0), currency)
    compared = []
    for row in rows:
        previous_cost = earlier.get(_group(row), zero)
        change = Decimal(row["cost"]) - previous_cost
        compared.append({**row, "previous_cost": str(previous_cost), "change": str(change)})
    return compared


def make_report(schedule_id: int, period: periods.Period, now: datetime, queue: bool = True) -> CostReport | None:
    """The report of schedule_id for period, made now; None if it exists already or the schedule is stopped.

    Its e-mail is queued once the report is committed, unless queue is off (the caller sends it itself).
    """
    with transaction.atomic():
        schedule = (
            CostReportSchedule.objects.select_for_update(of=("self",))
            .select_related("owner", "cluster")
            .get(pk=schedule_id)
        )
        if not schedule.active or schedule.reports.filter(period_start=period[0]).exists():
            return None
        reason = _blocked(schedule)
        if reason:
            schedule.active, schedule.paused_reason = False, reason
            schedule.save(update_fields=["active", "paused_reason", "updated_at"])
            logger.warning("cost report schedule %s stopped: %s", schedule.pk, reason)
            return None
        result = answer(schedule.owner, _query(schedule, period), now)
        earlier = previous(schedule, period, now)
        try:
            with transaction.atomic():
                report = CostReport.objects.create(
                    schedule=schedule,
                    period_start=period[0],
                    period_end=period[1],
                    group_by=schedule.group_by,
                    currency=schedule.currency,
                    total=Decimal(result["total"]),
                    previous_total=Decimal(earlier["total"]),
                    host_hours=Decimal(result["host_hours"]),
                    unpriced_host_hours=Decimal(result["unpriced_host_hours"]),
                    rows=compare(result["rows"], earlier["rows"], schedule.currency),
                    missing_rates=result["missing_rates"],
                    next_attempt_at=now,
                )
        except IntegrityError:
            return None
        # A broker hiccup here loses nothing: the next beat queues every pending e-mail again.
        if queue:
            transaction.on_commit(lambda: queue_delivery(report.pk), robust=True)
    return report


def previous(schedule: CostReportSchedule, period: periods.Period, now: datetime) -> dict:
    """The cost answer of the period before, for the same owner, scope, grouping and currency."""
    before = periods.previous(period, schedule.frequency, schedule.time_zone)
    return answer(schedule.owner, _query(schedule, before), now)


def queue_delivery(report_id: int, countdown: float = 0) -> None:
    """Queue the report's e-mail (a lost message is queued again by the next beat)."""
    from apps.costs.reports.tasks import deliver_cost_report

    deliver_cost_report.apply_async((report_id,), countdown=countdown)


def due_deliveries(now: datetime) -> list[int]:
    """Reports whose e-mail waits for a try that is due."""
    return list(
        CostReport.objects.filter(delivery=Delivery.PENDING, next_attempt_at__lte=now).values_list("pk", flat=True)
    )
