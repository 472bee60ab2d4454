"""/healthz: whether this process can reach its database and broker (for load balancers and compose)."""

from django.db import connection
from django.http import JsonResponse
from django.views.decorators.http import require_GET

from dcp.celery import app


@require_GET
def healthz(request):
    """200 with {"database": "ok", "broker": "ok"}, or 503 naming what is down. Reveals nothing else."""
    checks = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception:  # noqa: BLE001 - any failure means unhealthy
        checks["database"] = "down"
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        checks["broker"] = "ok"
    except Exception:  # noqa: BLE001
        checks["broker"] = "down"
    healthy = all(value == "ok" for value in checks.values())
    return JsonResponse(checks, status=200 if healthy else 503)
