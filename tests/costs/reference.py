"""A brute-force reference of the cost rules (apps.costs.accrual's docstring), for the tests to check against.

It shares no code with DCP's accrual: it walks every second of every life one at a
time, finds the catalog row in force by scanning all rows, converts each charge on
its own day, and sums exact fractions.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache
from zoneinfo import ZoneInfo


@lru_cache(maxsize=4096)
def _local_day(second: int, zone_name: str) -> date:
    return (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=second)).astimezone(ZoneInfo(zone_name)).date()


@dataclass(frozen=True)
class Row:
    """A catalog row, times in epoch seconds (end None: open)."""

    provider: int | None
    kind: str
    instance_type: str
    zone: str
    currency: str
    price: Decimal
    hourly: bool
    minimum: int
    start: int
    end: int | None

    def rank(self, life: Life) -> int | None:
        """How specifically the row prices the life (None: not at all)."""
        if self.instance_type != life.instance_type or self.zone not in ("", life.zone):
            return None
        if self.provider is not None:
            return 4 + bool(self.zone) if self.provider == life.provider else None
        return bool(self.zone) if self.kind == life.kind else None


@dataclass(frozen=True)
class Life:
    """One host's life: its groups and its launch and termination (None: alive), epoch seconds."""

    groups: dict
    provider: int
    kind: str
    instance_type: str
    zone: str
    launched: int
    terminated: int | None


@dataclass
class Sums:
    """Exact sums of one group."""

    amount: Fraction = Fraction(0)
    seconds: int = 0
    unpriced: int = 0


@dataclass
class Reference:
    """The rules, second by second."""

    rows: list[Row]
    rates: dict[tuple[str, str], dict[date, Decimal]]  # (base, quote) -> day -> rate
    currency: str
    zone_name: str = "UTC"
    missing: set = field(default_factory=set)

    def row_at(self, life: Life, second: int) -> Row | None:
        """The row in force for life at second, most specific first."""
        live = [
            (rank, row)
            for row in self.rows
            if (rank := row.rank(life)) is not None and row.start <= second and (row.end is None or second < row.end)
        ]
        return max(live, key=lambda item: item[0])[1] if live else None

    def day(self, second: int) -> date:
        """The local day of an instant."""
        return (
            (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=second)).astimezone(ZoneInfo(self.zone_name)).date()
        )

    def factor(self, currency: str, second: int) -> Fraction | None:
        """The rate in force on the instant's day, direct or the inverse read backwards."""
        if currency == self.currency:
            return Fraction(1)
        day = self.day(second)
        best = None
        for (base, quote), by_day in self.rates.items():
            if {base, quote} != {currency, self.currency}:
                continue
            for valid_from, rate in by_day.items():
                if valid_from <= day and (best is None or (valid_from, base == currency) > best[0]):
                    best = ((valid_from, base == currency), Fraction(rate) if base == currency else 1 / Fraction(rate))
        return best[1] if best else None

    def charge(self, sums: Sums, row: Row, amount: Fraction, second: int) -> None:
        """Count a charge made at second, converted on its day or reported as missing."""
        factor = self.factor(row.currency, second)
        if factor is None:
            self.missing.add((row.currency, self.day(second).isoformat()))
            return
        sums.amount += amount * factor

    def run(self, lives: list[Life], dims, start: int, end: int, now: int) -> dict[tuple, Sums]:
        """Sums by group of every charge whose instant falls in [start, end)."""
        found: dict[tuple, Sums] = defaultdict(Sums)
        for life in lives:
            sums = found[tuple(life.groups[d] for d in dims)]
            stop = life.terminated if life.terminated is not None else now
            for second in range(max(life.launched, start), min(stop, end)):
                sums.seconds += 1
                row = self.row_at(life, second)
                if row is None:
                    sums.unpriced += 1
                elif not row.hourly:
                    self.charge(sums, row, Fraction(row.price) / 3600, second)
                elif (second - life.launched) % 3600 == 0:
                    self.charge(sums, row, Fraction(row.price), second)
            first = self.row_at(life, life.launched)
            lived = stop - life.launched
            if (
                life.terminated is not None
                and first is not None
                and not first.hourly
                and lived < first.minimum
                and start <= life.launched < end
            ):
                self.charge(sums, first, Fraction(first.price) * (first.minimum - lived) / 3600, life.launched)
        return found
