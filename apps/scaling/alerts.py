"""Alert payloads a policy's webhook takes, and how the webhook knows the sender holds the policy's token.

Two payloads: Prometheus Alertmanager's webhook body (version 4: ``status``, ``alerts`` each with
``status``, ``labels.alertname``, ``fingerprint``) and a plain one for scripts and other monitors
(``{"alertname": "...", "status": "firing" | "resolved"}``). The sender proves it holds the token
either as ``Authorization: Bearer <token>`` (Alertmanager's ``http_config.authorization``) or by
signing the body, ``X-DCP-Signature: sha256=<HMAC-SHA256 of the body under the token, hex>``; a
signature that is sent must match, so a body changed on its way is refused even with the token.
"""

import hashlib
import hmac
from dataclasses import dataclass

from apps.core.exceptions import ServiceError
from apps.scaling.choices import TriggerSource

FIRING = "firing"
RESOLVED = "resolved"
STATUSES = (FIRING, RESOLVED)
SIGNATURE_HEADER = "X-DCP-Signature"
#: Alerts one payload may carry (Alertmanager's max_alerts caps its own; beyond this is not one group).
MAX_ALERTS = 1000


@dataclass(frozen=True)
class Alert:
    """One alert of a payload."""

    name: str
    status: str
    fingerprint: str = ""

    def as_json(self) -> dict:
        """As a trigger records it."""
        return {"alertname": self.name, "status": self.status, "fingerprint": self.fingerprint}


def authentic(secret: str, authorization: str, signature: str | None, body: bytes) -> bool:
    """Whether the request holds the token: a matching bearer token or body signature, and no wrong signature."""
    key = secret.encode()
    if signature is not None:
        expected = "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()
        return hmac.compare_digest(signature.strip().encode(), expected.encode())
    scheme, _, token = authorization.partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), key)


def parse(body) -> tuple[str, list[Alert]]:
    """The payload's source and alerts; a ServiceError (400) saying what is wrong with it."""
    if not isinstance(body, dict):
        raise ServiceError("The payload is a JSON object: Alertmanager's webhook body, or {alertname, status}.")
    if "alerts" in body:
        return TriggerSource.ALERTMANAGER, _alertmanager(body["alerts"])
    name, status = body.get("alertname"), body.get("status")
    if not isinstance(name, str) or not name.strip():
        raise ServiceError('Give the alert\'s name as "alertname" (or send Alertmanager\'s body with "alerts").')
    return TriggerSource.JSON, [Alert(name.strip()[:200], _status(status), _text(body.get("fingerprint")))]


def _alertmanager(alerts) -> list[Alert]:
    if not isinstance(alerts, list) or not alerts:
        raise ServiceError('"alerts" is a non-empty list of Alertmanager alerts.')
    if len(alerts) > MAX_ALERTS:
        raise ServiceError(f'"alerts" holds at most {MAX_ALERTS} alerts; this one has {len(alerts)}.')
    found = []
    for number, alert in enumerate(alerts):
        labels = alert.get("labels") if isinstance(alert, dict) else None
        name = labels.get("alertname") if isinstance(labels, dict) else None
        if not isinstance(name, str) or not name:
            raise ServiceError(f"Alert {number} has no labels.alertname: each alert of the payload needs one.")
        found.append(Alert(name[:200], _status(alert.get("status")), _text(alert.get("fingerprint"))))
    return found


def _status(value) -> str:
    if value not in STATUSES:
        raise ServiceError(f'An alert\'s "status" is "firing" or "resolved", not {str(value)[:50]!r}.')
    return value


def _text(value) -> str:
    return value[:64] if isinstance(value, str) else ""
