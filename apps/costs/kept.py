"""Kept pool and cluster costs: what lists of pools and clusters show without accruing every host of the page.

A pool's cost this month accrues the life of each of its hosts (apps.costs.accrual): on a page of 50 pools of
100 hosts, or on the clusters of a 100,000-host fleet, that is 60 ms to seconds at every request. So each
pool's and cluster's figures (run-rate, cost this month, hosts of unknown price) are kept, with the moment
they were computed, and a list shows them with that moment as ``as_of``. They are computed again, at the
request, for the objects of the page whose kept figures

- are missing, or from another month, or in another report currency (DCP_CURRENCY);
- are older than DCP_COST_FIGURES_MAX_AGE seconds;
- were computed from other cost inputs: a price or exchange rate added, changed or removed, a price coming
  into force or ending, a physical machine changing state or cost since (``inputs_signature``);
- have hosts changed since (created, launched, terminated, moved: every write of a host stamps its
  ``updated_at``), allowing CHANGE_MARGIN for a write that was still in flight while they were computed.

So a list never shows a run-rate the fleet no longer has: a scale-out or a new price shows at the next
request. What the kept figures leave out is only the time passing since ``as_of`` (at most
DCP_COST_FIGURES_MAX_AGE; the beat task keep_group_costs refreshes every pool and cluster each
DCP_COST_FIGURES_INTERVAL seconds). A pool's or cluster's own page computes live.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import DatabaseError, transaction
from django.db.models import Count, Max, Q
from django.utils import timezone

from apps.costs import services
from apps.costs.models import ExchangeRate, KeptGroupCost, Price
from apps.costs.periods import local_day, this_month
from apps.inventory.models import Cluster, Host, MachineInterval, ServicePool

#: A host write stamped this long before the figures were computed may not have been committed when they read.
CHANGE_MARGIN = timedelta(seconds=30)
#: The beat task computes this many pools or clusters at a time (bounded memory on any fleet).
CHUNK = 500
logger = logging.getLogger(__name__)
MODELS = {"pool": ServicePool, "cluster": Cluster}


def inputs_signature(now: datetime) -> str:
    """What the cost inputs are now, as a string: equal signatures mean the same catalog, rates and machine
    intervals, and the same prices in force (three aggregate queries)."""
    prices = Price.objects.aggregate(
        n=Count("pk"),
        changed=Max("updated_at"),
        began=Max("valid_from", filter=Q(valid_from__lte=now)),
        ended=Max("valid_to", filter=Q(valid_to__lte=now)),
    )
    day = local_day(now)
    exchange = ExchangeRate.objects.aggregate(
        n=Count("pk"), changed=Max("updated_at"), began=Max("valid_from", filter=Q(valid_from__lte=day))
    )
    intervals = MachineInterval.objects.aggregate(n=Count("pk"), began=Max("started_at"), ended=Max("ended_at"))
    parts = []
    for found in (prices, exchange, intervals):
        parts.extend(_stamp(found[key]) for key in sorted(found))
    return "|".join(parts)


def _stamp(value) -> str:
    return "" if value is None else value.isoformat() if hasattr(value, "isoformat") else str(value)


def _changed_since(dimension: str, kept: dict[int, KeptGroupCost]) -> set[int]:
    """The objects among kept whose hosts were written since (CHANGE_MARGIN before) their figures were computed:
    one query, served by the hosts' updated_at index."""
    if not kept:
        return set()
    field = services.GROUP_FIELD[dimension]
    oldest = min(row.computed_at for row in kept.values()) - CHANGE_MARGIN
    last = (
        Host.objects.filter(**{f"{field}__in": list(kept)}, updated_at__gte=oldest)
        .values_list(field)
        .annotate(last=Max("updated_at"))
        .order_by()
    )
    return {pk for pk, at in last if at >= kept[pk].computed_at - CHANGE_MARGIN}


def _as_json(cost: services.GroupCost, as_of: datetime) -> dict:
    return {**cost.as_json(), "as_of": as_of.isoformat().replace("+00:00", "Z")}


def _row(dimension: str, pk: int, cost: services.GroupCost, now: datetime, inputs: str) -> KeptGroupCost:
    return KeptGroupCost(
        dimension=dimension,
        object_id=pk,
        currency=cost.currency,
        run_rate=str(cost.run_rate),
        this_month=str(cost.this_month),
        unpriced_hosts=cost.unpriced_hosts,
        month_start=this_month(now)[0],
        inputs=inputs,
        computed_at=now,
    )


def _cost(row: KeptGroupCost) -> services.GroupCost:
    return services.GroupCost(row.currency, Decimal(row.run_rate), Decimal(row.this_month), row.unpriced_hosts)


def store(dimension: str, found: dict[int, services.GroupCost], now: datetime, inputs: str) -> None:
    """Keep these figures (computed at now from these inputs), replacing what was kept of the same objects.

    Never fails the request that computed them: a write the database refuses (SQLite busy with a worker's
    write past its timeout) only means they are computed again next time."""
    rows = [_row(dimension, pk, cost, now, inputs) for pk, cost in sorted(found.items())]
    try:
        with transaction.atomic():
            KeptGroupCost.objects.bulk_create(
                rows,
                update_conflicts=True,
                unique_fields=["dimension", "object_id"],
                update_fields=[
                    "currency", "run_rate", "this_month", "unpriced_hosts", "month_start", "inputs", "computed_at"
                ],
            )  # fmt: skip
    except DatabaseError as exc:
        logger.warning("Cost figures of %s %s not kept: %s", dimension, sorted(found), exc)


def page_costs(dimension: str, ids: list[int], now: datetime | None = None) -> dict[int, dict]:
    """The figures a list shows of these pools or clusters, each with its ``as_of``: kept ones where still
    true (see the module's rules), the others computed now and kept."""
    now = now or timezone.now()
    if not ids:
        return {}
    inputs = inputs_signature(now)
    month = this_month(now)[0]
    oldest = now - timedelta(seconds=settings.DCP_COST_FIGURES_MAX_AGE)
    kept = {
        row.object_id: row
        for row in KeptGroupCost.objects.filter(dimension=dimension, object_id__in=ids)
        if row.currency == settings.DCP_CURRENCY
        and row.month_start == month
        and row.inputs == inputs
        and oldest <= row.computed_at <= now
    }
    for pk in _changed_since(dimension, kept):
        del kept[pk]
    answer = {pk: _as_json(_cost(row), row.computed_at) for pk, row in kept.items()}
    missing = [pk for pk in ids if pk not in kept]
    if missing:
        found = services.group_costs(dimension, missing, now)
        store(dimension, found, now, inputs)
        answer.update({pk: _as_json(cost, now) for pk, cost in found.items()})
    return answer


def live_costs(dimension: str, pk: int, now: datetime | None = None) -> dict:
    """One pool's or cluster's figures computed now (its own page); nothing is written on a read of one."""
    now = now or timezone.now()
    return _as_json(services.group_costs(dimension, [pk], now)[pk], now)


def keep_all(now: datetime | None = None) -> int:
    """Compute and keep every pool's and cluster's figures (the beat task); how many were kept."""
    now = now or timezone.now()
    inputs = inputs_signature(now)
    kept = 0
    for dimension, model in MODELS.items():
        ids = list(model.objects.order_by("pk").values_list("pk", flat=True))
        for start in range(0, len(ids), CHUNK):
            found = services.group_costs(dimension, ids[start : start + CHUNK], now)
            store(dimension, found, now, inputs)
            kept += len(found)
        KeptGroupCost.objects.filter(dimension=dimension).exclude(object_id__in=model.objects.values("pk")).delete()
    return kept
