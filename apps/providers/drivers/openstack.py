"""The OpenStack provider: Nova servers through openstacksdk, authenticated by Keystone v3 passwords.

Nova has no idempotency token, so the driver makes one: every server carries
the batch's client token in its metadata (``dcp-client-token``) and a name
derived from it. ``create_nodes`` first looks for servers with that token and
returns them if any; otherwise it sends ONE ``POST /servers`` with
``min_count = max_count = count`` (Nova's multi-create) and then lists the
servers of the token, since Nova answers a multi-create with the first server
only.

Nova reports "no capacity" (NoValidHost) asynchronously by putting servers in
ERROR. When every server of a new batch is already in ERROR with that fault by
the time the driver lists them, it deletes them and raises CapacityError so the
engine falls through to the next zone; servers still building are returned as
pending and a later failure shows as state ERROR with ``extra["fault"]``.

The SDK's own retries are off: throttling and outages surface at once as
ThrottledError and TransientError, and the engine's shared rate limiter decides
when to try again. The password and tokens never appear in messages or logs.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote, urlsplit

import openstack
import requests
from keystoneauth1 import exceptions as ks_exceptions
from openstack import exceptions as os_exceptions
from openstack import utils as os_utils

from apps.providers.drivers.base import (
    AuthError,
    CapacityError,
    Driver,
    Image,
    InvalidRequestError,
    Location,
    Node,
    NodeSpec,
    NodeState,
    NotFoundError,
    ProviderError,
    QuotaExceededError,
    Size,
    ThrottledError,
    TransientError,
    provider_time,
    retry_read,
    same_public_key,
)

if TYPE_CHECKING:
    from openstack.connection import Connection

    from apps.providers.models import CloudAccount

TOKEN_KEY = "dcp-client-token"  # noqa: S105 - a metadata key, not a secret
# The first compute microversion that shows a server's flavor inline; nothing later changes what is read here.
# Deletes in flight at once: Nova deletes one server per request.
DELETE_CONCURRENCY = 8
COMPUTE_MICROVERSION = "2.47"

# Nova server status → the uniform node state.
STATES = {
    "BUILD": NodeState.PENDING,
    "REBUILD": NodeState.PENDING,
    "ACTIVE": NodeState.RUNNING,
    "REBOOT": NodeState.RUNNING,
    "HARD_REBOOT": NodeState.RUNNING,
    "PASSWORD": NodeState.RUNNING,
    "MIGRATING": NodeState.RUNNING,
    "RESIZE": NodeState.RUNNING,
    "VERIFY_RESIZE": NodeState.RUNNING,
    "REVERT_RESIZE": NodeState.RUNNING,
    "RESCUE": NodeState.RUNNING,
    "ERROR": NodeState.ERROR,
    "SHUTOFF": NodeState.STOPPED,
    "STOPPED": NodeState.STOPPED,
    "SUSPENDED": NodeState.STOPPED,
    "PAUSED": NodeState.STOPPED,
    "SHELVED": NodeState.STOPPED,
    "SHELVED_OFFLOADED": NodeState.STOPPED,
    "DELETED": NodeState.TERMINATED,
    "SOFT_DELETED": NodeState.TERMINATED,
}
GONE = {NodeState.TERMINATED, NodeState.STOPPING}
# A name is sent as Nova's name filter (a regular expression) only when it means itself literally.
LITERAL_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _gb(ram_mb: int | None) -> Decimal | None:
    return (Decimal(ram_mb) / 1024).quantize(Decimal("0.01")) if ram_mb else None


def _status_of(exc: BaseException) -> int | None:
    """The HTTP status behind a failure, looking through wrappers (a failed discovery hides a 429 or 503)."""
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            break
        status = getattr(seen, "status_code", None) or getattr(seen, "http_status", None)
        if status:
            return int(status)
        seen = seen.__cause__ or seen.__context__
    return None


def _no_valid_host(server: dict) -> bool:
    fault = server.get("fault") or {}
    return server.get("status") == "ERROR" and "no valid host" in str(fault.get("message", "")).lower()


class OpenStackDriver(Driver):
    """Creates, lists and deletes Nova servers of one project in one region."""

    kind = "openstack"
    # Nova's own per-request limit is configurable; 100 keeps batches the size of other clouds'.
    max_batch = 100
    #: Servers asked for per page of /servers/detail (Nova caps pages at its osapi_max_limit, 1000 by default).
    page_size = 500
    #: Seconds before an API call is given up as a transient failure.
    timeout = 30.0

    def __init__(self, account: CloudAccount):
        super().__init__(account)
        self._connection: Connection | None = None
        self._flavors: dict[str, Any] | None = None
        self._compute_microversion: str | None = None

    # --- connection and errors ---------------------------------------------------------
    @property
    def connection(self) -> Connection:
        """The SDK connection, made once per driver: it caches the token and the service discovery."""
        if self._connection is None:
            credentials = self.account.credentials or {}
            options = self.account.options or {}
            auth = {
                # The account's endpoint override (a private Keystone, or an emulator) wins over the credentials'.
                "auth_url": self.account.endpoint_url or credentials.get("auth_url", ""),
                "username": credentials.get("username", ""),
                "password": credentials.get("password", ""),
                "project_name": credentials.get("project_name", ""),
                "user_domain_name": credentials.get("user_domain_name") or "Default",
                "project_domain_name": credentials.get("project_domain_name") or "Default",
            }
            # A URL naming v3 needs no discovery round trip; a bare one lets keystoneauth find the version.
            auth_type = "v3password" if auth["auth_url"].rstrip("/").endswith("/v3") else "password"
            with self._api("connect"):
                # Only this account's settings count: no clouds.yaml, no OS_* environment variables.
                self._connection = openstack.connect(
                    load_yaml_config=False,
                    load_envvars=False,
                    auth_type=auth_type,
                    auth=auth,
                    region_name=self.account.region or None,
                    interface=options.get("interface", "public"),
                    verify=options.get("verify", True),
                    api_timeout=float(options.get("timeout", self.timeout)),
                    connect_retries=0,
                    status_code_retries=0,
                    app_name="dcp",
                )
        return self._connection

    @contextmanager
    def _api(self, action: str) -> Iterator[None]:
        """Turn SDK and keystoneauth failures into the driver's error tree."""
        try:
            yield
        except ProviderError:
            raise
        except Exception as exc:
            # The original is not chained: its text and locals are no business of a log line.
            raise self._translate(exc, action) from None

    def _clean(self, text: str) -> str:
        """The text with the account's password masked, whatever put it there.

        A password of a few characters would turn up inside ordinary words; masking it would only garble them.
        """
        password = str((self.account.credentials or {}).get("password") or "")
        text = " ".join(str(text).split())
        return text.replace(password, "***") if len(password) >= 4 else text

    def _translate(self, exc: Exception, action: str) -> ProviderError:
        """The driver error for one failed call."""
        where = f"OpenStack {action} on account {self.account.name}"
        status = _status_of(exc)
        details = self._clean(getattr(exc, "details", None) or getattr(exc, "message", None) or str(exc))
        if isinstance(exc, ks_exceptions.SSLError):
            return InvalidRequestError(f"{where}: TLS failed: {details}", code="SSLError")
        if isinstance(exc, ks_exceptions.ConnectionError | requests.ConnectionError | requests.Timeout | TimeoutError):
            return TransientError(f"{where}: no answer: {details}", code=type(exc).__name__)
        if isinstance(exc, ks_exceptions.EndpointNotFound | os_exceptions.EndpointNotFound):
            region = self.account.region or "any region"
            return InvalidRequestError(f"{where}: no such service in {region}: {details}", code="EndpointNotFound")
        if isinstance(exc, ks_exceptions.MissingRequiredOptions | ks_exceptions.AuthPluginException):
            return AuthError(f"{where}: incomplete credentials: {details}", code="MissingCredentials")
        if isinstance(exc, ks_exceptions.DiscoveryFailure) and not status:
            return TransientError(f"{where}: service discovery failed: {details}", code="DiscoveryFailure")
        if not status:
            return ProviderError(f"{where} failed: {details}", code=type(exc).__name__)
        return self._by_status(status, f"{where} failed (HTTP {status}): {details}", details)

    @staticmethod
    def _by_status(status: int, message: str, details: str) -> ProviderError:
        lowered = details.lower()
        code = str(status)
        if "quota exceeded" in lowered:  # 403 today; Nova answered 413 for quota in older releases
            return QuotaExceededError(message, code=code)
        if status in (401, 403):
            return AuthError(message, code=code)
        if status in (413, 429):
            return ThrottledError(message, code=code)
        if status == 404 or (status == 400 and "network" in lowered):  # Nova answers an unknown network with 400
            return NotFoundError(message, code=code)
        if status == 409 or (status >= 500 and status != 501):
            return TransientError(message, code=code)
        return InvalidRequestError(message, code=code)

    # --- reading servers -----------------------------------------------------------------
    def _microversion(self) -> str | None:
        """The compute microversion to ask for: 2.47 (flavor inline) or the most an older Nova offers."""
        if self._compute_microversion is None:
            with self._api("discover compute"):
                # None when discovery failed (e.g. throttled): ask again next time rather than settle for 2.1.
                self._compute_microversion = os_utils.maximum_supported_microversion(
                    self.connection.compute, COMPUTE_MICROVERSION
                )
        return self._compute_microversion

    def _read(self, action: str, fetch: Callable[[], Any]) -> Any:
        """A read, typed by _api and retried briefly (see retry_read)."""

        def typed() -> Any:
            with self._api(action):
                return fetch()

        return retry_read(typed)

    def _servers(self, **query: Any) -> list[dict]:
        """Every server of the project as Nova's JSON, page by page (following servers_links).

        Plain JSON rather than SDK resources: building a resource per server
        costs milliseconds each, which a listing of thousands cannot afford.
        """
        params: dict[str, Any] = {**query, "limit": self.page_size}
        servers: list[dict] = []
        markers: set[str] = set()

        def fetch_page() -> dict:
            response = self.connection.compute.get(
                "/servers/detail", params=params, microversion=self._microversion(), raise_exc=False
            )
            os_exceptions.raise_from_response(response)
            return response.json()

        while True:
            body = self._read("list servers", fetch_page)
            page = body.get("servers") or []
            servers.extend(page)
            following = [link["href"] for link in body.get("servers_links") or [] if link.get("rel") == "next"]
            if not page or not following:
                return servers
            # Only the next link's query is taken: its host may be one a proxy in front of Nova rewrote.
            params = dict(parse_qsl(urlsplit(following[0]).query))
            marker = params.get("marker", "")
            if not marker or marker in markers:
                return servers
            markers.add(marker)

    def _flavor_catalog(self) -> dict[str, Any]:
        """Flavors by id, fetched once per driver."""
        if self._flavors is None:
            self._flavors = self._read(
                "list flavors", lambda: {flavor.id: flavor for flavor in self.connection.compute.flavors(details=True)}
            )
        return self._flavors

    def _flavor_of(self, server: dict) -> tuple[str, int | None, Decimal | None]:
        """Name, cores and memory of a server's flavor: inline from microversion 2.47, else from the catalog."""
        flavor = server.get("flavor") or {}
        if flavor.get("vcpus"):
            return flavor.get("original_name", ""), flavor["vcpus"], _gb(flavor.get("ram"))
        known = self._flavor_catalog().get(flavor.get("id"))
        if known is None:
            return str(flavor.get("id") or ""), None, None
        return known.name, known.vcpus, _gb(known.ram)

    def _node(self, server: dict) -> Node:
        """A Nova server as a node."""
        metadata = {str(k): str(v) for k, v in (server.get("metadata") or {}).items()}
        state = STATES.get(server.get("status") or "", NodeState.UNKNOWN)
        task_state = server.get("OS-EXT-STS:task_state")
        if task_state == "deleting" and state is not NodeState.TERMINATED:
            state = NodeState.STOPPING
        private_ip = public_ip = None
        for addresses in (server.get("addresses") or {}).values():
            for address in addresses:
                if address.get("version") != 4:
                    continue
                if address.get("OS-EXT-IPS:type") == "floating":
                    public_ip = public_ip or address.get("addr")
                else:
                    private_ip = private_ip or address.get("addr")
        flavor_name, cpu, memory_gb = self._flavor_of(server)
        extra: dict[str, Any] = {
            "status": server.get("status"),
            "task_state": task_state,
            "created": server.get("created"),
            "key_name": server.get("key_name"),
            "image_id": (server.get("image") or {}).get("id"),
        }
        if TOKEN_KEY in metadata:
            extra["client_token"] = metadata.pop(TOKEN_KEY)
        if server.get("fault"):
            extra["fault"] = dict(server["fault"])
        if _no_valid_host(server):
            # Nova found no host for it: a capacity failure, the engine places it elsewhere.
            extra["no_capacity"] = True
        return Node(
            id=server["id"],
            name=server.get("name") or "",
            state=state,
            private_ip=private_ip,
            public_ip=public_ip or server.get("accessIPv4") or None,
            cpu=cpu,
            memory_gb=memory_gb,
            zone=server.get("OS-EXT-AZ:availability_zone") or "",
            instance_type=flavor_name,
            # "created" is in every answer from the first one; OS-SRV-USG:launched_at appears only once it runs.
            launched_at=provider_time(server.get("created") or server.get("OS-SRV-USG:launched_at")),
            tags=metadata,
            extra=extra,
        )

    def _servers_of_token(self, client_token: str, name: str) -> list[dict]:
        """Servers not being deleted whose metadata carries this client token."""
        query = {"name": name} if LITERAL_NAME.match(name) else {}
        return [
            server
            for server in self._servers(**query)
            if (server.get("metadata") or {}).get(TOKEN_KEY) == client_token
            and server.get("status") not in ("DELETED", "SOFT_DELETED")
            and server.get("OS-EXT-STS:task_state") != "deleting"
        ]

    # --- the contract --------------------------------------------------------------------
    def create_nodes(
        self, spec: NodeSpec, count: int, *, client_token: str, tags: dict[str, str], first_attempt: bool = False
    ) -> list[Node]:
        """Create count servers in one multi-create call, or return the ones this token already made."""
        if not 1 <= count <= self.max_batch:
            raise InvalidRequestError(f"count must be between 1 and {self.max_batch}")
        if not client_token:
            raise InvalidRequestError("a client token is required")
        # The token's digest in the name lets Nova's name filter find a batch without listing everything.
        name = f"{spec.name_prefix or 'dcp'}-{hashlib.sha256(client_token.encode()).hexdigest()[:12]}"
        earlier = [] if first_attempt else self._servers_of_token(client_token, name)
        if earlier:
            return [self._node(server) for server in earlier]
        metadata = {**tags, TOKEN_KEY: client_token}

        def create(named: NodeSpec) -> None:
            attrs = self._create_attrs(named, count, name, metadata)
            with self._api("create servers"):
                self.connection.compute.create_server(**attrs)

        self.with_key_pair(spec, create)
        servers = self._servers_of_token(client_token, name)
        if servers and all(_no_valid_host(server) for server in servers):
            # Nothing was placed: free the failed records now so they hold no quota, and let the engine move on.
            self.destroy_nodes([server["id"] for server in servers])
            where = f" in zone {spec.zone}" if spec.zone else ""
            raise CapacityError(
                f"OpenStack has no host for {count} x {spec.instance_type}{where} on account {self.account.name}"
                f" (NoValidHost): {servers[0]['fault'].get('message', '')}",
                code="NoValidHost",
            )
        return [self._node(server) for server in servers]

    def import_key_pair(self, name: str, public_key: str, region: str) -> bool:
        """Nova's os-keypairs: the user's key pair of this name, created with this public key unless it exists."""
        found = self._read("find key pair", lambda: self.connection.compute.find_keypair(name))
        if found is None:
            try:
                with self._api("import key pair"):
                    self.connection.compute.create_keypair(name=name, public_key=public_key)
                return True
            except TransientError as exc:
                # 409: another worker imported it a moment ago; check it below like any existing one.
                if exc.code != "409":
                    raise
            found = self._read("find key pair", lambda: self.connection.compute.find_keypair(name))
        if found is None or not same_public_key(found.public_key or "", public_key):
            raise InvalidRequestError(f"Nova key pair {name} holds another key; delete it or rename it")
        return True

    def _create_attrs(self, spec: NodeSpec, count: int, name: str, metadata: dict[str, str]) -> dict[str, Any]:
        """The server attributes of one multi-create request."""
        networks: Any = "auto"
        if spec.network:
            if not _is_uuid(spec.network):
                raise InvalidRequestError(f"network must be a Neutron network id, not {spec.network!r}")
            networks = [{"uuid": spec.network}]
        attrs: dict[str, Any] = {
            "name": name,
            "flavor_id": self._flavor_id(spec.instance_type),
            "image_id": self._image_id(spec.image),
            "networks": networks,
            "metadata": {str(k): str(v) for k, v in metadata.items()},
            "min_count": count,
            "max_count": count,
        }
        if spec.zone:
            attrs["availability_zone"] = spec.zone
        if spec.key_name:
            attrs["key_name"] = spec.key_name
        if spec.security_groups:
            attrs["security_groups"] = [{"name": group} for group in spec.security_groups]
        return attrs

    def _flavor_id(self, instance_type: str) -> str:
        """A flavor's id from its name (what templates hold) or its id."""
        catalog = self._flavor_catalog()
        for flavor_id, flavor in catalog.items():
            if flavor.name == instance_type:
                return flavor_id
        if instance_type in catalog:
            return instance_type
        raise InvalidRequestError(f"no flavor {instance_type!r} on account {self.account.name}", code="FlavorNotFound")

    def _image_id(self, image: str) -> str:
        """An image id as given, or looked up in Glance by name."""
        if not image:
            raise InvalidRequestError("an image is required to boot a server")
        if _is_uuid(image):
            return image
        with self._api("find image"):
            found = [found.id for found in self.connection.image.images(name=image)]
        if len(found) != 1:
            problem = "no image" if not found else f"{len(found)} images"
            raise InvalidRequestError(f"{problem} named {image!r} on account {self.account.name}", code="ImageNotFound")
        return found[0]

    def get_nodes(self, ids: list[str]) -> list[Node]:
        """The servers among these ids that still exist, from one paged listing."""
        if not ids:
            return []
        wanted = set(ids)
        return [self._node(server) for server in self._servers() if server["id"] in wanted]

    def get_node(self, node_id: str) -> Node | None:
        """One server (GET /servers/{id}), not a listing of them all; None once Nova no longer knows it."""

        def fetch() -> dict | None:
            response = self.connection.compute.get(
                f"/servers/{quote(node_id, safe='')}", microversion=self._microversion(), raise_exc=False
            )
            if response.status_code == 404:
                return None
            os_exceptions.raise_from_response(response)
            return response.json().get("server")

        server = self._read(f"get server {node_id}", fetch)
        return self._node(server) if server else None

    def list_nodes(self, tags: dict[str, str] | None = None) -> list[Node]:
        """Live servers whose metadata has all these tags (Nova cannot filter on metadata)."""
        wanted = (tags or {}).items()
        nodes = []
        for server in self._servers():
            metadata = server.get("metadata") or {}
            if all(metadata.get(key) == value for key, value in wanted):
                node = self._node(server)
                if node.state not in GONE:
                    nodes.append(node)
        return nodes

    def tag_nodes(self, tags_by_id: dict[str, dict[str, str]]) -> None:
        """Merge these keys into each server's metadata, one call per server; servers already gone are skipped."""
        for server_id, tags in tags_by_id.items():
            try:
                with self._api(f"set metadata of server {server_id}"):
                    self.connection.compute.set_server_metadata(server_id, **{k: str(v) for k, v in tags.items()})
            except NotFoundError:
                continue

    def destroy_nodes(self, ids: list[str]) -> None:
        """Delete the servers, DELETE_CONCURRENCY at a time (Nova has no bulk delete); one already gone is fine.

        One at a time, a thousand deletes cost a thousand round trips end to end;
        a small fixed number in flight keeps the API's load bounded.
        """
        if not ids:
            return
        with self._api("authenticate"):
            self.connection.authorize()  # one token for all the threads, not one each

        def delete(server_id: str) -> None:
            with self._api(f"delete server {server_id}"):
                self.connection.compute.delete_server(server_id, ignore_missing=True)

        with ThreadPoolExecutor(max_workers=min(DELETE_CONCURRENCY, len(ids))) as pool:
            # list() re-raises the first failure, typed by _api.
            list(pool.map(delete, ids))

    def list_sizes(self) -> list[Size]:
        """Flavors, keyed by name: templates and the price catalog name flavors, and Nova keeps names unique."""
        return [
            Size(
                id=flavor.name,
                name=flavor.name,
                cpu=flavor.vcpus,
                memory_gb=_gb(flavor.ram) or Decimal(0),
                extra={"flavor_id": flavor.id, "disk_gb": flavor.disk, "is_public": flavor.is_public},
            )
            for flavor in sorted(self._flavor_catalog().values(), key=lambda f: (f.vcpus, f.ram, f.name))
        ]

    def list_images(self) -> list[Image]:
        """Glance images visible to the project."""
        with self._api("list images"):
            images = list(self.connection.image.images())
        return [
            Image(
                id=image.id,
                name=image.name or image.id,
                extra={"status": image.status, "visibility": image.visibility, "min_disk": image.min_disk},
            )
            for image in images
        ]

    def list_locations(self) -> list[Location]:
        """Nova availability zones."""
        with self._api("list availability zones"):
            zones = list(self.connection.compute.availability_zones())
        return [
            Location(
                id=zone.name,
                name=zone.name,
                region=self.account.region,
                extra={"available": bool((zone.state or {}).get("available", True))},
            )
            for zone in zones
        ]

    def check_credentials(self) -> None:
        """Authenticate afresh with Keystone (a cached token proves nothing about the password now)."""
        with self._api("authenticate"):
            session = self.connection.session
            session.invalidate()
            session.get_token()
