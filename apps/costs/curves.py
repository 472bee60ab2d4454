"""The fast path of accrual on PostgreSQL: per-second charges read off cumulative curves, not joined piece by piece.

For each price key, the amount a host would accrue from the window's start up to
an instant x is a piecewise linear curve F(x): the cumulative sum of price ×
length over the key's pieces. A life's per-second cost in a bucket is then
F(end) - F(start), two binary searches (``width_bucket``) into the key's arrays,
however many pieces (price changes, daily exchange rates) the key has. The same
for unpriced time. Pieces the curves cannot express (per-hour billing, amounts
with no exchange rate, which are reported by day) are still joined one by one.
"""

from __future__ import annotations

from itertools import groupby

from apps.costs.pieces import PRICED, UNPRICED, Piece


def on_curve(piece: Piece) -> bool:
    """Whether the piece's charges are read off the curves (else it is joined)."""
    return not piece.hourly and piece.state in (PRICED, UNPRICED)


def curves(pieces: list[Piece]) -> list[tuple[int, list[int], list, list, list[int], list[int]]]:
    """Per key: (key, bounds in µs, cumulative amount, price, cumulative unpriced µs, 1 where unpriced).

    Each array has one entry per piece and a last one at the window's end (slope 0), so that every
    instant of the window, its end included, falls on an entry.
    """
    found = []
    for key, group in groupby(pieces, key=lambda piece: piece.key):
        group = list(group)
        bounds, cum_a, slope_a, cum_u, slope_u = [], [], [], [], []
        amount = unpriced = 0
        for piece in group:
            row = piece.row()
            lo, hi = row[1], row[2]
            price = piece.price if on_curve(piece) and piece.state == PRICED else 0
            idle = 1 if piece.state == UNPRICED else 0
            bounds.append(lo)
            cum_a.append(amount)
            slope_a.append(price)
            cum_u.append(unpriced)
            slope_u.append(idle)
            amount += price * (hi - lo)
            unpriced += idle * (hi - lo)
        bounds.append(group[-1].row()[2])
        cum_a.append(amount)
        slope_a.append(0)
        cum_u.append(unpriced)
        slope_u.append(0)
        found.append((key, bounds, cum_a, slope_a, cum_u, slope_u))
    return found


def _array(values, kind: str) -> str:
    # Numbers only (DCP's own: epoch microseconds, Decimal prices), never text from outside.
    return f"ARRAY[{', '.join(format(v, 'f') if not isinstance(v, int) else str(v) for v in values)}]::{kind}[]"


def curves_sql(pieces: list[Piece]) -> str:
    """The curves as a CTE (one row per key)."""
    rows = [
        f"({key}, {_array(b, 'bigint')}, {_array(ca, 'numeric')}, {_array(sa, 'numeric')}, "
        f"{_array(cu, 'bigint')}, {_array(su, 'bigint')})"
        for key, b, ca, sa, cu, su in curves(pieces)
    ] or ["(-1, ARRAY[0]::bigint[], ARRAY[0]::numeric[], ARRAY[0]::numeric[], ARRAY[0]::bigint[], ARRAY[0]::bigint[])"]
    return f"curves (k, bounds, cum_a, slope_a, cum_u, slope_u) AS (VALUES {', '.join(rows)})"  # noqa: S608


def on_curves_sql(carried: str, buckets_sql: str) -> str:
    """Charges of every life in every bucket it touches, read off its key's curves."""

    def at(name: str, index: str, x: str) -> str:
        return f"(c.cum_{name}[{index}] + c.slope_{name}[{index}] * ({x} - c.bounds[{index}]))"

    return f"""
    SELECT {carried}x.bucket, 0, '', '',
        {at("a", "x.iz", "x.z")} - {at("a", "x.ia", "x.a")},
        x.z - x.a,
        {at("u", "x.iz", "x.z")} - {at("u", "x.ia", "x.a")}
    FROM (
        SELECT l.*, b.bucket, GREATEST(l.l, b.lo) AS a, LEAST(l.t, b.hi) AS z,
            width_bucket(GREATEST(l.l, b.lo), c.bounds) AS ia, width_bucket(LEAST(l.t, b.hi), c.bounds) AS iz
        FROM lives l JOIN ({buckets_sql}) b ON b.lo < l.t AND b.hi > l.l AND l.t > l.l
        JOIN curves c ON c.k = l.k
    ) x JOIN curves c ON c.k = x.k"""  # noqa: S608
