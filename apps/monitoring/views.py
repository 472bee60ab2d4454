"""GET /metrics: DCP's metrics in the Prometheus text format, for a Prometheus server and its operators.

Who may scrape (any one suffices):
- a request with ``Authorization: Bearer <DCP_METRICS_TOKEN>`` (compared in constant time);
- a request with a system administrator's API token (``Authorization: Token <key>`` or ``Bearer <key>``,
  as Prometheus' ``authorization`` block sends it), or a system administrator's console session;
- a request made directly from an address in DCP_METRICS_ALLOWED_NETWORKS (loopback by default), not
  passed on by a proxy (no X-Forwarded-For, Forwarded or X-Real-IP: a proxy would otherwise make every
  outside request look like its own address).
Anyone else gets 401 saying how to get in; a valid token or session of someone who is not a system
administrator gets 403. The metrics name clusters, pools, templates and provider accounts, never
credentials or hosts. The endpoint is outside the REST API and its OpenAPI schema.
"""

from __future__ import annotations

import hmac
import ipaddress
from functools import lru_cache

from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import generate_latest
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from rest_framework.exceptions import AuthenticationFailed

from apps.monitoring.collector import StateCollector
from apps.monitoring.exposition import text_of
from apps.monitoring.http import process_registry

#: Headers a proxy adds to a request it passes on.
PROXY_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED", "HTTP_X_REAL_IP")
HOW = (
    "Send the metrics token (DCP_METRICS_TOKEN) or a system administrator's API token as "
    "'Authorization: Bearer <token>', or scrape from an address in DCP_METRICS_ALLOWED_NETWORKS."
)


def refusal(request) -> JsonResponse | None:
    """The answer to a request that may not read the metrics, or None when it may."""
    scheme, _, given = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
    given = given.strip()
    if scheme.lower() not in {"bearer", "token"} or not given:
        session_user = getattr(request, "user", None)
        if session_user is not None and session_user.is_authenticated:
            return None if session_user.is_system_admin else _forbidden()
        return None if _allowed_address(request) else _unauthorized(HOW)
    token = settings.DCP_METRICS_TOKEN
    if token and hmac.compare_digest(given.encode(), token.encode()):
        return None
    user = _token_user(given)
    if user is None:
        return _unauthorized("The token was refused (unknown, expired or revoked). " + HOW)
    return None if user.is_system_admin else _forbidden()


def _token_user(key: str):
    """The user of a valid API token, or None."""
    from apps.accounts.authentication import TokenAuthentication

    try:
        return TokenAuthentication().authenticate_credentials(key)[0]
    except AuthenticationFailed:
        return None


def _unauthorized(detail: str) -> JsonResponse:
    answer = JsonResponse({"detail": detail}, status=401)
    answer["WWW-Authenticate"] = 'Bearer realm="dcp-metrics"'
    return answer


def _forbidden() -> JsonResponse:
    return JsonResponse({"detail": "Only system administrators may read the metrics."}, status=403)


@lru_cache(maxsize=4)
def _networks(allowed: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(network, strict=False) for network in allowed)


def _allowed_address(request) -> bool:
    """Whether the request came straight (no proxy header) from an allowed network."""
    if any(request.META.get(header) for header in PROXY_HEADERS):
        return False
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    if getattr(address, "ipv4_mapped", None):
        address = address.ipv4_mapped
    return any(address in network for network in _networks(tuple(settings.DCP_METRICS_ALLOWED_NETWORKS)))


@never_cache
@require_safe
def metrics(request):
    """The metrics of this web instance and of the fleet, in the Prometheus text format (version 0.0.4, which
    every Prometheus 2 and 3 reads)."""
    refused = refusal(request)
    if refused is not None:
        return refused
    body = generate_latest(process_registry()) + text_of(StateCollector().collect())
    return HttpResponse(body, content_type=CONTENT_TYPE_PLAIN_0_0_4)
