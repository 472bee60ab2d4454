"""Keystone v3 for the OpenStack emulator: version document, password authentication, the service catalog."""

from __future__ import annotations

import secrets
import time
import uuid
from datetime import UTC, datetime

from emulators.base import Request, Response
from emulators.openstack.catalog import (
    DOMAIN,
    PROJECT,
    REGION,
    TOKEN_LIFETIME,
    USERNAME,
)


class KeystoneMixin:
    """Keystone's part of the emulator: it answers on ``/identity``."""

    def _identity_version(self, base: str, *, listing: bool) -> Response:
        version = {
            "id": "v3.14",
            "status": "stable",
            "updated": "2020-04-07T00:00:00Z",
            "links": [{"rel": "self", "href": f"{base}/identity/v3/"}],
            "media-types": [{"base": "application/json", "type": "application/vnd.openstack.identity-v3+json"}],
        }
        if listing:
            return Response.json(300, {"versions": {"values": [version]}})
        return Response.json(200, {"version": version})

    def _unauthorized(self) -> Response:
        return Response.json(
            401,
            {
                "error": {
                    "code": 401,
                    "message": "The request you have made requires authentication.",
                    "title": "Unauthorized",
                }
            },
            {"WWW-Authenticate": "Keystone uri='/identity'"},
        )

    def _token_valid(self, token: str) -> bool:
        with self.lock:
            expires = self.tokens.get(token)
        return expires is not None and expires > time.monotonic()

    def _authenticate(self, request: Request, base: str) -> Response:
        """Password authentication scoped to the one project, as Keystone v3 does it."""
        try:
            auth = (request.json() or {})["auth"]
            identity = auth["identity"]
            user = identity["password"]["user"]
            domain = user.get("domain") or {}
            key = (user.get("name", ""), (domain.get("name") or domain.get("id") or "").lower())
            given = user.get("password", "")
            scope = (auth.get("scope") or {}).get("project") or {}
        except (KeyError, TypeError, ValueError):
            return Response.json(
                400, {"error": {"code": 400, "message": "Invalid authentication request.", "title": "Bad Request"}}
            )
        known = self.users.get(key)
        project_domain = scope.get("domain") or {}
        project_ok = scope.get("id") == self.project_id or (
            scope.get("name") == PROJECT
            and (project_domain.get("name") or project_domain.get("id") or "").lower() == DOMAIN.lower()
        )
        if "password" not in identity.get("methods", []) or known is None or not project_ok:
            return self._unauthorized()
        if not secrets.compare_digest(known.encode(), str(given).encode()):
            return self._unauthorized()
        token = secrets.token_urlsafe(32)
        issued = datetime.now(UTC)
        with self.lock:
            now = time.monotonic()
            self.tokens = {known: expires for known, expires in self.tokens.items() if expires > now}
            self.tokens[token] = now + TOKEN_LIFETIME.total_seconds()
        domain_ref = {"id": DOMAIN.lower(), "name": DOMAIN}
        body = {
            "token": {
                "methods": ["password"],
                "user": {"id": self.user_id, "name": USERNAME, "domain": domain_ref, "password_expires_at": None},
                "project": {"id": self.project_id, "name": PROJECT, "domain": domain_ref},
                "roles": [{"id": uuid.uuid5(uuid.NAMESPACE_URL, "member").hex, "name": "member"}],
                "issued_at": issued.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "expires_at": (issued + TOKEN_LIFETIME).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "is_domain": False,
                "catalog": [
                    self._catalog_entry("identity", "keystone", f"{base}/identity"),
                    self._catalog_entry("compute", "nova", f"{base}/compute/v2.1"),
                    self._catalog_entry("image", "glance", f"{base}/image"),
                ],
            }
        }
        return Response.json(201, body, {"X-Subject-Token": token})

    def _catalog_entry(self, service_type: str, name: str, url: str) -> dict:
        return {
            "id": uuid.uuid5(uuid.NAMESPACE_URL, service_type).hex,
            "type": service_type,
            "name": name,
            "endpoints": [
                {
                    "id": uuid.uuid5(uuid.NAMESPACE_URL, f"{service_type}-{interface}").hex,
                    "interface": interface,
                    "region": REGION,
                    "region_id": REGION,
                    "url": url,
                }
                for interface in ("public", "internal", "admin")
            ],
        }
