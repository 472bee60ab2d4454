"""The fast path of accrual on PostgreSQL: charges read off cumulative curves, not joined piece by piece.

Each price key's pieces (apps.costs.pieces) are contiguous over the window. Their
bounds x_1 < ... < x_n and one last entry at the window's end make the key's
*points*; a life's part in a bucket, [a, z), falls between point ia (holding a)
and point iz (holding z), two binary searches (``width_bucket``) into the key's
bounds, however many pieces (price changes, daily exchange rates) the key has.

- Per second: F(x), the amount accrued from the window's start to x, is linear
  between points (cumulative amount plus price × time since the point): the
  charge is F(z) - F(a). Unpriced time the same way.
- Per hour (each started hour billed whole at the price in force at its start):
  with C(x) = ceil((x - l) / H) the hours a life launched at l has started before
  x, and h_i the per-hour price of piece i (0 where it bills per second or is
  unpriced), the charge over pieces ia..iz telescopes into

      h_iz·C(z) - h_ia·C(a) + Σ_{ia < b <= iz} (h_{b-1} - h_b)·C(x_b).

  Writing x_b - o = q_b·H + r_b and l - o = q_l·H + φ (0 <= r_b, φ < H, o an
  origin), C(x_b) = q_b - q_l + [r_b > φ]. The first two terms are prefix sums
  over the points (Σ Δ_b·q_b and Σ Δ_b); the last is non-zero only at bounds
  off the origin's hour grid (r_b > 0), which are few (a price change at an odd
  second) and joined one by one. The origin is the grid most price steps lie on
  (midnights, usually).
- The minimum's shortfall of a per-second row is read at the launch's point.

Amounts with no exchange rate (reported by day) stay pieces joined one by one.
Every sum is exact: integers and decimals, summed with enough digits.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal, localcontext
from itertools import groupby

from apps.costs.pieces import PRICED, UNPRICED, Piece

#: Microseconds in an hour.
HOUR = 3600 * 1_000_000
#: The origin of the hour grid is moved this many hours into the past so that every launch lies after it (and
#: the database's integer division, which truncates, floors).
ORIGIN_SHIFT = 10**7 * HOUR
#: Digits for the sums (prices with 8 decimals times rates with up to 40 digits times epoch microseconds).
PRECISION = 200


def on_curve(piece: Piece) -> bool:
    """Whether the piece's per-second charges are read off the curves (else it is joined)."""
    return not piece.hourly and piece.state in (PRICED, UNPRICED)


def _hourly(piece: Piece) -> Decimal:
    return piece.price if piece.hourly and piece.state == PRICED else Decimal(0)


@dataclass
class Curves:
    """Every key's points as columns (one entry per point), and the hour steps off the grid."""

    origin: int = 0
    points: dict[str, list] = field(default_factory=lambda: {name: [] for name in POINT_COLUMNS})
    off_grid: dict[str, list] = field(default_factory=lambda: {name: [] for name in OFF_GRID_COLUMNS})


#: Per point: key, index (1-based, as width_bucket counts), its bound, the cumulative per-second amount and
#: unpriced time at it, their slopes after it, the per-hour price after it, the prefix sums Σ Δ·q and Σ Δ of
#: the per-hour steps up to it, and the per-second minimum (µs) of the row in force after it.
POINT_COLUMNS = ("k", "i", "lo", "cum_a", "slope_a", "cum_u", "slope_u", "hp", "s1", "s0", "minimum")
POINT_TYPES = ("integer", "integer", "bigint", "numeric", "numeric", "bigint", "bigint")
POINT_TYPES += ("numeric", "numeric", "numeric", "bigint")
#: Per-hour steps at bounds off the grid: key, the point's index, its offset in the hour, h_{b-1} - h_b.
OFF_GRID_COLUMNS = ("k", "i", "r", "delta")
OFF_GRID_TYPES = ("integer", "integer", "bigint", "numeric")


def _steps(pieces: list[Piece]) -> list[tuple[int, Decimal]]:
    """(bound, h_{b-1} - h_b) of every bound where the per-hour price changes."""
    found = []
    for _, group in groupby(pieces, key=lambda piece: piece.key):
        group = list(group)
        bounds = [piece.row()[1] for piece in group[1:]] + [group[-1].row()[2]]
        for before, bound, after in zip(group, bounds, [*group[1:], None], strict=True):
            delta = _hourly(before) - (_hourly(after) if after is not None else 0)
            if delta:
                found.append((bound, delta))
    return found


def curves(pieces: list[Piece]) -> Curves:
    """The points of every key of pieces (sorted by key, then time)."""
    steps = _steps(pieces)
    grid = Counter(bound % HOUR for bound, _ in steps).most_common(1)
    origin = (grid[0][0] if grid else 0) - ORIGIN_SHIFT
    found = Curves(origin)
    points, off_grid = found.points, found.off_grid
    with localcontext() as context:
        context.prec = PRECISION
        for key, group in groupby(pieces, key=lambda piece: piece.key):
            group = list(group)
            amount, unpriced, s1, s0 = Decimal(0), 0, Decimal(0), Decimal(0)
            previous = Decimal(0)
            for index, piece in enumerate([*group, None], start=1):
                row = piece.row() if piece is not None else None
                lo = row[1] if row is not None else group[-1].row()[2]
                hourly = _hourly(piece) if piece is not None else Decimal(0)
                if index > 1:
                    delta = previous - hourly
                    q, r = divmod(lo - origin, HOUR)
                    s1 += delta * q
                    s0 += delta
                    if delta and r:
                        for name, value in zip(OFF_GRID_COLUMNS, (key, index, r, delta), strict=True):
                            off_grid[name].append(value)
                price = piece.price if piece is not None and on_curve(piece) and piece.state == PRICED else 0
                idle = 1 if piece is not None and piece.state == UNPRICED else 0
                minimum = piece.minimum * 1_000_000 if price else 0
                values = (key, index, lo, amount, price, unpriced, idle, hourly, s1, s0, minimum)
                for name, value in zip(POINT_COLUMNS, values, strict=True):
                    points[name].append(value)
                if row is not None:
                    amount += price * (row[2] - lo)
                    unpriced += idle * (row[2] - lo)
                previous = hourly
    return found


def _array(values: list, kind: str) -> str:
    # Numbers only (DCP's own: keys, epoch microseconds, Decimal prices), never text from outside.
    body = ",".join(format(v, "f") if isinstance(v, Decimal) else str(int(v)) for v in values)
    return f"CAST('{{{body}}}' AS {kind}[])"


def _unnest(name: str, columns: dict[str, list], types: tuple[str, ...]) -> str:
    arrays = ", ".join(_array(values, kind) for values, kind in zip(columns.values(), types, strict=True))
    return f"{name} AS (SELECT * FROM unnest({arrays}) AS v ({', '.join(columns)}))"  # noqa: S608


def curves_sql(found: Curves) -> str:
    """The points, each key's bounds (one row per key) and the off-grid steps as CTEs."""
    return ",\n".join(
        (
            _unnest("points", found.points, POINT_TYPES),
            "bounds AS (SELECT k, array_agg(lo ORDER BY i) AS bounds FROM points GROUP BY k)",
            _unnest("off_grid", found.off_grid, OFF_GRID_TYPES),
        )
    )


def on_curves_sql(carried: str, origin: int) -> str:
    """Charges of every life in every bucket it touches (and the minimum of a life launched there), off the
    curves; then the per-hour steps off the grid, joined."""

    def ceil_hours(x: str) -> str:
        return f"(({x} - x.l + {HOUR - 1}) / {HOUR})"

    per_second = "(z.cum_a + z.slope_a * (x.z - z.lo)) - (a.cum_a + a.slope_a * (x.a - a.lo))"
    per_hour = (
        f"{HOUR} * (z.hp * {ceil_hours('x.z')} - a.hp * {ceil_hours('x.a')} + (z.s1 - a.s1)"
        f" - ((x.l - ({origin})) / {HOUR}) * (z.s0 - a.s0))"
    )
    # The launch's piece: a life's part starts at its launch in exactly one bucket, when launched in the window.
    minimum = (
        "CASE WHEN x.ended = 1 AND x.a = x.l AND a.minimum > x.t - x.l"
        " THEN a.slope_a * (a.minimum - (x.t - x.l)) ELSE 0 END"
    )
    unpriced = "(z.cum_u + z.slope_u * (x.z - z.lo)) - (a.cum_u + a.slope_u * (x.a - a.lo))"
    return f"""
    SELECT {carried}x.bucket, 0, '', '', {per_second} + {per_hour} + {minimum}, x.z - x.a, {unpriced}
    FROM parts x JOIN points a ON a.k = x.k AND a.i = x.ia JOIN points z ON z.k = x.k AND z.i = x.iz
    UNION ALL
    SELECT {carried}x.bucket, 0, '', '', {HOUR} * g.delta, 0, 0
    FROM parts x JOIN off_grid g ON g.k = x.k AND g.i > x.ia AND g.i <= x.iz
        AND g.r > mod(x.l - ({origin}), {HOUR})"""  # noqa: S608


def parts_sql(buckets_sql: str) -> str:
    """Every life's part in every bucket it touches, with the points holding its ends (a CTE).

    A life of no length still has a part (of no length) in the bucket of its launch, for its minimum.
    """
    return f"""parts AS (
    SELECT l.*, b.bucket, GREATEST(l.l, b.lo) AS a, LEAST(l.t, b.hi) AS z,
        width_bucket(GREATEST(l.l, b.lo), c.bounds) AS ia, width_bucket(LEAST(l.t, b.hi), c.bounds) AS iz
    FROM lives l JOIN ({buckets_sql}) b ON b.lo < GREATEST(l.t, l.l + 1) AND b.hi > l.l AND l.t >= l.l
    JOIN bounds c ON c.k = l.k
)"""  # noqa: S608
