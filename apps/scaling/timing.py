"""When a schedule's occurrences fall: cron expressions (croniter) or a one-off time, in the schedule's time zone."""

from collections.abc import Iterator
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from croniter import CroniterBadCronError, CroniterBadDateError, CroniterNotAlphaError, croniter

#: Occurrences one pass over a schedule handles at most; the rest wait for the next pass.
MAX_PER_PASS = 100


def check_cron(expression: str) -> str | None:
    """Why a cron expression is not one DCP takes (five fields), or None when it is."""
    fields = expression.split()
    if len(fields) != 5:
        return f"A cron expression has five fields (minute hour day month weekday); {expression!r} has {len(fields)}."
    try:
        croniter(expression)
    except (CroniterBadCronError, CroniterBadDateError, CroniterNotAlphaError, ValueError) as exc:
        return f"{expression!r} is not a valid cron expression: {exc}."
    return None


def check_time_zone(name: str) -> str | None:
    """Why a time zone name is not an IANA one, or None when it is."""
    if name not in available_timezones():
        return f"Unknown time zone {name!r}: use an IANA name such as UTC or Asia/Shanghai."
    return None


def zone(name: str) -> ZoneInfo:
    """The schedule's time zone (UTC if the name is gone from the system's database)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def occurrences(schedule, after: datetime, until: datetime) -> Iterator[datetime]:
    """The schedule's occurrences in (after, until], oldest first, at most MAX_PER_PASS."""
    if schedule.run_at is not None:
        if after < schedule.run_at <= until:
            yield schedule.run_at
        return
    found = croniter(schedule.cron, after.astimezone(zone(schedule.time_zone)))
    for _ in range(MAX_PER_PASS):
        moment = found.get_next(datetime)
        if moment > until:
            return
        yield moment


def next_after(schedule, moment: datetime) -> datetime | None:
    """The schedule's first occurrence after moment (None for a one-off already past)."""
    if schedule.run_at is not None:
        return schedule.run_at if schedule.run_at > moment else None
    return croniter(schedule.cron, moment.astimezone(zone(schedule.time_zone))).get_next(datetime)


def upcoming(schedule, now: datetime, count: int = 5) -> list[datetime]:
    """The next few occurrences after now, in the schedule's time zone."""
    if not schedule.enabled:
        return []
    if schedule.run_at is not None:
        return [schedule.run_at.astimezone(zone(schedule.time_zone))] if schedule.run_at > now else []
    found = croniter(schedule.cron, now.astimezone(zone(schedule.time_zone)))
    return [found.get_next(datetime) for _ in range(count)]


def ends_at(schedule, moment: datetime) -> datetime | None:
    """When an occurrence that started at moment ends, if the schedule has an end."""
    return moment + timedelta(minutes=schedule.duration_minutes) if schedule.duration_minutes else None
