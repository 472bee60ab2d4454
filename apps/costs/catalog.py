"""The price catalog: which row prices a host at each moment, and adding rows without overlap.

A host's key is its provider account, region (the template's, else the
account's), instance type (the template's) and zone. Rows of the account's own
beat rows of its kind, a named region beats any region, a named zone beats any
zone. A new price closes the row in force at its start; it never re-prices time
before its start. A provider sync adds rows the same way, naming itself in
``source`` (``sync:...``) and stamping ``confirmed_at``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Q

from apps.core import audit
from apps.core.exceptions import ServiceError
from apps.core.models import AuditAction
from apps.costs.choices import PriceSource, SyncOutcome
from apps.costs.models import Price
from apps.costs.periods import seconds


@dataclass(frozen=True)
class PriceKey:
    """What a host is priced by."""

    provider_id: int
    kind: str
    region: str
    instance_type: str
    zone: str

    def rank(self, row: Price) -> int | None:
        """How specifically row prices this key (higher wins), or None when it does not apply."""
        if row.instance_type != self.instance_type or row.region not in ("", self.region):
            return None
        if row.zone not in ("", self.zone):
            return None
        if row.provider_id is not None and row.provider_id != self.provider_id:
            return None
        if row.provider_id is None and row.kind != self.kind:
            return None
        return 4 * (row.provider_id is not None) + 2 * bool(row.region) + bool(row.zone)


def host_key(host) -> PriceKey:
    """The price key of a host (its template and account loaded)."""
    account, template = host.provider, host.template
    return PriceKey(account.pk, account.kind, template.region or account.region, template.instance_type, host.zone)


def candidates(keys: list[PriceKey], start: datetime | None = None, end: datetime | None = None) -> list[Price]:
    """Every row that may price one of keys somewhere in [start, end) (one query)."""
    rows = Price.objects.filter(instance_type__in={key.instance_type for key in keys})
    if end is not None:
        rows = rows.filter(valid_from__lt=end)
    if start is not None:
        rows = rows.filter(Q(valid_to__isnull=True) | Q(valid_to__gt=start))
    return list(rows.order_by("valid_from", "pk"))


def timeline(key: PriceKey, rows: list[Price], lo: Decimal, hi: Decimal) -> list[tuple[Decimal, Decimal, Price | None]]:
    """[lo, hi) (epoch seconds) cut where the price of key changes: (from, to, row in force or None)."""
    ranked = [(rank, row) for row in rows if (rank := key.rank(row)) is not None]
    cuts = {lo, hi}
    for _, row in ranked:
        for moment in (row.valid_from, row.valid_to):
            if moment is not None and lo < (point := seconds(moment)) < hi:
                cuts.add(point)
    points = sorted(cuts)
    pieces = []
    for start, stop in zip(points, points[1:], strict=False):
        live = [
            (rank, row)
            for rank, row in ranked
            if seconds(row.valid_from) <= start and (row.valid_to is None or seconds(row.valid_to) > start)
        ]
        pieces.append((start, stop, max(live, key=lambda item: item[0])[1] if live else None))
    return pieces


def in_force(key: PriceKey, rows: list[Price], moment: datetime) -> Price | None:
    """The row pricing key at moment, among rows."""
    at = seconds(moment)
    return timeline(key, rows, at, at + 1)[0][2]


def _lock(key: tuple) -> None:
    """Serialise writers of one key: two prices of one key added at once must not both pass the overlap check."""
    if connection.vendor == "postgresql":
        digest = hashlib.blake2b(repr(key).encode(), digest_size=8).digest()
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [int.from_bytes(digest, "big", signed=True)])
    # SQLite (the embedded default) runs one writing transaction at a time already.


def _same_key(values: dict):
    return Price.objects.filter(
        provider=values.get("provider"),
        kind=values.get("kind", ""),
        region=values.get("region", ""),
        instance_type=values["instance_type"],
        zone=values.get("zone", ""),
    )


def _when(moment: datetime | None) -> str:
    return moment.isoformat() if moment is not None else "open-ended"


def add_price(values: dict, user) -> Price:
    """Add a catalog row; the row of its key in force at its start is closed there. Raises ServiceError on overlap.

    The new row must reach at least as far as the row it closes (a row inside
    another's validity would leave the rest of it unpriced) and must end before
    any later row of its key starts.
    """
    start, end = values["valid_from"], values.get("valid_to")
    with transaction.atomic():
        _lock(_key_of(values))
        rows = list(_same_key(values).order_by("valid_from"))
        for row in rows:
            if row.valid_from == start:
                raise ServiceError(
                    f"Price {row.pk} of this key already starts at {_when(start)}; change or delete it instead.",
                    field="valid_from",
                )
            if start < row.valid_from and (end is None or end > row.valid_from):
                raise ServiceError(
                    f"Price {row.pk} of this key starts at {_when(row.valid_from)}; set valid_to to that "
                    f"moment or earlier.",
                    field="valid_to",
                )
        current = next((r for r in rows if r.valid_from < start and (r.valid_to is None or r.valid_to > start)), None)
        if current is not None:
            if end is not None and (current.valid_to is None or end < current.valid_to):
                raise ServiceError(
                    f"Price {current.pk} of this key is in force until {_when(current.valid_to)}; a new price "
                    f"closes it at its start and must last at least as long (leave valid_to empty).",
                    field="valid_to",
                )
            before = audit.snapshot(current)
            current.valid_to = start
            current.save(update_fields=["valid_to", "updated_at"])
            audit.record(user, AuditAction.UPDATE, current, before, audit.snapshot(current))
        return Price.objects.create(**values)


def check_new_end(price: Price, end: datetime | None) -> None:
    """A row's valid_to may move only as far as the next row of its key starts."""
    if end is not None and end <= price.valid_from:
        raise ServiceError("valid_to must be after valid_from.", field="valid_to")
    later = (
        _same_key({f: getattr(price, f) for f in ("provider", "kind", "region", "instance_type", "zone")})
        .filter(valid_from__gt=price.valid_from)
        .order_by("valid_from")
        .first()
    )
    if later is not None and (end is None or end > later.valid_from):
        raise ServiceError(
            f"Price {later.pk} of this key starts at {_when(later.valid_from)}; valid_to may be at most that.",
            field="valid_to",
        )


#: What makes two observations of a key's price the same price.
PRICE_TERMS = ("currency", "hourly_price", "billing", "minimum_seconds")


def _key_of(values: dict) -> tuple:
    return tuple(str(values.get(name, "")) for name in ("provider", "kind", "region", "instance_type", "zone"))


def _row_at(values: dict, at: datetime) -> Price | None:
    """The row of values' key in force at ``at``."""
    return _same_key(values).filter(valid_from__lte=at).filter(Q(valid_to__isnull=True) | Q(valid_to__gt=at)).first()


def observe(values: dict, user, at: datetime) -> Price:
    """Record a price a provider sync found at ``at`` (``values`` has the key, terms and ``source``).

    The same terms as the row in force confirm it (``confirmed_at``); other terms start a new row at
    ``at``, closing the old one there, so every earlier period keeps the price it had.
    """
    with transaction.atomic():
        _lock(_key_of(values))
        current = _row_at(values, at)
        if current is not None and all(getattr(current, term) == values[term] for term in PRICE_TERMS):
            current.confirmed_at = at
            current.save(update_fields=["confirmed_at", "updated_at"])
            return current
        return add_price({**values, "valid_from": at, "valid_to": None, "confirmed_at": at}, user)


def record_found(values: dict, at: datetime, *, fill_only: bool = False) -> tuple[str, Price, Price | None]:
    """What a provider sync does with a price it found at ``at``: (outcome, row in force after, row before).

    The price is observed (confirmed, changed or added), except where the key's row in force was set by
    a person (``manual``, ``import``): a sync never overrides a negotiated or hand-set price. With
    ``fill_only`` (a fallback source whose data may be older than any row in force) only a key with no
    row in force gets one. Unchanged keys answer ``kept``.
    """
    with transaction.atomic():
        _lock(_key_of(values))
        current = _row_at(values, at)
        if current is not None and (fill_only or not current.source.startswith(PriceSource.SYNC_PREFIX)):
            return SyncOutcome.KEPT, current, current
        row = observe(values, None, at)
        if current is None or row.pk != current.pk:
            # The sync is who made the row: the audit log names it by its source.
            audit.record(None, AuditAction.CREATE, row, None, audit.snapshot(row), username=values["source"])
    if current is None:
        return SyncOutcome.ADDED, row, None
    return (SyncOutcome.CONFIRMED if row.pk == current.pk else SyncOutcome.CHANGED), row, current
