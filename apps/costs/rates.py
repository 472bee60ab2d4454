"""Exchange rates as step functions of time: the factor that turns an amount of one currency into another.

A rate is in force from the start of its ``valid_from`` day (in DCP_TIME_ZONE)
until the next rate of the same pair. ``1 base = rate quote`` converts base to
quote, and the same row read backwards converts quote to base. Nothing else is
assumed: no rate across a third currency, no rate before a pair's first one.
"""

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, localcontext
from functools import cached_property

from django.db.models import Q

from apps.costs.models import ExchangeRate
from apps.costs.periods import midnight, seconds


@dataclass(frozen=True)
class Conversion:
    """How one currency converts into the report currency over time.

    ``steps`` are ``(from_seconds, factor)`` in time order; before the first
    step there is no rate (factor None), and a factor holds until the next step.
    """

    currency: str
    steps: tuple[tuple[Decimal, Decimal], ...]

    def cuts(self, lo: Decimal, hi: Decimal) -> list[Decimal]:
        """The instants strictly inside [lo, hi) where the factor changes."""
        starts = self._starts
        return list(starts[bisect_right(starts, lo) : bisect_left(starts, hi)])

    def factor(self, moment: Decimal) -> Decimal | None:
        """The factor in force at moment (seconds), None when the pair has no rate yet."""
        index = bisect_right(self._starts, moment)
        return self.steps[index - 1][1] if index else None

    @cached_property
    def _starts(self) -> list[Decimal]:
        return [start for start, _ in self.steps]


IDENTITY_START = Decimal("-1e12")


def conversions(currencies: set[str], report: str) -> dict[str, Conversion]:
    """The conversion of each currency into report, from the rates stored (one query)."""
    found = {report: Conversion(report, ((IDENTITY_START, Decimal(1)),))}
    others = sorted(set(currencies) - {report})
    if not others:
        return found
    rows = ExchangeRate.objects.filter(Q(base__in=others, quote=report) | Q(base=report, quote__in=others)).values_list(
        "base", "quote", "rate", "valid_from"
    )
    by_day: dict[str, dict[date, Decimal]] = {currency: {} for currency in others}
    # Inverse rows first, so that a direct rate of the same day wins over an inverse one.
    for base, quote, rate, day in sorted(rows, key=lambda row: (row[0] != report, row[3])):
        if base == report:
            with localcontext() as context:
                context.prec = 40
                by_day[quote][day] = Decimal(1) / rate
        else:
            by_day[base][day] = rate
    for currency, days in by_day.items():
        steps = tuple((seconds(midnight(day)), days[day]) for day in sorted(days))
        found[currency] = Conversion(currency, steps)
    return found


def has_rates(currency: str) -> bool:
    """Whether any rate converts to or from currency."""
    return ExchangeRate.objects.filter(Q(base=currency) | Q(quote=currency)).exists()
