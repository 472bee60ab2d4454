"""Rules of the physical inventory that the API and the console share."""

from rest_framework import serializers

from apps.inventory.choices import MachineState

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


def rows_from_request(request) -> list[dict]:
    """The machines of an import request: a JSON list of objects, or CSV rows."""
    rows = request.data
    if not isinstance(rows, list) or not rows:
        raise serializers.ValidationError(
            {"detail": ["Send a non-empty JSON list of machines, or CSV (Content-Type: text/csv) with a header row."]}
        )
    if len(rows) > MAX_IMPORT_ROWS:
        raise serializers.ValidationError({"detail": [f"At most {MAX_IMPORT_ROWS} machines per import."]})
    if not all(isinstance(row, dict) for row in rows):
        raise serializers.ValidationError({"detail": ["Every item of the list must be a JSON object."]})
    return rows
