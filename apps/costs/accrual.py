"""Accrual: what each host's life costs in a window, computed in the database.

The rules (the contract of the design's Cost section, and of the reference the tests check against):

- A cloud host costs from ``launched_at`` (its instance's launch) until ``terminated_at`` (now while it
  lives), whatever its status; a host that never got an instance (no ``launched_at``) costs nothing.
- At each instant the most specific catalog row in force prices it (apps.costs.catalog). Where no row is
  in force its time is *unpriced*: counted in ``unpriced_host_hours``, never as 0.
- ``per_second``: each second of the life costs the hourly price in force in that second / 3600.
  A life shorter than ``minimum_seconds`` (of the row in force at launch) is billed up to the minimum once
  the host is terminated: the shortfall at the price in force at launch, charged at the launch instant.
  A live host has billed what it has run so far.
- ``per_hour``: the life is cut into hours from its launch; each started hour is billed whole at the price
  in force at its start, charged at its start. Where a row's billing changes mid-life, each stretch
  follows its own row's rule.
- A physical machine costs its ``monthly_cost`` spread evenly over the seconds of each calendar month in
  DCP_TIME_ZONE, in DCP_CURRENCY. While allocated the cost is its host's; while free or in maintenance (or
  allocated to no host DCP knows) it is idle cost of its provider account. A ``monthly_cost`` of 0 is unknown.
- A window [start, end) gets every charge whose instant (a second, an hour's start, a minimum's launch)
  falls inside it. A charge is converted to the report currency with the rate in force on its day; a
  charge with no rate for its day is reported by currency and day and left out of the converted sums.
- Money stays Decimal (exact numeric in PostgreSQL) until the answer rounds it once.

The heavy part is one SQL statement: the hosts in scope against the pieces of their price key
(apps.costs.pieces). On PostgreSQL per-second charges and unpriced time are read off each key's
cumulative curve (apps.costs.curves: two binary searches per life and bucket); per-hour charges (price ×
the started hours, counted with integer ceilings), amounts with no rate and the minimum's shortfall are
joined piece by piece, as everything is on SQLite. Physical machines' state intervals are joined to month
cells. Its cost grows with hosts, never its number of queries.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, localcontext
from typing import NamedTuple

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q, Value
from django.db.models.functions import Coalesce, NullIf

from apps.costs import rates
from apps.costs.catalog import PriceKey, candidates, host_key
from apps.costs.curves import PRECISION, curves, curves_sql, on_curves_sql, spans_sql
from apps.costs.periods import seconds
from apps.costs.pieces import COLUMNS, NO_RATE, TYPES, UNPRICED, Builder, Piece, micro
from apps.costs.scope import Scope
from apps.inventory.choices import MachineState
from apps.inventory.models import Host, MachineInterval
from apps.providers.choices import ProviderKind

#: How each dimension is read from a host (h), its pool (sp), template (tp) and account (a).
DIMENSION_SQL = {
    "cluster": "sp.cluster_id",
    "pool": "h.pool_id",
    "provider": "h.provider_id",
    "template": "h.template_id",
    "kind": "a.kind",
    "zone": "h.zone",
    # A host's zone is its data centre: the physical driver puts a machine's IDC there.
    "idc": "h.zone",
    "instance_type": "tp.instance_type",
    "host": "h.id",
}

#: Microseconds in a second and in an hour: the database counts time in whole microseconds.
MICRO = 1_000_000
HOUR = 3600 * MICRO

#: How the accrual statement is planned on PostgreSQL (see accrue).
PLANNER_SETTINGS = "; ".join(
    f"SET LOCAL {name} = {value}"
    for name, value in (("work_mem", "'64MB'"), ("enable_nestloop", "off"), ("jit", "off"), ("enable_sort", "off"))
)

HOST_JOINS = """
    JOIN inventory_servicepool sp ON sp.id = h.pool_id
    JOIN providers_machinetemplate tp ON tp.id = h.template_id
    JOIN providers_cloudaccount a ON a.id = h.provider_id"""


class Charge(NamedTuple):
    """One line of the database's answer: a group's amount in one bucket, state, missing currency and day.

    ``amount`` is in money × 3600 (price per hour × seconds): divided once, with the final rounding.
    (The database sums microseconds; the conversion back to seconds divides by 10**6, exactly.)
    """

    group: tuple
    bucket: int
    state: int
    currency: str
    day: str
    amount: Decimal
    seconds: Decimal
    unpriced: Decimal = Decimal(0)


@dataclass(frozen=True)
class Window:
    """What to accrue: [start, end) cut into buckets, in report currency, as of now."""

    start: datetime
    end: datetime
    buckets: list[tuple[datetime, datetime]]
    currency: str
    now: datetime


#: Read per-second charges off cumulative curves where the database can (PostgreSQL); tests switch it off
#: to check the portable join (what SQLite, the embedded default, runs) against the same reference.
USE_CURVES = True


def curves_mode(dialect) -> bool:
    """Whether this statement reads per-second charges off curves (apps.costs.curves)."""
    return USE_CURVES and dialect.postgres


class Dialect:
    """The few SQL expressions PostgreSQL and SQLite (the embedded default) spell differently."""

    def __init__(self):
        self.postgres = connection.vendor == "postgresql"

    def epoch(self, sql: str) -> str:
        """Whole microseconds since the epoch of a timestamp (exact on PostgreSQL, to the microsecond on SQLite)."""
        if self.postgres:
            return f"CAST(EXTRACT(EPOCH FROM {sql}) * 1000000 AS BIGINT)"
        return f"CAST(ROUND((julianday({sql}) - 2440587.5) * 86400000000.0) AS INTEGER)"

    def least(self, a: str, b: str) -> str:
        """The smaller of two numbers."""
        return f"LEAST({a}, {b})" if self.postgres else f"MIN({a}, {b})"

    def greatest(self, a: str, b: str) -> str:
        """The larger of two numbers."""
        return f"GREATEST({a}, {b})" if self.postgres else f"MAX({a}, {b})"

    def time(self, moment: datetime):
        """A datetime as a query parameter."""
        return connection.ops.adapt_datetimefield_value(moment)


def _literal(value) -> str:
    """A piece's value as SQL text: numbers and the validated currency/day strings only, never user text."""
    if value is None:
        return "NULL"
    if isinstance(value, bool | int):
        return str(int(value))
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, str) and all(c.isalnum() or c == "-" for c in value):
        return f"'{value}'"
    raise ValueError(f"not a piece value: {value!r}")


def _values(name: str, pieces: list[Piece]) -> str:
    """A CTE holding the pieces; a dummy row that matches nothing when there are none."""
    rows = [piece.row() for piece in pieces] or [(-2, 0, 0, 0, 0, None, 0, 0, "", "", None)]
    body = ",\n".join("(" + ", ".join(_literal(v) for v in row) + ")" for row in rows)
    casts = ", ".join(f"CAST(column{i + 1} AS {t}) AS {c}" for i, (c, t) in enumerate(zip(COLUMNS, TYPES, strict=True)))
    # Only numbers and checked codes go in (see _literal).
    return f"{name} AS (SELECT {casts} FROM (VALUES {body}) AS v)"  # noqa: S608


def _keys(scope: Scope, window: Window) -> tuple[list[PriceKey], list[tuple[int, str, int]]]:
    """The price keys of the cloud hosts in scope whose lives touch the window, and which (template, zone)
    has which key (one query)."""
    found = (
        Host.objects.filter(scope.q(), launched_at__isnull=False, launched_at__lt=window.end)
        .filter(Q(terminated_at__isnull=True) | Q(terminated_at__gt=window.start))
        .exclude(provider__kind=ProviderKind.PHYSICAL)
        .annotate(region=Coalesce(NullIf("template__region", Value("")), "provider__region"))
        .values_list("template_id", "zone", "provider_id", "provider__kind", "region", "template__instance_type")
        .distinct()
        .order_by()
    )
    keys: dict[PriceKey, int] = {}
    placed = []
    for template_id, zone, *key in found:
        index = keys.setdefault(PriceKey(key[0], key[1], key[2], key[3], zone), len(keys))
        placed.append((template_id, zone, index))
    return list(keys), placed


def keys_of(hosts) -> tuple[list[PriceKey], list[tuple[int, str, int]]]:
    """_keys() for hosts already loaded with their template and account, all in the window: their cloud
    hosts' price keys, and which (template, zone) has which."""
    keys: dict[PriceKey, int] = {}
    placed = {}
    for host in hosts:
        if host.provider.kind == ProviderKind.PHYSICAL:
            continue
        key = host_key(host)
        placed.setdefault((host.template_id, host.zone), keys.setdefault(key, len(keys)))
    return list(keys), [(template_id, zone, index) for (template_id, zone), index in placed.items()]


def accrue(
    scope: Scope,
    dimensions: list[str],
    window: Window,
    machines: bool = True,
    keys: tuple[list[PriceKey], list[tuple[int, str, int]]] | None = None,
) -> list[Charge]:
    """The charges of the hosts in scope in the window, summed by dimensions and bucket.

    ``machines=False`` says the caller knows no host in scope is a physical machine (a page of cloud hosts):
    the statement then leaves out the machines' intervals, which cost a few milliseconds to plan. ``keys``:
    what _keys() would read, from a caller that holds the hosts with their templates and accounts already
    (see keys_of()).
    """
    keys, placed = keys if keys is not None else _keys(scope, window)
    rows = candidates(keys, window.start, window.end) if keys else []
    convert = rates.conversions({row.currency for row in rows} | {settings.DCP_CURRENCY}, window.currency)
    builder = Builder(window.start, window.end, [b[0] for b in window.buckets], convert)
    pieces = [piece for index, key in enumerate(keys) for piece in builder.key_pieces(index, key, rows)]
    cells = builder.machine_cells(settings.DCP_CURRENCY) if machines else []
    sql, params = _host_sql(placed, pieces, cells, scope, dimensions, window, machines)
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # Grouping a year of lives by pool sorts a few hundred thousand rows: in memory, not on disk. The
            # planner cannot see into the VALUES lists and guesses one row for each join, so it would look
            # hosts up one by one in nested loops (measured: twice as slow at 100,000 host lives); and its
            # guesses would then make JIT compile the statement, which costs more than running it. And it
            # would sort a few hundred thousand charges to group them where hashing them is twice as fast.
            cursor.execute(PLANNER_SETTINGS)
        cursor.execute(sql, params)
        return _charges(cursor.fetchall(), len(dimensions))


def _decimal(value) -> Decimal:
    """A sum as the driver returns it (Decimal or int on PostgreSQL, maybe float on SQLite), as Decimal."""
    if value is None:
        return Decimal(0)
    return value if isinstance(value, Decimal) else Decimal(value if isinstance(value, int) else str(value))


def _charges(rows: list[tuple], width: int) -> list[Charge]:
    """The rows of the answer; amounts and lengths come in microseconds and go back to seconds exactly."""
    found = []
    with localcontext() as context:
        context.prec = PRECISION
        for row in rows:
            amount, secs, unpriced = row[width + 4 : width + 7]
            found.append(
                Charge(
                    tuple(row[:width]),
                    row[width],
                    row[width + 1],
                    row[width + 2] or "",
                    row[width + 3] or "",
                    _decimal(amount).scaleb(-6),
                    _decimal(secs).scaleb(-6),
                    _decimal(unpriced).scaleb(-6),
                )
            )
    return found


def _joins(dimensions: list[str], scope: Scope) -> str:
    """The joins of a host to its pool, template and account that the dimensions and the scope need."""
    needed = " ".join(DIMENSION_SQL[name] for name in dimensions) + scope.sql()[0]
    joins = [line for line in HOST_JOINS.strip().splitlines() if f" {line.split()[2]}." in f" {needed}"]
    return "\n    ".join(joins)


def _host_sql(placed, pieces, cells, scope, dimensions, window: Window, with_machines: bool) -> tuple[str, list]:
    d = Dialect()
    dims = [DIMENSION_SQL[name] for name in dimensions]
    selected = "".join(f"{sql} AS d{i}, " for i, sql in enumerate(dims))
    carried = "".join(f"l.d{i}, " for i in range(len(dims)))
    carried_iv = "".join(f"iv.d{i}, " for i in range(len(dims)))
    scope_sql, scope_params = scope.sql()
    key_rows = ", ".join("(%s, %s, %s)" for _ in placed) or "(-1, '', -1)"
    key_params = [value for row in placed for value in row]
    start, end, now = d.time(window.start), d.time(window.end), d.time(window.now)
    overlap = f"{d.least('l.t', 'p.hi')} - {d.greatest('l.l', 'p.lo')}"
    # Hours started since launch, as integer ceilings: ceil(x / H) = (x + H - 1) / H for x >= 0.
    last_hour = f"(({d.least('l.t', 'p.hi')} - l.l + {HOUR - 1}) / {HOUR})"
    first_hour = f"(({d.greatest('l.l', 'p.lo')} - l.l + {HOUR - 1}) / {HOUR})"
    hours = f"({last_hour} - {first_hour})"
    iv_secs = f"{d.least('iv.e', 'c.hi')} - {d.greatest('iv.s', 'c.lo')}"
    group = "".join(f"d{i}, " for i in range(len(dims)))
    if curves_mode(d):
        # Per-second and per-hour charges, minimums and unpriced time come off the curves, with every life's
        # seconds; the join below adds only what the curves cannot hold: amounts with no rate, by day.
        joined = [piece for piece in pieces if piece.state == NO_RATE]
        joined_secs, joined_unpriced = "0", "0"
        lows = [micro(seconds(lo)) for lo, _ in window.buckets] + [micro(seconds(window.end))]
        found = curves(pieces, lows)
        curves_cte, spans_cte = f"\n{curves_sql(found)},", f"\n{spans_sql(found, group)},"
        on_curves = on_curves_sql(group, found)
    else:
        joined, joined_secs, curves_cte, spans_cte, on_curves = pieces, overlap, "", "", ""
        joined_unpriced = f"CASE WHEN p.state = {UNPRICED} THEN {overlap} ELSE 0 END"
    longest_minimum = max((piece.minimum for piece in joined), default=0) * 1_000_000
    # Pieces joined one by one: everything without curves; with them, only amounts with no rate (if any).
    by_piece = f"""
    SELECT {carried}p.bucket, p.state, p.currency, p.day,
        CASE WHEN p.price IS NULL THEN NULL WHEN p.hourly = 0 THEN p.price * ({overlap})
            ELSE p.price * {HOUR} * {hours} END AS amount,
        {joined_secs} AS secs, {joined_unpriced} AS unpriced
    FROM lives l JOIN pieces p ON p.k = l.k AND p.lo < l.t AND p.hi > l.l AND l.t > l.l"""  # noqa: S608
    minimums = f"""
    SELECT {carried}p.bucket, p.state, p.currency, p.day, p.price * (p.minimum * 1000000 - (l.t - l.l)), 0, 0
    FROM lives l JOIN pieces p ON p.k = l.k AND p.lo <= l.l AND l.l < p.hi
    WHERE l.ended = 1 AND l.t - l.l < {longest_minimum} AND p.hourly = 0 AND p.price IS NOT NULL
        AND p.minimum * 1000000 > l.t - l.l"""  # noqa: S608
    machines = f"""
    SELECT {carried_iv}c.bucket, CASE WHEN iv.cost > 0 THEN c.state ELSE 1 END,
        CASE WHEN iv.cost > 0 THEN c.currency ELSE '' END, CASE WHEN iv.cost > 0 THEN c.day ELSE '' END,
        CASE WHEN iv.cost > 0 THEN iv.cost * c.price * {HOUR} * ({iv_secs}) / c.month_us END,
        {iv_secs}, CASE WHEN iv.cost > 0 THEN 0 ELSE {iv_secs} END
    FROM machines iv JOIN cells c ON c.lo < iv.e AND c.hi > iv.s AND iv.e > iv.s"""  # noqa: S608
    branches = [by_piece] if joined else []
    branches += [on_curves] if on_curves else []
    branches += [minimums] if joined else []
    with_machines = with_machines or not branches
    charges = "\n    UNION ALL".join([*branches, machines] if with_machines else branches)
    physical = "SELECT id FROM providers_cloudaccount WHERE kind = %s"
    physical = f"= ANY(ARRAY({physical}))" if d.postgres else f"IN ({physical})"
    machines_cte = f"""
machines AS (
    SELECT {selected}iv.monthly_cost AS cost, {d.epoch("iv.started_at")} AS s,
        {d.epoch("COALESCE(iv.ended_at, %s)")} AS e
    FROM inventory_machineinterval iv
    JOIN inventory_host h ON h.batch_token = iv.client_token AND h.instance_id = iv.hostname
        AND h.provider_id = iv.provider_id {HOST_JOINS}
    WHERE iv.state = %s AND iv.client_token <> ''
        AND iv.started_at < %s AND (iv.ended_at IS NULL OR iv.ended_at > %s){scope_sql}
        -- Implied by the join (machines are physical accounts'); lets the hosts be read by index, not all.
        AND h.provider_id {physical}
),"""  # noqa: S608
    # Table names, column expressions and numbers are DCP's own; every value from outside is a parameter.
    sql = f"""
WITH keys (template_id, zone, k) AS (VALUES {key_rows}),
{_values("pieces", joined)},{curves_cte}
{_values("cells", cells)},
lives AS (
    SELECT {selected}keys.k AS k, {d.epoch("h.launched_at")} AS l, {d.epoch("COALESCE(h.terminated_at, %s)")} AS t,
        CASE WHEN h.terminated_at IS NULL THEN 0 ELSE 1 END AS ended
    FROM inventory_host h
    {_joins(dimensions, scope)}
    -- Only cloud hosts have keys: physical machines are costed by their state intervals below.
    JOIN keys ON keys.template_id = h.template_id AND keys.zone = h.zone
    WHERE h.launched_at IS NOT NULL AND h.launched_at < %s
        AND (h.terminated_at IS NULL OR h.terminated_at > %s){scope_sql}
),{machines_cte if with_machines else ""}{spans_cte}
charges ({group}bucket, state, currency, day, amount, secs, unpriced) AS ({charges}
)
SELECT {group}bucket, state, currency, day, SUM(amount), SUM(secs), SUM(unpriced)
FROM charges GROUP BY {group}bucket, state, currency, day
"""  # noqa: S608
    params = [*key_params, now, end, start, *scope_params]
    if with_machines:
        params += [now, MachineState.ALLOCATED, end, start, *scope_params, ProviderKind.PHYSICAL]
    return sql, params


def accrue_idle(provider_ids: Iterable[int] | None, window: Window) -> list[Charge]:
    """Idle cost of physical machines by provider account: free, in maintenance, or allocated to no known host."""
    convert = rates.conversions({settings.DCP_CURRENCY}, window.currency)
    builder = Builder(window.start, window.end, [b[0] for b in window.buckets], convert)
    d = Dialect()
    intervals = MachineInterval.objects.filter(started_at__lt=window.end).filter(
        Q(ended_at__isnull=True) | Q(ended_at__gt=window.start)
    )
    if provider_ids is not None:
        intervals = intervals.filter(provider_id__in=list(provider_ids))
    scope_sql, scope_params = intervals.values("pk").query.sql_with_params()
    iv_secs = f"{d.least('iv.e', 'c.hi')} - {d.greatest('iv.s', 'c.lo')}"
    sql = f"""
WITH {_values("cells", builder.machine_cells(settings.DCP_CURRENCY))},
machines AS (
    SELECT iv.provider_id AS d0, iv.monthly_cost AS cost, {d.epoch("iv.started_at")} AS s,
        {d.epoch("COALESCE(iv.ended_at, %s)")} AS e
    FROM inventory_machineinterval iv
    -- NULLIF: a stretch with no batch must not scan every host without one.
    LEFT JOIN inventory_host h ON iv.state = %s AND h.batch_token = NULLIF(iv.client_token, '')
        AND h.instance_id = iv.hostname AND h.provider_id = iv.provider_id
    WHERE iv.id IN ({scope_sql}) AND h.id IS NULL
),
charges AS (
    SELECT iv.d0, c.bucket, CASE WHEN iv.cost > 0 THEN c.state ELSE 1 END AS state,
        CASE WHEN iv.cost > 0 THEN c.currency ELSE '' END AS currency,
        CASE WHEN iv.cost > 0 THEN c.day ELSE '' END AS day,
        CASE WHEN iv.cost > 0 THEN iv.cost * c.price * {HOUR} * ({iv_secs}) / c.month_us END AS amount,
        {iv_secs} AS secs, CASE WHEN iv.cost > 0 THEN 0 ELSE {iv_secs} END AS unpriced
    FROM machines iv JOIN cells c ON c.lo < iv.e AND c.hi > iv.s AND iv.e > iv.s
)
SELECT d0, bucket, state, currency, day, SUM(amount), SUM(secs), SUM(unpriced)
FROM charges GROUP BY d0, bucket, state, currency, day
"""  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(sql, [d.time(window.now), MachineState.ALLOCATED, *scope_params])
        return _charges(cursor.fetchall(), 1)
