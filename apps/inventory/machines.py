"""Rules of the physical inventory that the API and the console share, and the history of machines' states.

Every change of a machine's state or monthly cost (by hand, by import, or by the
physical driver allocating and freeing it) ends its open MachineInterval and
opens the next one here, so a machine's cost can be split exactly between its
hosts and idle time.
"""

from collections.abc import Iterable
from datetime import datetime

from django.db.models import F, Value
from django.db.models.functions import Greatest
from django.utils import timezone
from rest_framework import serializers

from apps.inventory.choices import MachineState
from apps.inventory.models import MachineInterval

MAX_IMPORT_ROWS = 10_000


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
