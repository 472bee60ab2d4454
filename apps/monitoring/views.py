"""GET /metrics: DCP's metrics in the Prometheus text format, for a Prometheus server only.

Who may scrape: with DCP_METRICS_TOKEN set, a request that sends ``Authorization: Bearer <token>``
(compared in constant time); without it, only a request made on this machine (a loopback address)
and not passed on by a proxy (no X-Forwarded-For, Forwarded or X-Real-IP: a proxy on the same
machine would otherwise make every outside request look local). Anyone else gets 401 (token set) or
403 (loopback only), with a message saying how to get in. The metrics name clusters, pools and
provider accounts, never credentials. The endpoint is outside the REST API and its OpenAPI schema.
"""

from __future__ import annotations

import hmac
import ipaddress

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from apps.monitoring.collector import StateCollector
from apps.monitoring.http import process_registry

#: Headers a proxy adds to a request it passes on.
PROXY_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED", "HTTP_X_REAL_IP")


def refusal(request) -> JsonResponse | None:
    """The answer to a request that may not read the metrics, or None when it may."""
    token = settings.DCP_METRICS_TOKEN
    if token:
        scheme, _, given = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode()):
            return None
        answer = JsonResponse(
            {"detail": "Send the metrics token (DCP_METRICS_TOKEN) as 'Authorization: Bearer <token>'."}, status=401
        )
        answer["WWW-Authenticate"] = 'Bearer realm="dcp-metrics"'
        return answer
    if _loopback(request.META.get("REMOTE_ADDR", "")) and not any(request.META.get(h) for h in PROXY_HEADERS):
        return None
    return JsonResponse(
        {"detail": "Metrics are served only on this machine; set DCP_METRICS_TOKEN to let a Prometheus server in."},
        status=403,
    )


def _loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def state_registry() -> CollectorRegistry:
    """A registry of the metrics read from the database and broker at this scrape."""
    registry = CollectorRegistry()
    registry.register(StateCollector())
    return registry


@never_cache
@require_safe
def metrics(request):
    """The metrics of this web instance and of the fleet, in the Prometheus text format (version 0.0.4, which
    every Prometheus 2 and 3 reads)."""
    refused = refusal(request)
    if refused is not None:
        return refused
    body = generate_latest(process_registry()) + generate_latest(state_registry())
    return HttpResponse(body, content_type=CONTENT_TYPE_PLAIN_0_0_4)
