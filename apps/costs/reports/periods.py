"""The periods a schedule reports: calendar days, weeks (from Monday) and months in the schedule's time zone."""

from datetime import date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo, available_timezones

from apps.costs.reports.choices import Frequency

Period = tuple[datetime, datetime]


@cache
def time_zones() -> frozenset[str]:
    """Every IANA time zone name this machine knows."""
    return frozenset(available_timezones())


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(), tzinfo=zone)


def _first_day(day: date, frequency: str) -> date:
    if frequency == Frequency.MONTHLY:
        return day.replace(day=1)
    if frequency == Frequency.WEEKLY:
        return day - timedelta(days=day.weekday())
    return day


def _next_first_day(first: date, frequency: str) -> date:
    if frequency == Frequency.MONTHLY:
        return date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return first + timedelta(days=7 if frequency == Frequency.WEEKLY else 1)


def period_of(moment: datetime, frequency: str, zone_name: str) -> Period:
    """The period (start, end) holding moment."""
    zone = ZoneInfo(zone_name)
    first = _first_day(moment.astimezone(zone).date(), frequency)
    return _midnight(first, zone), _midnight(_next_first_day(first, frequency), zone)


def previous(period: Period, frequency: str, zone_name: str) -> Period:
    """The period just before period."""
    return period_of(period[0] - timedelta(microseconds=1), frequency, zone_name)


def closed(now: datetime, frequency: str, zone_name: str, count: int) -> list[Period]:
    """The count latest periods that have closed by now, newest first."""
    periods = [previous(period_of(now, frequency, zone_name), frequency, zone_name)]
    while len(periods) < count:
        periods.append(previous(periods[-1], frequency, zone_name))
    return periods
