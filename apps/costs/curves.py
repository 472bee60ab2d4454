"""The fast path of accrual on PostgreSQL: charges read off cumulative curves, never joined piece by piece.

Each price key's pieces (apps.costs.pieces) are contiguous over the window. Their
bounds and one last entry at the window's end make the key's *points*. What a life
[l, t) costs over [a, z) is T(z) - T(a), where T at an instant x reads the point
holding x (a binary search, ``width_bucket``, however many pieces the key has):

- Per second: F(x), the amount accrued from the window's start to x, is linear
  between points (cumulative amount plus price × time since the point). Unpriced
  time the same way.
- Per hour (each started hour billed whole at the price in force at its start):
  with C(x) = ceil((x - l) / H) the hours the life has started before x, and h_i
  the per-hour price of piece i (0 where it bills per second or is unpriced), the
  charge over the pieces ia..iz holding a and z telescopes into

      h_iz·C(z) - h_ia·C(a) + Σ_{ia < b <= iz} (h_{b-1} - h_b)·C(x_b).

  Writing x - o = q·H + r and l - o = q_l·H + φ (0 <= r, φ < H, o an origin),
  C(x) = q - q_l + [r > φ]. So T(x) = F(x) + H·(h·C(x) + Σ Δ_b·q_b - q_l·Σ Δ_b),
  the sums being prefix sums at x's point; the steps Δ_b at bounds off the
  origin's hour grid (r > 0: a price change at an odd second) add [r > φ]·Δ_b,
  joined one by one (they are few). The origin is the grid most steps lie on.
- The minimum's shortfall of a per-second row is read at the launch's point.

A series cuts a life at its buckets' bounds: at each bound x_j it crosses, T(x_j)
ends one bucket and starts the next. T(x_j) summed over the lives of a group that
cross x_j needs only how many they are and Σ q_l (C(x_j) exact where x_j is on the
grid or the price there is per second; off the grid, joined one by one): two running
sums over the bounds, not a row per life and bucket. So the statement costs a few
rows per life whatever the window and step.

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

#: Per point: key, index (1-based, as width_bucket counts), its bound, the cumulative per-second amount and
#: unpriced time at it, their slopes after it, the per-hour price after it, the prefix sums Σ Δ·q and Σ Δ of
#: the per-hour steps up to it, and the per-second minimum (µs) of the row in force after it.
POINTS = {
    "k": "integer",
    "i": "integer",
    "lo": "bigint",
    "cum_a": "numeric",
    "slope_a": "numeric",
    "cum_u": "bigint",
    "slope_u": "bigint",
    "hp": "numeric",
    "s1": "numeric",
    "s0": "numeric",
    "minimum": "bigint",
}
#: Per-hour steps at bounds off the grid: key, bound, its offset in the hour, h_{b-1} - h_b.
OFF_GRID = {"k": "integer", "x": "bigint", "r": "bigint", "delta": "numeric"}
#: Per key and bucket bound j (between buckets j - 1 and j, j >= 1): the bound, its point's cumulative
#: amount and unpriced time, per-hour price and prefix sums, the bound's hour q and offset r on the grid.
EDGES = {
    "k": "integer",
    "j": "integer",
    "x": "bigint",
    "cum_a": "numeric",
    "cum_u": "bigint",
    "hp": "numeric",
    "s1": "numeric",
    "s0": "numeric",
    "q": "bigint",
    "r": "bigint",
}


def on_curve(piece: Piece) -> bool:
    """Whether the piece's per-second charges are read off the curves (else it is joined)."""
    return not piece.hourly and piece.state in (PRICED, UNPRICED)


def _hourly(piece: Piece | None) -> Decimal:
    if piece is None or not piece.hourly or piece.state != PRICED:
        return Decimal(0)
    return piece.price


def grid(votes: list[int]) -> int:
    """The offset in the hour (µs) of the grid most bounds lie on: the first one's, among the most common."""
    common = Counter(votes).most_common(1)
    return common[0][0] if common else 0


def _table(columns: dict[str, str]) -> dict[str, list]:
    return {name: [] for name in columns}


def _add(table: dict[str, list], *values) -> None:
    for column, value in zip(table.values(), values, strict=True):
        column.append(value)


@dataclass
class Curves:
    """Every key's points, off-grid steps and bucket bounds, as columns."""

    #: The buckets' starts and the window's end (µs).
    lows: list[int]
    origin: int = 0
    #: The longest per-second minimum (µs) of any point.
    longest_minimum: int = 0
    points: dict[str, list] = field(default_factory=lambda: _table(POINTS))
    off_grid: dict[str, list] = field(default_factory=lambda: _table(OFF_GRID))
    edges: dict[str, list] = field(default_factory=lambda: _table(EDGES))


def _keys(pieces: list[Piece]) -> list[tuple[int, list[Piece], list[int]]]:
    """Each key's pieces and its points' bounds (the pieces' starts and the last one's end)."""
    found = []
    for key, group in groupby(pieces, key=lambda piece: piece.key):
        group = list(group)
        found.append((key, group, [piece.row()[1] for piece in group] + [group[-1].row()[2]]))
    return found


def curves(pieces: list[Piece], lows: list[int]) -> Curves:
    """The curves of pieces (sorted by key, then time) for a window cut into buckets: lows are the buckets'
    starts and the window's end (µs)."""
    keys = _keys(pieces)
    edges = set(lows[1:-1])
    votes = [
        bound % HOUR
        for _, group, bounds in keys
        for before, after, bound in zip([None, *group], [*group, None], bounds, strict=True)
        if bound in edges and _hourly(after)
    ]
    votes += [
        bound % HOUR
        for _, group, bounds in keys
        for before, after, bound in zip([None, *group], [*group, None], bounds, strict=True)
        if before is not None and _hourly(before) != _hourly(after)
    ]
    found = Curves(lows, grid(votes) - ORIGIN_SHIFT)
    with localcontext() as context:
        context.prec = PRECISION
        for key, group, bounds in keys:
            _key_curves(found, key, group, bounds)
    return found


def _key_curves(found: Curves, key: int, group: list[Piece], bounds: list[int]) -> None:
    amount, unpriced, s1, s0 = Decimal(0), 0, Decimal(0), Decimal(0)
    at_bound = {}
    for index, (before, piece, lo) in enumerate(zip([None, *group], [*group, None], bounds, strict=True), start=1):
        hourly = _hourly(piece)
        q, r = divmod(lo - found.origin, HOUR)
        if before is not None:
            delta = _hourly(before) - hourly
            s1 += delta * q
            s0 += delta
            if delta and r:
                _add(found.off_grid, key, lo, r, delta)
        price = piece.price if piece is not None and on_curve(piece) and piece.state == PRICED else 0
        idle = 1 if piece is not None and piece.state == UNPRICED else 0
        minimum = piece.minimum * 1_000_000 if price else 0
        found.longest_minimum = max(found.longest_minimum, minimum)
        _add(found.points, key, index, lo, amount, price, unpriced, idle, hourly, s1, s0, minimum)
        at_bound[lo] = (amount, unpriced, hourly, s1, s0, q, r)
        if piece is not None:
            amount += price * (bounds[index] - lo)
            unpriced += idle * (bounds[index] - lo)
    for j, low in enumerate(found.lows[1:-1], start=1):
        _add(found.edges, key, j, low, *at_bound[low])


def _array(values: list, kind: str) -> str:
    # Numbers only (DCP's own: keys, epoch microseconds, Decimal prices), never text from outside.
    body = ",".join(format(v, "f") if isinstance(v, Decimal) else str(int(v)) for v in values)
    return f"CAST('{{{body}}}' AS {kind}[])"


def _unnest(name: str, columns: dict[str, list], types: dict[str, str]) -> str:
    arrays = ", ".join(_array(columns[column], kind) for column, kind in types.items())
    return f"{name} AS (SELECT * FROM unnest({arrays}) AS v ({', '.join(types)}))"  # noqa: S608


def curves_sql(found: Curves) -> str:
    """The points, each key's bounds (one row per key), the off-grid steps and the bucket bounds as CTEs."""
    return ",\n".join(
        (
            _unnest("points", found.points, POINTS),
            "bounds AS (SELECT k, array_agg(lo ORDER BY i) AS bounds FROM points GROUP BY k)",
            _unnest("off_grid", found.off_grid, OFF_GRID),
            _unnest("edges", found.edges, EDGES),
        )
    )


def _dims(alias: str, group: str) -> str:
    return "".join(f"{alias}.{name.strip()}, " for name in group.split(",") if name.strip())


def _crosses(found: Curves) -> bool:
    """Whether a life can cross a bucket bound: the window has more than one bucket."""
    return len(found.lows) > 2


def spans_sql(found: Curves, group: str) -> str:
    """Every life's stretch in the window with the buckets and points of its ends (``spans``), and the lives
    of each group crossing each bucket bound (``crossings``: how many, and Σ q_l) as CTEs; a window of one
    bucket has no bound to cross and gets ``spans`` alone."""
    lows = _array(found.lows, "bigint")
    lo, hi = found.lows[0], found.lows[-1]
    events = _dims("s", group)
    # The buckets of a life's ends (one bucket: no search).
    buckets = "0 AS ja, 0 AS jz"
    if _crosses(found):
        buckets = f"width_bucket(s.a, {lows}) - 1 AS ja, width_bucket(GREATEST(s.z - 1, s.a), {lows}) - 1 AS jz"
    spans = f"""spans AS (
    SELECT s.*, {buckets},
        width_bucket(s.a, c.bounds) AS ia, width_bucket(s.z, c.bounds) AS iz,
        (s.l - ({found.origin})) / {HOUR} AS q, mod(s.l - ({found.origin}), {HOUR}) AS phase
    FROM (SELECT l.*, GREATEST(l.l, {lo}) AS a, LEAST(l.t, {hi}) AS z FROM lives l WHERE l.t >= l.l) s
    JOIN bounds c ON c.k = s.k
)"""  # noqa: S608
    if not _crosses(found):
        return spans
    return f"""{spans},
events AS (
    SELECT {group}k, j, SUM(n) AS n, SUM(q) AS q, 0 AS edge FROM (
        SELECT {events}s.k, s.ja + 1 AS j, 1 AS n, s.q FROM spans s WHERE s.jz > s.ja
        UNION ALL
        SELECT {events}s.k, s.jz + 1, -1, -s.q FROM spans s WHERE s.jz > s.ja
    ) e GROUP BY {group}k, j
),
crossings AS (
    SELECT * FROM (
        SELECT {group}k, j, edge, SUM(n) OVER w AS n, SUM(q) OVER w AS q FROM (
            SELECT * FROM events
            UNION ALL
            SELECT {_dims("g", group)}e.k, e.j, 0, 0, 1 FROM (SELECT DISTINCT {group}k FROM events) g
            JOIN edges e ON e.k = g.k
        ) r WINDOW w AS (PARTITION BY {group}k ORDER BY j)
    ) r WHERE edge = 1 AND n <> 0
)"""  # noqa: S608


def on_curves_sql(group: str, found: Curves) -> str:
    """The charges read off the curves, as SELECTs to UNION ALL (each: group, bucket, state, currency, day,
    amount, seconds, unpriced seconds)."""
    carried = _dims("s", group)

    def at(p: str, x: str) -> str:
        per_second = f"{p}.cum_a + {p}.slope_a * ({x} - {p}.lo)"
        per_hour = f"{p}.hp * (({x} - s.l + {HOUR - 1}) / {HOUR}) + {p}.s1 - s.q * {p}.s0"
        return f"({per_second} + {HOUR} * ({per_hour}))"

    def unpriced(p: str, x: str) -> str:
        return f"({p}.cum_u + {p}.slope_u * ({x} - {p}.lo))"

    # A life's stretch starts at its launch when it was launched in the window: its minimum is due there.
    minimum = (
        f"CASE WHEN s.ended = 1 AND s.a = s.l AND s.t - s.l < {found.longest_minimum} AND a.minimum > s.t - s.l"
        " THEN a.slope_a * (a.minimum - (s.t - s.l)) ELSE 0 END"
    )
    crossed = "c.n * e.cum_a + {HOUR} * (e.hp * (c.n * e.q - c.q) + c.n * e.s1 - c.q * e.s0)".replace(
        "{HOUR}", str(HOUR)
    )
    # Each life's stretch, from the point of its start to the point of its end (or its first bucket's end).
    stretch = f"""
    SELECT {carried}s.ja, 0, '', '',
        CASE WHEN s.jz = s.ja THEN {at("z", "s.z")} ELSE 0 END - {at("a", "s.a")} + {minimum},
        CASE WHEN s.jz = s.ja THEN s.z ELSE 0 END - s.a,
        CASE WHEN s.jz = s.ja THEN {unpriced("z", "s.z")} ELSE 0 END - {unpriced("a", "s.a")}
    FROM spans s JOIN points a ON a.k = s.k AND a.i = s.ia JOIN points z ON z.k = s.k AND z.i = s.iz"""  # noqa: S608
    last_bucket = f"""
    SELECT {carried}s.jz, 0, '', '', {at("z", "s.z")}, s.z, {unpriced("z", "s.z")}
    FROM spans s JOIN points z ON z.k = s.k AND z.i = s.iz
    WHERE s.jz > s.ja"""  # noqa: S608
    crossing = f"""
    -- At a bucket bound the lives crossing it end one bucket and start the next.
    SELECT {_dims("c", group)}c.j - side.shift, 0, '', '', side.sign * ({crossed}), side.sign * c.n * e.x,
        side.sign * c.n * e.cum_u
    FROM crossings c JOIN edges e ON e.k = c.k AND e.j = c.j
    CROSS JOIN (VALUES (1, 1), (-1, 0)) AS side (sign, shift)"""  # noqa: S608
    off_grid_edges = f"""
    SELECT {carried}e.j - side.shift, 0, '', '', side.sign * {HOUR} * e.hp, 0, 0
    FROM spans s JOIN edges e ON e.k = s.k AND e.r > 0 AND e.hp <> 0 AND s.a < e.x AND e.x < s.z
        AND e.r > s.phase
    CROSS JOIN (VALUES (1, 1), (-1, 0)) AS side (sign, shift)"""  # noqa: S608
    off_grid_steps = f"""
    SELECT {carried}width_bucket(g.x - 1, {_array(found.lows, "bigint")}) - 1, 0, '', '', {HOUR} * g.delta, 0, 0
    FROM spans s JOIN off_grid g ON g.k = s.k AND g.x > s.a AND g.x <= s.z AND g.r > s.phase"""  # noqa: S608
    # Only branches that can have rows are written: PostgreSQL plans a branch over an empty array as it does
    # any other (1 to 3 ms each, more than running it for a page of hosts). A window of one bucket has no
    # bound to cross; few keys step off the hour grid.
    branches = [stretch]
    branches += [last_bucket, crossing] if _crosses(found) else []
    branches += [off_grid_edges] if found.edges["k"] else []
    branches += [off_grid_steps] if found.off_grid["k"] else []
    return "\n    UNION ALL".join(branches)  # noqa: S608
