"""Calendar arithmetic in DCP_TIME_ZONE: windows, day/week/month boundaries, exact epoch seconds.

Costs are cut by calendar days (exchange rates), months (physical machines'
monthly_cost) and the buckets of a series, all in DCP's time zone, and summed
in exact epoch seconds (Decimal, microseconds included).
"""

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings

from apps.costs.choices import Step

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICRO = Decimal("0.000001")


def zone() -> ZoneInfo:
    """DCP's time zone for costs (DCP_TIME_ZONE)."""
    return ZoneInfo(settings.DCP_TIME_ZONE)


def seconds(moment: datetime) -> Decimal:
    """Exact seconds since the epoch, microseconds included."""
    delta = moment - EPOCH
    return Decimal(delta.days * 86400 + delta.seconds) + Decimal(delta.microseconds) * MICRO


def midnight(day: date) -> datetime:
    """The instant a calendar day starts in DCP's time zone."""
    return datetime.combine(day, time(), tzinfo=zone())


def local_day(moment: datetime) -> date:
    """The calendar day an instant falls on in DCP's time zone."""
    return moment.astimezone(zone()).date()


def month_start(moment: datetime) -> datetime:
    """The instant the calendar month holding moment starts."""
    return midnight(local_day(moment).replace(day=1))


def next_month(start: datetime) -> datetime:
    """The start of the month after the one starting at start."""
    day = local_day(start)
    return midnight(date(day.year + day.month // 12, day.month % 12 + 1, 1))


def this_month(now: datetime) -> tuple[datetime, datetime]:
    """The current calendar month: the default window of a cost query."""
    start = month_start(now)
    return start, next_month(start)


def _step_start(moment: datetime, step: str) -> datetime:
    day = local_day(moment)
    if step == Step.MONTH:
        return midnight(day.replace(day=1))
    if step == Step.WEEK:
        return midnight(day - timedelta(days=day.weekday()))
    return midnight(day)


def _after(start: datetime, step: str) -> datetime:
    if step == Step.MONTH:
        return next_month(start)
    days = 7 if step == Step.WEEK else 1
    return midnight(local_day(start) + timedelta(days=days))


def boundaries(start: datetime, end: datetime, step: str) -> Iterator[datetime]:
    """Calendar boundaries of step (day, week from Monday, month) strictly between start and end."""
    moment = _after(_step_start(start, step), step)
    while moment < end:
        yield moment
        moment = _after(moment, step)


def buckets(start: datetime, end: datetime, step: str | None) -> list[tuple[datetime, datetime]]:
    """The window cut into the buckets of a series (one bucket without a step), first and last clipped."""
    cuts = [start, *(boundaries(start, end, step) if step else ()), end]
    return list(zip(cuts, cuts[1:], strict=False))
