"""The OpenStack emulator: routing by service prefix, and Nova v2.1 (servers, flavors, zones, microversions)."""

from __future__ import annotations

import itertools
import re
import secrets
import time
import uuid
from typing import Any
from urllib.parse import urlencode

from emulators.base import Emulator, Faults, Request, Response
from emulators.openstack.catalog import (
    DOMAIN,
    FLAVOR_EMBEDDED_FROM,
    FLAVORS,
    IMAGES,
    MAX_LIMIT,
    MAX_MICROVERSION,
    MIN_MICROVERSION,
    NETWORK_ID,
    NETWORK_NAME,
    NO_VALID_HOST,
    NOVA_FAULT_NAMES,
    PASSWORD,
    USERNAME,
    ZONES,
    _now_iso,
    _version,
)
from emulators.openstack.identity import KeystoneMixin
from emulators.openstack.images import GlanceMixin
from emulators.openstack.keypairs import NovaKeypairsMixin


class OpenStackEmulator(KeystoneMixin, GlanceMixin, NovaKeypairsMixin, Emulator):
    """Keystone, Nova and Glance in memory, speaking their real JSON wire formats."""

    name = "openstack"

    def __init__(
        self,
        faults: Faults | None = None,
        *,
        max_microversion: str = MAX_MICROVERSION,
    ):
        super().__init__(faults)
        #: The highest compute microversion advertised; lower it to act as an older Nova.
        self.max_microversion = max_microversion
        self.users = {(USERNAME, DOMAIN.lower()): PASSWORD}
        self.project_id = uuid.uuid5(uuid.NAMESPACE_URL, "dcp-emulator-project").hex
        self.user_id = uuid.uuid5(uuid.NAMESPACE_URL, "dcp-emulator-user").hex
        self.reset_state()

    # --- Emulator hooks --------------------------------------------------------------
    def reset_state(self) -> None:
        """Forget every server and token."""
        self.servers: dict[str, dict[str, Any]] = {}
        self.keypairs: dict[str, dict[str, str]] = {}
        self.tokens: dict[str, float] = {}
        self.sequence = itertools.count(1)

    def action_of(self, request: Request) -> str:
        """The call with ids folded (``GET /servers/{id}``); version discovery is e.g. ``GET /compute``."""
        match = re.match(r"^/(identity|compute|image)(/v[0-9.]+)?(/.*)?$", request.path.rstrip("/"))
        if match is None:
            return f"{request.method} {request.path}"
        if not match.group(3):
            return f"{request.method} /{match.group(1)}"  # version discovery
        return f"{request.method} {re.sub(r'/[0-9a-f-]{32,36}(?=/|$)', '/{id}', match.group(3))}"

    def throttled(self, request: Request) -> Response:
        """Nova's over-limit answer (Keystone and Glance answer 429 the same way)."""
        body = {"overLimit": {"code": 429, "message": "This request was rate-limited.", "retryAfter": "1"}}
        if request.path.startswith("/identity"):
            body = {"error": {"code": 429, "message": "Too many requests.", "title": "Too Many Requests"}}
        return Response.json(429, body, {"Retry-After": "1"})

    def server_error(self, request: Request) -> Response:
        """A 503 in the answering service's own error format."""
        message = "The server is currently unavailable. Please try again at a later time."
        if request.path.startswith("/identity"):
            return Response.json(503, {"error": {"code": 503, "message": message, "title": "Service Unavailable"}})
        return Response.json(503, {"serviceUnavailable": {"code": 503, "message": message}})

    def instances(self) -> list[dict]:
        """Every server ever created here, deleted ones included, with its address, cores and memory (GiB)."""
        return [
            {
                "id": server["id"],
                "name": server["name"],
                "state": {"BUILD": "pending", "ACTIVE": "running", "ERROR": "error", "DELETED": "terminated"}[
                    self._status(server)
                ],
                "status": self._status(server),
                "zone": server["zone"],
                "tags": dict(server["metadata"]),
                "private_ip": server["ip"] if server["network"] else None,
                "public_ip": None,
                "cpu": FLAVORS[server["flavor_id"]][1],
                "memory_gb": FLAVORS[server["flavor_id"]][2] / 1024,
            }
            for server in self._ordered()
        ]

    # --- routing ---------------------------------------------------------------------
    def handle(self, request: Request) -> Response:
        """Route by service prefix; everything but discovery and authentication needs a token."""
        path = request.path.rstrip("/")
        base = self._base(request)
        if path in ("/identity", "/identity/v3") and request.method == "GET":
            return self._identity_version(base, listing=path == "/identity")
        if path == "/identity/v3/auth/tokens" and request.method == "POST":
            return self._authenticate(request, base)
        if path in ("/compute", "/compute/v2.1") and request.method == "GET":
            return self._compute_version(base, listing=path == "/compute")
        if path == "/image" and request.method == "GET":
            return self._image_versions(base)
        if not self._token_valid(request.headers.get("x-auth-token", "")):
            return self._unauthorized()
        if path.startswith("/compute/v2.1/"):
            response = self._compute(request, path[len("/compute/v2.1") :], base)
            response.headers["OpenStack-API-Version"] = f"compute {'.'.join(map(str, self._microversion(request)))}"
            response.headers["Vary"] = "OpenStack-API-Version, X-OpenStack-Nova-API-Version"
            return response
        if path.startswith("/image/v2/"):
            return self._image(request, path[len("/image/v2") :])
        return Response.json(404, {"error": {"code": 404, "message": f"No route for {request.method} {path}"}})

    def _base(self, request: Request) -> str:
        """The URL the client reached us at, so catalog and links point back to this port."""
        host = request.headers.get("host")
        return f"http://{host}" if host else self.url

    # --- Nova --------------------------------------------------------------------------
    def _compute_version(self, base: str, *, listing: bool) -> Response:
        version = {
            "id": "v2.1",
            "status": "CURRENT",
            "version": self.max_microversion,
            "min_version": MIN_MICROVERSION,
            "updated": "2013-07-23T11:33:21Z",
            "links": [{"rel": "self", "href": f"{base}/compute/v2.1/"}],
            "media-types": [{"base": "application/json", "type": "application/vnd.openstack.compute+json;version=2.1"}],
        }
        if listing:
            return Response.json(200, {"versions": [version]})
        return Response.json(200, {"version": version})

    def _microversion(self, request: Request) -> tuple[int, int]:
        """The compute microversion asked for (2.1 when none), capped at what is advertised."""
        highest = _version(self.max_microversion)
        asked = request.headers.get("x-openstack-nova-api-version", "")
        match = re.search(r"compute\s+(\S+)", request.headers.get("openstack-api-version", ""))
        if match:
            asked = match.group(1)
        if asked == "latest":
            return highest
        try:
            return min(_version(asked), highest) if asked else _version(MIN_MICROVERSION)
        except ValueError:
            return _version(MIN_MICROVERSION)

    def _compute(self, request: Request, path: str, base: str) -> Response:
        method = request.method
        if path == "/servers" and method == "POST":
            return self._create_servers(request, base)
        if path in ("/servers", "/servers/detail") and method == "GET":
            return self._list_servers(request, base, detail=path.endswith("/detail"))
        match = re.fullmatch(r"/servers/([^/]+)", path)
        if match and method == "GET":
            server = self._live_server(match.group(1))
            if server is None:
                return self._nova_error(404, "Instance could not be found.")
            return Response.json(200, {"server": self._server_view(server, request, base)})
        if match and method == "DELETE":
            return self._delete_server(match.group(1))
        match = re.fullmatch(r"/servers/([^/]+)/metadata", path)
        if match and method in ("POST", "PUT"):
            return self._set_metadata(request, match.group(1), replace=method == "PUT")
        if path in ("/flavors", "/flavors/detail") and method == "GET":
            flavors = [self._flavor_view(fid, base, detail=path.endswith("/detail")) for fid in FLAVORS]
            return Response.json(200, {"flavors": flavors})
        match = re.fullmatch(r"/flavors/([^/]+)", path)
        if match and method == "GET":
            if match.group(1) not in FLAVORS:
                return self._nova_error(404, f"Flavor {match.group(1)} could not be found.")
            return Response.json(200, {"flavor": self._flavor_view(match.group(1), base, detail=True)})
        if path.startswith("/os-keypairs"):
            return self._keypairs(request, path) or self._nova_error(404, "The resource could not be found.")
        if path == "/os-availability-zone" and method == "GET":
            zones = [{"zoneName": zone, "zoneState": {"available": True}, "hosts": None} for zone in ZONES]
            return Response.json(200, {"availabilityZoneInfo": zones})
        return self._nova_error(404, "The resource could not be found.")

    def _nova_error(self, status: int, message: str) -> Response:
        return Response.json(
            status, {NOVA_FAULT_NAMES.get(status, "computeFault"): {"code": status, "message": message}}
        )

    def _create_servers(self, request: Request, base: str) -> Response:
        """POST /servers: validate as Nova does, then create max_count servers (fewer if quota allows only that)."""
        try:
            body = request.json() or {}
            spec = body["server"]
            name = spec["name"]
            flavor_ref = str(spec["flavorRef"]).rstrip("/").rsplit("/", 1)[-1]
            image_ref = str(spec.get("imageRef", "")).rstrip("/").rsplit("/", 1)[-1]
            min_count = int(spec.get("min_count", 1))
            max_count = int(spec.get("max_count", min_count))
            metadata = {str(k): str(v) for k, v in (spec.get("metadata") or {}).items()}
        except (KeyError, TypeError, ValueError, AttributeError):
            return self._nova_error(400, "Invalid input for field/attribute server.")
        if not 1 <= min_count <= max_count:
            return self._nova_error(400, "min_count must be <= max_count and both at least 1")
        if image_ref not in IMAGES:
            return self._nova_error(400, f"Image {image_ref} could not be found.")
        if flavor_ref not in FLAVORS:
            return self._nova_error(400, f"Flavor {flavor_ref} could not be found.")
        zone = spec.get("availability_zone") or ZONES[0]
        if zone not in ZONES:
            return self._nova_error(400, "The requested availability zone is not available")
        networks = spec.get("networks", "auto")
        if isinstance(networks, list):
            for network in networks:
                wanted = (network or {}).get("uuid")
                if wanted != NETWORK_ID:
                    return self._nova_error(400, f"Network {wanted} could not be found.")
        elif networks not in ("auto", "none"):
            return self._nova_error(400, "Invalid input for field/attribute networks.")
        key_name = spec.get("key_name")
        with self.lock:
            keypair = self.keypairs.get(key_name) if key_name else None
            if key_name and keypair is None:
                return self._nova_error(400, "Invalid key_name provided.")
            live = sum(1 for server in self.servers.values() if not server["deleted"])
            allowed = max_count
            if self.over_quota(live, max_count):
                allowed = max((self.faults.instance_quota or 0) - live, 0)
            if allowed < min_count:
                quota = self.faults.instance_quota
                return self._nova_error(
                    403,
                    f"Quota exceeded for instances: Requested {min_count}, "
                    f"but already used {live} of {quota} instances",
                )
            reservation = f"r-{secrets.token_hex(4)}"
            exhausted = self.zone_exhausted(zone)
            created = []
            for index in range(allowed):
                server = {
                    "id": str(uuid.uuid4()),
                    "name": f"{name}-{index + 1}" if allowed > 1 else name,
                    "seq": next(self.sequence),
                    "created_at": time.monotonic(),
                    "created": _now_iso(),
                    "zone": zone,
                    "flavor_id": flavor_ref,
                    "image_id": image_ref,
                    "network": networks != "none",
                    "metadata": dict(metadata),
                    "key_name": spec.get("key_name"),
                    "security_groups": [g.get("name", "default") for g in spec.get("security_groups") or []]
                    or ["default"],
                    "reservation_id": reservation,
                    "launch_index": index,
                    # Nova's scheduler finds no host in an exhausted zone: the server lands in ERROR.
                    "fault": {"code": 500, "message": NO_VALID_HOST, "created": _now_iso()} if exhausted else None,
                    "ip": self.next_address(
                        f"10.0.{(len(self.servers) // 250) % 250}.{len(self.servers) % 250 + 2}",
                        keypair["public_key"] if keypair else "",
                    ),
                    "deleted": False,
                }
                self.servers[server["id"]] = server
                created.append(server)
        if spec.get("return_reservation_id") in (True, "True", "true"):
            return Response.json(202, {"reservation_id": reservation})
        first = created[0]
        return Response.json(
            202,
            {
                "server": {
                    "id": first["id"],
                    "links": self._links(base, "servers", first["id"]),
                    "OS-DCF:diskConfig": "MANUAL",
                    "security_groups": [{"name": g} for g in first["security_groups"]],
                    "adminPass": secrets.token_urlsafe(9),
                }
            },
        )

    def _status(self, server: dict) -> str:
        if server["deleted"]:
            return "DELETED"
        if server["fault"]:
            return "ERROR"
        return "ACTIVE" if self.booted(server["created_at"]) else "BUILD"

    def _ordered(self) -> list[dict]:
        """Servers newest first, Nova's default sort (created_at desc, id desc)."""
        with self.lock:
            return sorted(self.servers.values(), key=lambda s: s["seq"], reverse=True)

    def _live_server(self, server_id: str) -> dict | None:
        with self.lock:
            server = self.servers.get(server_id)
        return server if server is not None and not server["deleted"] else None

    def _list_servers(self, request: Request, base: str, *, detail: bool) -> Response:
        """One page of servers: filters name (a regex, searched), status, reservation_id; limit and marker."""
        query = request.query
        servers = [s for s in self._ordered() if not s["deleted"]]
        if query.get("name"):
            try:
                pattern = re.compile(query["name"])
            except re.error:
                return self._nova_error(400, "Invalid filter name")
            servers = [s for s in servers if pattern.search(s["name"])]
        if query.get("status"):
            servers = [s for s in servers if self._status(s) == query["status"].upper()]
        if query.get("reservation_id"):
            servers = [s for s in servers if s["reservation_id"] == query["reservation_id"]]
        if query.get("marker"):
            ids = [s["id"] for s in servers]
            if query["marker"] not in ids:
                return self._nova_error(400, f"marker [{query['marker']}] not found")
            servers = servers[ids.index(query["marker"]) + 1 :]
        try:
            limit = min(int(query.get("limit", MAX_LIMIT)), MAX_LIMIT)
        except ValueError:
            return self._nova_error(400, "limit param must be an integer")
        if limit < 0:
            return self._nova_error(400, "limit param must be positive")
        page = servers[:limit]
        if detail:
            views = [self._server_view(s, request, base) for s in page]
        else:
            views = [{"id": s["id"], "name": s["name"], "links": self._links(base, "servers", s["id"])} for s in page]
        body: dict[str, Any] = {"servers": views}
        # Like Nova, a full page carries a next link (even when nothing follows it).
        if page and len(page) == limit:
            params = {k: v for k, v in query.items() if k != "marker"}
            params.update(limit=str(limit), marker=page[-1]["id"])
            suffix = "/detail" if detail else ""
            href = f"{base}/compute/v2.1/servers{suffix}?{urlencode(params)}"
            body["servers_links"] = [{"rel": "next", "href": href}]
        return Response.json(200, body)

    def _server_view(self, server: dict, request: Request, base: str) -> dict:
        status = self._status(server)
        mac = f"fa:16:3e:00:{server['seq'] // 256 % 256:02x}:{server['seq'] % 256:02x}"
        addresses = {}
        if status == "ACTIVE" and server["network"]:
            addresses[NETWORK_NAME] = [
                {
                    "addr": server["ip"],
                    "version": 4,
                    "OS-EXT-IPS:type": "fixed",
                    "OS-EXT-IPS-MAC:mac_addr": mac,
                }
            ]
        view = {
            "id": server["id"],
            "name": server["name"],
            "status": status,
            "tenant_id": self.project_id,
            "user_id": self.user_id,
            "metadata": dict(server["metadata"]),
            "hostId": "" if status != "ACTIVE" else uuid.uuid5(uuid.NAMESPACE_URL, server["zone"]).hex,
            "image": {"id": server["image_id"], "links": self._links(base, "images", server["image_id"])},
            "flavor": self._server_flavor(server["flavor_id"], request, base),
            "created": server["created"],
            "updated": server["created"],
            "addresses": addresses,
            "accessIPv4": "",
            "accessIPv6": "",
            "links": self._links(base, "servers", server["id"]),
            "OS-DCF:diskConfig": "MANUAL",
            "progress": 100 if status == "ACTIVE" else 0,
            "OS-EXT-AZ:availability_zone": server["zone"],
            "config_drive": "",
            "key_name": server["key_name"],
            "OS-SRV-USG:launched_at": server["created"] if status == "ACTIVE" else None,
            "OS-SRV-USG:terminated_at": None,
            "security_groups": [{"name": g} for g in server["security_groups"]],
            "OS-EXT-STS:task_state": "spawning" if status == "BUILD" else None,
            "OS-EXT-STS:vm_state": {"BUILD": "building", "ACTIVE": "active", "ERROR": "error"}[status],
            "OS-EXT-STS:power_state": 1 if status == "ACTIVE" else 0,
            "os-extended-volumes:volumes_attached": [],
            "locked": False,
            "tags": [],
        }
        if server["fault"]:
            view["fault"] = dict(server["fault"])
        return view

    def _server_flavor(self, flavor_id: str, request: Request, base: str) -> dict:
        """The server's flavor: inline from microversion 2.47, a reference before it."""
        if self._microversion(request) >= FLAVOR_EMBEDDED_FROM:
            name, vcpus, ram, disk = FLAVORS[flavor_id]
            return {
                "original_name": name,
                "vcpus": vcpus,
                "ram": ram,
                "disk": disk,
                "ephemeral": 0,
                "swap": 0,
                "extra_specs": {},
            }
        return {"id": flavor_id, "links": self._links(base, "flavors", flavor_id)}

    def _flavor_view(self, flavor_id: str, base: str, *, detail: bool) -> dict:
        name, vcpus, ram, disk = FLAVORS[flavor_id]
        view = {"id": flavor_id, "name": name, "links": self._links(base, "flavors", flavor_id)}
        if detail:
            view.update(
                {
                    "vcpus": vcpus,
                    "ram": ram,
                    "disk": disk,
                    "OS-FLV-EXT-DATA:ephemeral": 0,
                    "swap": "",
                    "rxtx_factor": 1.0,
                    "os-flavor-access:is_public": True,
                    "OS-FLV-DISABLED:disabled": False,
                    "description": None,
                }
            )
        return view

    def _links(self, base: str, collection: str, item_id: str) -> list[dict]:
        return [
            {"rel": "self", "href": f"{base}/compute/v2.1/{collection}/{item_id}"},
            {"rel": "bookmark", "href": f"{base}/compute/{collection}/{item_id}"},
        ]

    def _set_metadata(self, request: Request, server_id: str, *, replace: bool) -> Response:
        """POST merges keys into a server's metadata, PUT replaces it; the answer is the whole metadata."""
        try:
            metadata = {str(k): str(v) for k, v in (request.json() or {})["metadata"].items()}
        except (KeyError, TypeError, ValueError, AttributeError):
            return self._nova_error(400, "Invalid input for field/attribute metadata.")
        with self.lock:
            server = self.servers.get(server_id)
            if server is None or server["deleted"]:
                return self._nova_error(404, f"Instance {server_id} could not be found.")
            server["metadata"] = metadata if replace else {**server["metadata"], **metadata}
            return Response.json(200, {"metadata": dict(server["metadata"])})

    def _delete_server(self, server_id: str) -> Response:
        with self.lock:
            server = self.servers.get(server_id)
            if server is None or server["deleted"]:
                return self._nova_error(404, f"Instance {server_id} could not be found.")
            server["deleted"] = True
        return Response(204)
