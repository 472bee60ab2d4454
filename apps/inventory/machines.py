"""Rules of the physical inventory that the API and the console share, the bulk import, and machines' history.

Every change of a machine's state or monthly cost (by hand, by import, or by the
physical driver allocating and freeing it) ends its open MachineInterval and
opens the next one here, so a machine's cost can be split exactly between its
hosts and idle time.
"""

from collections import Counter
from collections.abc import Iterable
from datetime import datetime

from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Greatest
from django.utils import timezone
from rest_framework import serializers

from apps.core import audit
from apps.inventory.choices import MachineState
from apps.inventory.models import MachineInterval, PhysicalMachine

MAX_IMPORT_ROWS = 10_000
#: Columns no two machines may share; an import checks them for all its rows at once.
UNIQUE_COLUMNS = ("hostname", "ip")


def check_state_change(machine, state: str) -> str:
    """free ↔ maintenance by hand; allocated only by the engine."""
    current = machine.state if machine is not None else MachineState.FREE
    if state == current:
        return state
    if state == MachineState.ALLOCATED:
        raise serializers.ValidationError("A machine becomes allocated by scaling a pool, not by hand.")
    if current == MachineState.ALLOCATED:
        raise serializers.ValidationError(
            "This machine is allocated to a pool; scale that host in to free it before changing its state."
        )
    return state


def rows_from_request(request, what: str = "machines") -> list[dict]:
    """The objects of an import request: a JSON list of objects, or CSV rows."""
    rows = request.data
    if not isinstance(rows, list) or not rows:
        raise serializers.ValidationError(
            {"detail": [f"Send a non-empty JSON list of {what}, or CSV (Content-Type: text/csv) with a header row."]}
        )
    if len(rows) > MAX_IMPORT_ROWS:
        raise serializers.ValidationError({"detail": [f"At most {MAX_IMPORT_ROWS} {what} per import."]})
    if not all(isinstance(row, dict) for row in rows):
        raise serializers.ValidationError({"detail": ["Every item of the list must be a JSON object."]})
    return rows


def import_machines(rows: list[dict], serializer_class, context: dict) -> list[PhysicalMachine]:
    """Check every row, then create them all, or none: a 400 names each bad row (from 1) and field.

    The work is linear in the rows and its queries do not grow with them: the
    rows are checked by one serializer (``many``), with the provider accounts
    read once and uniqueness checked in the import and against the inventory
    with one query per unique column; then one INSERT of the machines and one
    of their audit entries. ``serializer_class`` validates one row (given, not
    imported, because the API module imports this one).
    """
    checker = serializer_class(data=rows, many=True, context={**context, "bulk_import": True})
    errors: dict = {}
    if not checker.is_valid():
        # Keyed by row index, or a list of one entry per row, depending on DRF's LIST_SERIALIZER_ERRORS_AS_DICT.
        found = checker.errors.items() if isinstance(checker.errors, dict) else enumerate(checker.errors)
        errors = {str(i + 1): row_errors for i, row_errors in found if row_errors}
    errors.update(_repeated(rows))
    if not errors:
        errors = _taken(checker.validated_data)
    if errors:
        raise serializers.ValidationError({"rows": errors})
    user = context["request"].user
    with transaction.atomic():
        created = PhysicalMachine.objects.bulk_create([PhysicalMachine(**data) for data in checker.validated_data])
        # bulk_create does not call save(), which opens a machine's first interval: open them here, together.
        record_intervals(created)
        audit.record_created(user, created)
    return created


def _repeated(rows: list[dict]) -> dict:
    """{column: [message]} for values that more than one row of the import gives."""
    errors = {}
    for column in UNIQUE_COLUMNS:
        counts = Counter(str(row[column]) for row in rows if row.get(column) not in (None, ""))
        repeated = sorted(value for value, count in counts.items() if count > 1)
        if repeated:
            errors[column] = [f"Listed more than once: {', '.join(repeated)}."]
    return errors


def _taken(machines: list[dict]) -> dict:
    """{row: {column: [message]}} for rows whose unique values machines in the inventory already have."""
    errors: dict = {}
    for column in UNIQUE_COLUMNS:
        values = [str(data[column]) for data in machines]
        taken = set(PhysicalMachine.objects.filter(**{f"{column}__in": values}).values_list(column, flat=True))
        for i, value in enumerate(values):
            if value in taken:
                message = f"A physical machine with this {column} already exists: {value}."
                errors.setdefault(str(i + 1), {})[column] = [message]
    return errors


def close_intervals(machine_ids: Iterable[int], at: datetime | None = None) -> None:
    """End the open intervals of these machines at ``at`` (now by default)."""
    at = at or timezone.now()
    # An interval never ends before it started, even if this worker's clock is behind the one that opened it.
    MachineInterval.objects.filter(machine_id__in=list(machine_ids), ended_at__isnull=True).update(
        ended_at=Greatest(Value(at), F("started_at"))
    )


def record_intervals(machines: list, at: datetime | None = None) -> None:
    """The machines changed at ``at``: end their open intervals and open new ones as they are now."""
    at = at or timezone.now()
    close_intervals([machine.pk for machine in machines], at)
    MachineInterval.objects.bulk_create(
        MachineInterval(
            machine_id=machine.pk,
            provider_id=machine.provider_id,
            hostname=machine.hostname,
            machine_class=machine.machine_class,
            idc=machine.idc,
            state=machine.state,
            monthly_cost=machine.monthly_cost,
            client_token=machine.client_token if machine.state == MachineState.ALLOCATED else "",
            started_at=at,
        )
        for machine in machines
    )
