"""Cost where people already look: each host's rate and cost so far, pools' and clusters' run-rate and
month, and what a scale plan adds. Each takes a page of objects and answers in a constant number of queries.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import connection
from django.db.models import Count, F, Value
from django.db.models.functions import Coalesce, NullIf

from apps.costs import rates
from apps.costs.accrual import Window, accrue, keys_of
from apps.costs.catalog import PriceKey, candidates, host_key, in_force
from apps.costs.currencies import round_money
from apps.costs.periods import next_month, seconds, this_month
from apps.costs.pieces import PRICED
from apps.costs.scope import Scope
from apps.inventory.choices import MachineState
from apps.inventory.models import HOURS_PER_MONTH, Host, MachineInterval
from apps.providers.choices import ProviderKind

RATE_PLACES = Decimal("0.000001")
UNPRICED_HOURS_PLACES = Decimal("0.0001")


@dataclass
class HostCost:
    """A host's price in force (None: unknown), its currency, its cost so far (None if partly unknown)."""

    hourly_price: Decimal | None
    currency: str
    cost: Decimal | None = None
    unpriced_hours: Decimal = Decimal(0)


def month_hours(moment: datetime) -> Decimal:
    """Hours of the calendar month holding moment (DCP_TIME_ZONE): a machine's monthly_cost per hour divides by it."""
    start = this_month(moment)[0]
    return (seconds(next_month(start)) - seconds(start)) / 3600


def _machine_costs(hosts: list[Host]) -> dict[int, Decimal]:
    """The monthly_cost of each physical host's machine, in its latest allocation (one query)."""
    wanted = {(h.batch_token, h.instance_id): h.pk for h in hosts if h.batch_token}
    if not wanted:
        return {}
    found = MachineInterval.objects.filter(
        state=MachineState.ALLOCATED,
        client_token__in={token for token, _ in wanted},
        hostname__in={name for _, name in wanted},
    ).order_by("started_at")
    return {
        wanted[(iv.client_token, iv.hostname)]: iv.monthly_cost
        for iv in found
        if (iv.client_token, iv.hostname) in wanted
    }


def _prices(hosts: list[Host], now: datetime) -> tuple[dict[int, HostCost], set[int]]:
    """Each host's price in force, and which physical hosts have no machine DCP knows."""
    physical = [h for h in hosts if h.provider.kind == ProviderKind.PHYSICAL]
    cloud = [h for h in hosts if h.provider.kind != ProviderKind.PHYSICAL]
    machines = _machine_costs(physical)
    found = {}
    for host in physical:
        monthly = machines.get(host.pk)
        hourly = (monthly / month_hours(now)).quantize(RATE_PLACES) if monthly else None
        found[host.pk] = HostCost(hourly, settings.DCP_CURRENCY)
    rows = candidates([host_key(h) for h in cloud]) if cloud else []
    in_force_at = {}  # the hosts of a page share a few keys, and the live ones the moment
    for host in cloud:
        moment = host.terminated_at - timedelta(microseconds=1) if host.terminated_at else now
        key = host_key(host)
        if (key, moment) not in in_force_at:
            in_force_at[key, moment] = in_force(key, rows, moment)
        row = in_force_at[key, moment]
        found[host.pk] = HostCost(row.hourly_price, row.currency) if row else HostCost(None, settings.DCP_CURRENCY)
    return found, {host.pk for host in physical if host.pk not in machines}


def host_costs(hosts: list[Host], now: datetime) -> dict[int, HostCost]:
    """Rate and cost so far of each host, each in its own price's currency: a query or two per currency on the page."""
    found, without_machine = _prices(hosts, now)
    by_currency = defaultdict(list)
    for host in hosts:
        if host.launched_at is not None:
            by_currency[found[host.pk].currency].append(host)
        else:
            # Never got an instance: costs nothing, a known zero shown as the currency shows money (0.00 USD).
            found[host.pk].cost = round_money(Decimal(0), found[host.pk].currency)
            found[host.pk].unpriced_hours = Decimal(0).quantize(UNPRICED_HOURS_PLACES)
    for currency, group in by_currency.items():
        start = min(h.launched_at for h in group)
        window = Window(start, now, [(start, now)], currency, now)
        sums: dict[int, dict] = defaultdict(
            lambda: {"amount": Decimal(0), "unpriced": Decimal(0), "unconverted": False}
        )
        physical = any(h.provider.kind == ProviderKind.PHYSICAL for h in group)
        scope = Scope(narrow={"host": [h.pk for h in group]})
        for charge in accrue(scope, ["host"], window, machines=physical, keys=keys_of(group)):
            entry = sums[charge.group[0]]
            entry["unpriced"] += charge.unpriced
            if charge.state == PRICED:
                entry["amount"] += charge.amount
            elif charge.amount:
                entry["unconverted"] = True
        for host in group:
            entry = sums[host.pk]
            if host.pk in without_machine:
                # A physical host whose machine DCP does not know costs an unknown amount, never nothing: its
                # life is unpriced, as its pool counts it among its unpriced hosts.
                entry["unpriced"] += max(seconds(host.terminated_at or now) - seconds(host.launched_at), 0)
            found[host.pk].unpriced_hours = (entry["unpriced"] / 3600).quantize(UNPRICED_HOURS_PLACES)
            # Unknown is never shown as a figure: a cost with unpriced or unconvertible time in it is unknown.
            known = not entry["unpriced"] and not entry["unconverted"]
            found[host.pk].cost = round_money(entry["amount"] / 3600, currency) if known else None
    return found


@dataclass
class GroupCost:
    """A pool's or cluster's run-rate (per hour, hosts live now) and cost this month, in DCP_CURRENCY."""

    currency: str
    run_rate: Decimal = Decimal(0)
    this_month: Decimal = Decimal(0)
    unpriced_hosts: int = 0

    def as_json(self) -> dict:
        """The fields a pool or cluster shows."""
        return {
            "currency": self.currency,
            "run_rate_per_hour": str(round_money(self.run_rate, self.currency)),
            "cost_this_month": str(round_money(self.this_month / 3600, self.currency)),
            "unpriced_hosts": self.unpriced_hosts,
        }


#: How hosts reach a pool and a cluster.
GROUP_FIELD = {"pool": "pool_id", "cluster": "pool__cluster_id"}


def _run_rates(hosts, dimension: str, found: dict[int, GroupCost], now: datetime) -> None:
    """Add each live host's price in force now, converted at today's rate, to its group's run-rate."""
    live = hosts.filter(launched_at__isnull=False, terminated_at__isnull=True)
    counted = (
        live.exclude(provider__kind=ProviderKind.PHYSICAL)
        .annotate(
            group=F(GROUP_FIELD[dimension]), region=Coalesce(NullIf("template__region", Value("")), "provider__region")
        )
        .values_list("group", "provider_id", "provider__kind", "region", "template__instance_type", "zone")
        .annotate(n=Count("pk"))
        .order_by()
    )
    counted = [(row[0], PriceKey(*row[1:6]), row[6]) for row in counted]
    rows = candidates([key for _, key, _ in counted]) if counted else []
    convert = rates.conversions({row.currency for row in rows}, settings.DCP_CURRENCY)
    for group, key, n in counted:
        row = in_force(key, rows, now)
        factor = convert[row.currency].factor(seconds(now)) if row else None
        if factor is None:
            found[group].unpriced_hosts += n
        else:
            found[group].run_rate += row.hourly_price * factor * n
    hours = month_hours(now)
    for group, monthly, unpriced in _physical_monthly(live.filter(provider__kind=ProviderKind.PHYSICAL), dimension):
        found[group].run_rate += (monthly or Decimal(0)) / hours
        found[group].unpriced_hosts += unpriced


def _physical_monthly(hosts, dimension: str) -> list[tuple[int, Decimal | None, int]]:
    """Per group: the monthly_cost summed over these physical hosts' machines, and how many hosts have none.

    One query, grouped in the database: a host's machine is the one of its latest allocated stretch whose
    batch (client token) and hostname are the host's batch token and instance id, as _machine_costs reads it
    (a host without a batch token has none).
    """
    host_sql, params = (
        hosts.annotate(col_group=F(GROUP_FIELD[dimension]))
        .values_list("col_group", "batch_token", "instance_id")
        .order_by()
        .query.sql_with_params()
    )
    intervals = MachineInterval._meta.db_table
    sql = f"""
        SELECT h.col_group, SUM(m.monthly_cost),
               SUM(CASE WHEN m.monthly_cost IS NULL OR m.monthly_cost = 0 THEN 1 ELSE 0 END)
        FROM ({host_sql}) AS h
        LEFT JOIN (
            SELECT client_token, hostname, monthly_cost,
                   ROW_NUMBER() OVER (PARTITION BY client_token, hostname ORDER BY started_at DESC) AS latest
            FROM {intervals} WHERE state = %s
        ) AS m ON m.latest = 1 AND h.batch_token <> '' AND m.client_token = h.batch_token
              AND m.hostname = h.instance_id
        GROUP BY h.col_group
    """  # noqa: S608 - table names from the models, values as parameters
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, MachineState.ALLOCATED])
        return [(group, _decimal(monthly), int(unpriced)) for group, monthly, unpriced in cursor.fetchall()]


def _decimal(value) -> Decimal | None:
    """A sum as the database gives it (SQLite: a float or a string) as a Decimal."""
    return None if value is None else Decimal(str(value))


def hosts_run_rate(pool_id: int, host_ids: list[int], now: datetime) -> GroupCost:
    """The run-rate these hosts of one pool add now (what removing them saves), as a pool's run-rate is counted."""
    found = {pool_id: GroupCost(settings.DCP_CURRENCY)}
    _run_rates(Host.objects.filter(pool_id=pool_id, pk__in=host_ids), "pool", found, now)
    return found[pool_id]


def run_rates(dimension: str, ids: list[int], now: datetime) -> dict[int, GroupCost]:
    """Only the run-rate (per hour, hosts live now) and unpriced hosts of these pools or clusters: what a
    dashboard polls, without the month's accrual."""
    found = {pk: GroupCost(settings.DCP_CURRENCY) for pk in ids}
    if ids:
        _run_rates(Host.objects.filter(**{f"{GROUP_FIELD[dimension]}__in": ids}), dimension, found, now)
    return found


def group_costs(dimension: str, ids: list[int], now: datetime) -> dict[int, GroupCost]:
    """Run-rate and cost this month of these pools or clusters (dimension "pool" or "cluster")."""
    found = run_rates(dimension, ids, now)
    if not ids:
        return found
    start, end = this_month(now)
    window = Window(start, end, [(start, end)], settings.DCP_CURRENCY, now)
    for charge in accrue(Scope(narrow={dimension: ids}), [dimension], window):
        if charge.state == PRICED:
            found[charge.group[0]].this_month += charge.amount
    return found


def placement_key(template, zone: str) -> PriceKey:
    """The price key of hosts of a template in a zone (its account loaded)."""
    account = template.provider
    return PriceKey(account.pk, account.kind, template.region or account.region, template.instance_type, zone)


def physical_monthly(template, zone: str, count: int) -> Decimal | None:
    """The monthly_cost of the count free machines the physical driver would allocate (None: too few, or unknown)."""
    from apps.providers.drivers.base import NodeSpec
    from apps.providers.drivers.physical import PhysicalDriver

    spec = NodeSpec.from_template(template, zone=zone)
    # The driver allocates the cheapest matching machines first.
    costs = list(
        PhysicalDriver(template.provider)
        .matching_free(spec)
        .order_by("monthly_cost", "pk")
        .values_list("monthly_cost", flat=True)[:count]
    )
    if len(costs) < count or not all(costs):
        return None
    return sum(costs, Decimal(0))


def _placement_rate(placement, template, rows, convert, now: datetime) -> Decimal | None:
    """What one placement adds per hour in DCP_CURRENCY (None: unknown)."""
    if template.provider.kind == ProviderKind.PHYSICAL:
        monthly = physical_monthly(template, placement.zone, placement.count)
        return None if monthly is None else monthly / month_hours(now)
    row = in_force(placement_key(template, placement.zone), rows, now)
    factor = convert[row.currency].factor(seconds(now)) if row else None
    return None if factor is None else row.hourly_price * factor * placement.count


def plan_cost(placements: list, templates: dict, now: datetime) -> dict:
    """What a scale-out plan adds per hour and per month (HOURS_PER_MONTH hours), per template, in DCP_CURRENCY."""
    keys = [
        placement_key(t, p.zone)
        for p in placements
        if (t := templates[p.template]).provider.kind != ProviderKind.PHYSICAL
    ]
    rows = candidates(keys) if keys else []
    convert = rates.conversions({row.currency for row in rows}, settings.DCP_CURRENCY)
    currency = settings.DCP_CURRENCY
    per_template: dict[int, dict] = {}
    for placement in placements:
        template = templates[placement.template]
        entry = per_template.setdefault(
            template.pk, {"template": template.pk, "template_name": template.name, "hosts": 0, "rate": Decimal(0)}
        )
        entry["hosts"] += placement.count
        rate = _placement_rate(placement, template, rows, convert, now)
        if rate is None:
            entry["unpriced_hosts"] = entry.get("unpriced_hosts", 0) + placement.count
        else:
            entry["rate"] += rate
    lines, total, unpriced = [], Decimal(0), 0
    for entry in per_template.values():
        rate = entry.pop("rate")
        total += rate
        unpriced += entry.setdefault("unpriced_hosts", 0)
        lines.append(
            {
                **entry,
                "per_hour": str(round_money(rate, currency)),
                "per_month": str(round_money(rate * HOURS_PER_MONTH, currency)),
            }
        )
    return {
        "currency": currency,
        "per_hour": str(round_money(total, currency)),
        "per_month": str(round_money(total * HOURS_PER_MONTH, currency)),
        "unpriced_hosts": unpriced,
        "templates": lines,
    }
