"""The small side of accrual, built in Python: price pieces per key and cost cells for physical machines.

A *piece* is a stretch of the query window over which one key's price, billing
rule, exchange rate and series bucket are all constant; a *cell* is the same
for physical machines (constant month, rate and bucket). Their number grows
with price changes, rate changes and buckets, never with hosts: the hosts are
joined to them in SQL (apps.costs.accrual).
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from apps.costs.catalog import PriceKey, timeline
from apps.costs.choices import Billing, Step
from apps.costs.models import Price
from apps.costs.periods import EPOCH, boundaries, local_day, month_start, next_month, seconds
from apps.costs.rates import Conversion

#: What a piece's amounts are: converted to the report currency, not priced at all, or priced with no rate.
PRICED, UNPRICED, NO_RATE = 0, 1, 2


def micro(at: Decimal) -> int:
    """Epoch seconds (six decimals at most, as datetimes have) as whole microseconds."""
    return int(at * 1_000_000)


@dataclass(frozen=True)
class Piece:
    """[lo, hi) of one key (or, with key -1, of every physical machine) with everything constant."""

    key: int
    lo: Decimal
    hi: Decimal
    bucket: int
    state: int
    price: Decimal | None = None  # per hour; report currency when PRICED, the row's own when NO_RATE
    hourly: bool = False
    minimum: int = 0
    currency: str = ""  # NO_RATE only: which currency lacks a rate
    day: str = ""  # NO_RATE only: the day that lacks it
    month_seconds: Decimal | None = None  # physical cells: seconds of the calendar month

    def row(self) -> tuple:
        """The piece as a row of the SQL VALUES list."""
        return (
            self.key,
            micro(self.lo),
            micro(self.hi),
            self.bucket,
            self.state,
            self.price,
            int(self.hourly),
            self.minimum,
            self.currency,
            self.day,
            micro(self.month_seconds) if self.month_seconds is not None else None,
        )


#: The SQL columns of a piece; instants and lengths in whole microseconds (integer arithmetic is fast and exact).
COLUMNS = ("k", "lo", "hi", "bucket", "state", "price", "hourly", "minimum", "currency", "day", "month_us")
TYPES = ("INTEGER", "BIGINT", "BIGINT", "INTEGER", "INTEGER", "NUMERIC")
TYPES += ("INTEGER", "BIGINT", "TEXT", "TEXT", "BIGINT")


def moment(at: Decimal) -> datetime:
    """Epoch seconds back to an aware datetime."""
    return EPOCH + timedelta(microseconds=int(at * 1_000_000))


def _split(lo: Decimal, hi: Decimal, cuts) -> list[tuple[Decimal, Decimal]]:
    points = [lo, *sorted(c for c in set(cuts) if lo < c < hi), hi]
    return list(zip(points, points[1:], strict=False))


class Builder:
    """Cuts the window into pieces: by price rows, rate changes, missing-rate days and buckets."""

    def __init__(self, window_start: datetime, window_end: datetime, bucket_starts: list[datetime], convert):
        self.lo, self.hi = seconds(window_start), seconds(window_end)
        self.bucket_cuts = [seconds(b) for b in bucket_starts[1:]]
        self.convert: dict[str, Conversion] = convert

    def _bucketed(self, lo: Decimal, hi: Decimal, **fields) -> list[Piece]:
        return [
            Piece(lo=a, hi=b, bucket=bisect_right(self.bucket_cuts, a), **fields)
            for a, b in _split(lo, hi, self.bucket_cuts)
        ]

    def _days(self, lo: Decimal, hi: Decimal) -> list[tuple[Decimal, Decimal, str]]:
        """[lo, hi) cut at midnights, each part with its day: a missing rate is reported per day."""
        cuts = [seconds(b) for b in boundaries(moment(lo), moment(hi), Step.DAY)]
        return [(a, b, local_day(moment(a)).isoformat()) for a, b in _split(lo, hi, cuts)]

    def _converted(self, lo: Decimal, hi: Decimal, price: Decimal, currency: str, **fields) -> list[Piece]:
        conversion = self.convert[currency]
        pieces: list[Piece] = []
        for a, b in _split(lo, hi, conversion.cuts(lo, hi)):
            factor = conversion.factor(a)
            if factor is not None:
                pieces += self._bucketed(a, b, state=PRICED, price=price * factor, **fields)
                continue
            for c, d, day in self._days(a, b):
                pieces += self._bucketed(c, d, state=NO_RATE, price=price, currency=currency, day=day, **fields)
        return pieces

    def key_pieces(self, index: int, key: PriceKey, rows: list[Price]) -> list[Piece]:
        """One key's pieces over the window."""
        pieces: list[Piece] = []
        for lo, hi, row in timeline(key, rows, self.lo, self.hi):
            if row is None:
                pieces += self._bucketed(lo, hi, key=index, state=UNPRICED)
                continue
            hourly = row.billing == Billing.PER_HOUR
            pieces += self._converted(
                lo, hi, row.hourly_price, row.currency, key=index, hourly=hourly, minimum=row.minimum_seconds
            )
        return pieces

    def machine_cells(self, currency: str) -> list[Piece]:
        """Cells for physical machines, whose monthly_cost is in currency: months, rate changes, buckets."""
        cells: list[Piece] = []
        start = month_start(moment(self.lo))
        while seconds(start) < self.hi:
            end = next_month(start)
            length = seconds(end) - seconds(start)
            lo, hi = max(self.lo, seconds(start)), min(self.hi, seconds(end))
            cells += self._converted(lo, hi, Decimal(1), currency, key=-1, month_seconds=length)
            start = end
        return cells
