"""Any Apache Libcloud compute provider, chosen by name in the account's credentials.

``credentials["driver"]`` names the Libcloud provider (``"openstack"``,
``"ec2"``, ``"digital_ocean"``...); ``key`` and ``secret`` go to its
constructor, and ``options["driver_args"]`` adds the provider's own keyword
arguments (for OpenStack: ``ex_force_auth_url``, ``ex_tenant_name``,
``api_version``...). Arguments that carry a secret (``ex_force_auth_token``...)
are kept in the encrypted credentials instead, next to ``key`` and ``secret``,
and reach the constructor the same way. ``account.region`` becomes the constructor's ``region``
where it takes one (OpenStack: ``ex_force_service_region``), and
``account.endpoint_url`` the auth URL (OpenStack) or the API host (others).

Libcloud creates one node per call, so a batch of ``count`` is ``count``
calls of ``create_node``. None of them is idempotent, so the driver makes
creates so: each node carries the batch's client token in its metadata
(``dcp-client-token``) where the provider takes ``ex_metadata``, and always a
name derived from the token; ``create_nodes`` first lists nodes, keeps those
of the token and creates only the ones missing. A node refused part-way
through a batch leaves the ones already made: the same token again completes
the batch rather than doubling it.

Libcloud's own retries stay off: throttling and outages surface at once as
ThrottledError and TransientError for the engine's rate limiter to pace. The
secret never appears in messages or logs.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import logging
import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests
from libcloud.common.exceptions import BaseHTTPError, RateLimitReachedError
from libcloud.common.types import InvalidCredsError, LibcloudError, MalformedResponseError, ServiceUnavailableError
from libcloud.common.types import ProviderError as LibcloudProviderError
from libcloud.compute.base import NodeDriver as LibcloudNodeDriver
from libcloud.compute.base import NodeImage, NodeLocation
from libcloud.compute.base import NodeSize as LibcloudSize
from libcloud.compute.providers import get_driver as get_libcloud_driver
from libcloud.compute.types import KeyPairDoesNotExistError
from libcloud.compute.types import NodeState as LibcloudState

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
    Quote,
    Size,
    ThrottledError,
    TransientError,
    provider_time,
    retry_read,
    same_public_key,
)

if TYPE_CHECKING:
    from libcloud.compute.base import Node as LibcloudNode
    from libcloud.compute.base import NodeDriver

    from apps.providers.models import CloudAccount

logger = logging.getLogger(__name__)

TOKEN_KEY = "dcp-client-token"  # noqa: S105 - a metadata key, not a secret
OPENSTACK = "openstack"
#: Seconds before a call is given up as a transient failure, unless driver_args say otherwise.
DEFAULT_TIMEOUT = 30
# Credential keys that are not constructor keyword arguments: the rest are the driver's secret arguments.
POSITIONAL = ("driver", "key", "secret")
# An HTTP status inside an error body that Libcloud did not type (e.g. a refused Keystone authentication).
STATUS_IN_BODY = re.compile(r"(?:\"code\"\s*:\s*|code:\s*)(\d{3})")

# Libcloud's node states → the uniform node state.
STATES = {
    LibcloudState.RUNNING: NodeState.RUNNING,
    LibcloudState.REBOOTING: NodeState.RUNNING,
    LibcloudState.MIGRATING: NodeState.RUNNING,
    LibcloudState.RECONFIGURING: NodeState.RUNNING,
    LibcloudState.NORMAL: NodeState.RUNNING,
    LibcloudState.UPDATING: NodeState.RUNNING,
    LibcloudState.STARTING: NodeState.PENDING,
    LibcloudState.PENDING: NodeState.PENDING,
    LibcloudState.STOPPING: NodeState.STOPPING,
    LibcloudState.STOPPED: NodeState.STOPPED,
    LibcloudState.SUSPENDED: NodeState.STOPPED,
    LibcloudState.PAUSED: NodeState.STOPPED,
    LibcloudState.TERMINATED: NodeState.TERMINATED,
    LibcloudState.ERROR: NodeState.ERROR,
    LibcloudState.UNKNOWN: NodeState.UNKNOWN,
}
GONE = {NodeState.TERMINATED, NodeState.STOPPING}
# Node extras that are credentials (a generated root password) and never leave the driver.
HIDDEN_EXTRA = {"password", "adminPass", "admin_pass", "root_password"}


def _gb(ram_mb: Any) -> Decimal:
    try:
        return (Decimal(str(ram_mb)) / 1024).quantize(Decimal("0.01")) if ram_mb else Decimal(0)
    except InvalidOperation:
        return Decimal(0)


def _price(value: Any) -> Decimal | None:
    """Libcloud's hourly price, or None: its pricing data says 0 for providers it has no prices for."""
    try:
        price = Decimal(str(value)) if value is not None else None
    except InvalidOperation:
        return None
    return price if price else None


def _accepts(function: Any, name: str) -> bool:
    """Whether a callable names this keyword argument itself (a bare ``**kwargs`` does not count)."""
    try:
        return name in inspect.signature(function).parameters
    except (TypeError, ValueError):
        return False


def _metadata_of(node: LibcloudNode) -> dict[str, str]:
    """A node's key/value metadata, wherever its provider's driver keeps it."""
    extra = node.extra or {}
    for key in ("metadata", "tags", "labels"):
        value = extra.get(key)
        if isinstance(value, dict):
            return {str(k): str(v) for k, v in value.items()}
    return {}


def _no_valid_host(node: LibcloudNode) -> bool:
    fault = (node.extra or {}).get("fault") or {}
    return node.state == LibcloudState.ERROR and "no valid host" in str(fault.get("message", "")).lower()


class LibcloudDriver(Driver):
    """Creates, lists and destroys the nodes of one Libcloud compute provider account."""

    kind = "libcloud"
    # One API call per node: small batches keep a create step short and its retries cheap.
    max_batch = 20
    # Libcloud has no portable single-node look-up: get_node lists every node.
    cheap_get_node = False

    def __init__(self, account: CloudAccount):
        super().__init__(account)
        self._driver: NodeDriver | None = None
        self._sizes: list[LibcloudSize] | None = None

    # --- the Libcloud driver and errors ------------------------------------------------
    @property
    def provider(self) -> str:
        """The Libcloud provider name of this account."""
        return str((self.account.credentials or {}).get("driver") or "").strip()

    @property
    def driver(self) -> NodeDriver:
        """The Libcloud driver, made once per driver: it keeps its authentication between calls."""
        if self._driver is None:
            self._driver = self._make_driver()
        return self._driver

    def _driver_class(self) -> type[NodeDriver]:
        """The Libcloud driver class the account names."""
        if not self.provider:
            raise InvalidRequestError(f"account {self.account.name} names no Libcloud driver", code="UnknownDriver")
        try:
            return get_libcloud_driver(self.provider)
        except Exception:
            # Libcloud answers an unknown name with an AttributeError or a bare Exception; neither says more.
            raise InvalidRequestError(
                f"Libcloud has no compute driver {self.provider!r} (account {self.account.name}):"
                " use a libcloud.compute.types.Provider value such as 'openstack', 'ec2' or 'digital_ocean'",
                code="UnknownDriver",
            ) from None

    def _driver_kwargs(self, cls: type[NodeDriver]) -> dict[str, Any]:
        """The constructor's keyword arguments: driver_args, then the account's region and endpoint."""
        options = self.account.options or {}
        driver_args = options.get("driver_args") or {}
        if not isinstance(driver_args, dict):
            raise InvalidRequestError(f"options.driver_args of account {self.account.name} must be an object")
        kwargs: dict[str, Any] = {"timeout": DEFAULT_TIMEOUT, **driver_args, **self._secret_args()}
        endpoint = (self.account.endpoint_url or "").rstrip("/")
        if self.provider == OPENSTACK:
            if self.account.region:
                kwargs.setdefault("ex_force_service_region", self.account.region)
            if endpoint:
                # Libcloud adds the identity version itself (…/v3/auth/tokens): a Keystone v3 URL loses its /v3.
                kwargs.setdefault("ex_force_auth_url", re.sub(r"/v3$", "", endpoint))
            return kwargs
        if self.account.region and _accepts(cls.__init__, "region"):
            kwargs.setdefault("region", self.account.region)
        if endpoint and _accepts(cls.__init__, "host"):
            parts = urlsplit(endpoint if "://" in endpoint else f"https://{endpoint}")
            kwargs.setdefault("host", parts.hostname)
            if parts.port:
                kwargs.setdefault("port", parts.port)
            kwargs.setdefault("secure", parts.scheme == "https")
        return kwargs

    def _make_driver(self) -> NodeDriver:
        """A fresh Libcloud driver for the account (nothing is sent until the first call)."""
        cls = self._driver_class()
        credentials = self.account.credentials or {}
        args: list[Any] = [credentials.get("key", "")]
        if credentials.get("secret") not in (None, ""):
            args.append(credentials["secret"])
        with self._api("set up the driver"):
            return cls(*args, **self._driver_kwargs(cls))

    @contextmanager
    def _api(self, action: str) -> Iterator[None]:
        """Turn Libcloud and transport failures into the driver's error tree."""
        try:
            yield
        except ProviderError:
            raise
        except Exception as exc:
            # The original is not chained: its text, locals and driver repr are no business of a log line.
            raise self._translate(exc, action) from None

    def _secret_args(self) -> dict[str, Any]:
        """The driver's own arguments kept in the credentials because they carry secrets."""
        return {name: value for name, value in (self.account.credentials or {}).items() if name not in POSITIONAL}

    def _secrets(self) -> list[str]:
        """Every credential value that must never be shown, longest first."""
        credentials = self.account.credentials or {}
        values = [str(credentials.get("secret") or "")]
        values += [value for value in self._secret_args().values() if isinstance(value, str)]
        # A secret of a few characters would turn up inside ordinary words; masking it would only garble them.
        return sorted((value for value in values if len(value) >= 4), key=len, reverse=True)

    def _clean(self, text: Any) -> str:
        """The text on one line, with every credential masked, whatever put it there."""
        text = " ".join(str(text).split())
        for secret in self._secrets():
            text = text.replace(secret, "***")
        return text[:500]

    def _translate(self, exc: Exception, action: str) -> ProviderError:
        """The driver error for one failed call."""
        where = f"Libcloud {self.provider or '?'} {action} on account {self.account.name}"
        name = type(exc).__name__
        if isinstance(exc, InvalidCredsError):
            return AuthError(f"{where}: credentials refused", code="InvalidCreds")
        if isinstance(exc, RateLimitReachedError):
            return ThrottledError(f"{where}: rate limited (HTTP 429)", code="429")
        if isinstance(exc, ServiceUnavailableError):
            return TransientError(f"{where}: service unavailable", code="503")
        if isinstance(exc, KeyPairDoesNotExistError):
            return NotFoundError(f"{where}: no such key pair", code="KeyPairNotFound")
        if isinstance(exc, BaseHTTPError):
            details = self._clean(getattr(exc, "message", "") or "")
            return self._by_status(int(exc.code), f"{where} failed (HTTP {exc.code}): {details}", details)
        if isinstance(exc, MalformedResponseError):
            body = exc.body if isinstance(exc.body, str) else json.dumps(exc.body, default=str)
            details = self._clean(f"{exc.value}: {body}")
            found = STATUS_IN_BODY.search(body or "")
            if found:
                status = int(found.group(1))
                return self._by_status(status, f"{where} failed (HTTP {status}): {details}", details)
            # An unreadable answer is most often a proxy's error page: worth another try.
            return TransientError(f"{where}: unreadable answer: {details}", code="MalformedResponse")
        if isinstance(exc, LibcloudProviderError):
            details = self._clean(exc.value)
            return self._by_status(int(exc.http_code), f"{where} failed (HTTP {exc.http_code}): {details}", details)
        if isinstance(exc, requests.exceptions.SSLError):
            return InvalidRequestError(f"{where}: TLS failed: {self._clean(exc)}", code="SSLError")
        if isinstance(exc, requests.ConnectionError | requests.Timeout | TimeoutError | socket.timeout | OSError):
            return TransientError(f"{where}: no answer: {self._clean(exc)}", code=name)
        if isinstance(exc, LibcloudError) and "endpoint" in str(exc.value).lower():
            # The service catalog has no such service in this region (or under the forced service name).
            region = self.account.region or "any region"
            return InvalidRequestError(
                f"{where}: no such service in {region}: {self._clean(exc.value)}", code="EndpointNotFound"
            )
        if isinstance(exc, LibcloudError):
            return ProviderError(f"{where} failed: {self._clean(exc.value)}", code=name)
        if isinstance(exc, TypeError | ValueError | NotImplementedError | KeyError):
            # Libcloud refuses arguments it does not take (a wrong driver_args key, an unsupported option).
            return InvalidRequestError(f"{where}: bad arguments: {self._clean(exc)}", code=name)
        return ProviderError(f"{where} failed: {self._clean(exc)}", code=name)

    @staticmethod
    def _by_status(status: int, message: str, details: str) -> ProviderError:
        """The error an HTTP status and its text mean."""
        lowered = details.lower()
        code = str(status)
        if "quota" in lowered and status in (403, 413):  # Nova: 403 today, 413 in older releases
            return QuotaExceededError(message, code=code)
        if "no valid host" in lowered:
            return CapacityError(message, code=code)
        if status in (401, 403):
            return AuthError(message, code=code)
        if status in (413, 429):
            return ThrottledError(message, code=code)
        if status == 404 or (status == 400 and "network" in lowered and "found" in lowered):
            # Nova answers an unknown network with 400; it is a missing object all the same.
            return NotFoundError(message, code=code)
        if status == 409 or (status >= 500 and status != 501):
            return TransientError(message, code=code)
        return InvalidRequestError(message, code=code)

    # --- conversions ---------------------------------------------------------------------
    def _libcloud_sizes(self) -> list[LibcloudSize]:
        """The provider's sizes, fetched once per driver."""
        if self._sizes is None:
            with self._api("list sizes"):
                self._sizes = list(self.driver.list_sizes())
        return self._sizes

    @staticmethod
    def _cpu_of(size: LibcloudSize) -> int:
        extra = size.extra or {}
        value = getattr(size, "vcpus", None) or extra.get("vcpus") or extra.get("cpu") or extra.get("cpus")
        try:
            return int(value or 0)
        except (TypeError, ValueError):
            return 0

    def _size_of(self, node: LibcloudNode) -> LibcloudSize | None:
        """The node's size, from the node itself or the size catalog (by Libcloud size id)."""
        if isinstance(node.size, LibcloudSize):
            return node.size
        extra = node.extra or {}
        wanted = extra.get("flavorId") or extra.get("size") or extra.get("instance_type") or extra.get("size_id")
        if not wanted:
            return None
        return next((size for size in self._libcloud_sizes() if wanted in (size.id, size.name)), None)

    def _node(self, node: LibcloudNode) -> Node:
        """A Libcloud node as a node."""
        metadata = _metadata_of(node)
        extra: dict[str, Any] = {
            key: value for key, value in (node.extra or {}).items() if key not in HIDDEN_EXTRA and key != "metadata"
        }
        if TOKEN_KEY in metadata:
            extra["client_token"] = metadata.pop(TOKEN_KEY)
        if _no_valid_host(node):
            # The provider found no host for it: a capacity failure, the engine places it elsewhere.
            extra["no_capacity"] = True
        size = self._size_of(node)
        public = [ip for ip in node.public_ips or [] if ip and ":" not in ip]
        private = [ip for ip in node.private_ips or [] if ip and ":" not in ip]
        zone = extra.get("availability_zone") or extra.get("zone") or ""
        if not zone and isinstance(extra.get("location"), NodeLocation):
            zone = extra["location"].name
        return Node(
            id=str(node.id),
            name=node.name or "",
            state=STATES.get(node.state, NodeState.UNKNOWN),
            private_ip=private[0] if private else None,
            public_ip=public[0] if public else None,
            cpu=self._cpu_of(size) or None if size else None,
            memory_gb=_gb(size.ram) or None if size else None,
            zone=str(zone or ""),
            instance_type=size.name if size else str(extra.get("flavorId") or ""),
            hourly_price=_price(size.price) if size else None,
            launched_at=provider_time(getattr(node, "created_at", None)),
            tags=metadata,
            extra=extra,
        )

    def _all_nodes(self) -> list[LibcloudNode]:
        def fetch() -> list[LibcloudNode]:
            with self._api("list nodes"):
                return list(self.driver.list_nodes())

        return retry_read(fetch)

    # --- the contract --------------------------------------------------------------------
    def create_nodes(
        self, spec: NodeSpec, count: int, *, client_token: str, tags: dict[str, str], first_attempt: bool = False
    ) -> list[Node]:
        """Create the nodes of this token still missing, one create_node call each, and return them all."""
        if not 1 <= count <= self.max_batch:
            raise InvalidRequestError(f"count must be between 1 and {self.max_batch}")
        if not client_token:
            raise InvalidRequestError("a client token is required")
        driver = self.driver
        with_metadata = _accepts(driver.create_node, "ex_metadata")
        # The token's digest in the name finds a batch on providers without metadata, and names it on all.
        base = f"{spec.name_prefix or 'dcp'}-{hashlib.sha256(client_token.encode()).hexdigest()[:12]}"
        earlier = [node for node in self._all_nodes() if self._of_token(node, client_token, base, with_metadata)]
        if len(earlier) >= count:
            return [self._node(node) for node in earlier]
        taken = {node.name for node in earlier}
        names = (f"{base}-{index}" for index in range(1, 2 * self.max_batch + 1) if f"{base}-{index}" not in taken)
        arguments: dict[str, Any] = {}

        def first(named: NodeSpec) -> LibcloudNode:
            # The first call names the key pair, and learns whether the provider still has it.
            arguments.update(self._create_arguments(named, tags, client_token, with_metadata))
            return self._create_node(next(names), arguments, spec)

        made: list[LibcloudNode] = [self.with_key_pair(spec, first)]
        for _ in range(count - len(earlier) - 1):
            made.append(self._create_node(next(names), arguments, spec))
        logger.info(
            "created %d of %d nodes of %s on account %s (%d existed)",
            len(made),
            count,
            spec.instance_type,
            self.account.name,
            len(earlier),
        )
        return [self._node(node) for node in earlier + made]

    def _create_node(self, name: str, arguments: dict[str, Any], spec: NodeSpec) -> LibcloudNode:
        """One create_node call; a node the provider had nowhere to put is destroyed and a CapacityError."""
        with self._api("create node"):
            node = self.driver.create_node(name=name, **arguments)
        if _no_valid_host(node):
            # Nothing could be placed: free the failed record now so it holds no quota, and let the engine
            # move on to another zone. Nodes already made stay and are found again by the token.
            self.destroy_nodes([str(node.id)])
            where = f" in zone {spec.zone}" if spec.zone else ""
            raise CapacityError(
                f"Libcloud {self.provider} has no host for {spec.instance_type}{where} on account"
                f" {self.account.name} (NoValidHost): {self._clean(node.extra['fault'].get('message', ''))}",
                code="NoValidHost",
            )
        return node

    def import_key_pair(self, name: str, public_key: str, region: str) -> bool:
        """import_key_pair_from_string where the Libcloud driver has it (and get_key_pair, and a key name at create);
        False where it has not: its nodes then get the image's own keys."""
        driver = self.driver
        cls = type(driver)
        can = all(
            getattr(cls, method) is not getattr(LibcloudNodeDriver, method)
            for method in ("get_key_pair", "import_key_pair_from_string")
        )
        if not can or not _accepts(driver.create_node, "ex_keyname"):
            logger.info("Libcloud %s cannot import key pairs; nodes keep the image's keys", self.provider)
            return False

        def find() -> Any:
            with self._api("find key pair"):
                return driver.get_key_pair(name)

        try:
            found = retry_read(find)
        except NotFoundError:
            with self._api("import key pair"):
                driver.import_key_pair_from_string(name, public_key)
            logger.info("Libcloud %s key pair %s imported on %s", self.provider, name, self.account.name)
            return True
        if not same_public_key(found.public_key or "", public_key):
            raise InvalidRequestError(
                f"Libcloud {self.provider} key pair {name} holds another key; delete it or rename it"
            )
        return True

    def _of_token(self, node: LibcloudNode, client_token: str, base: str, with_metadata: bool) -> bool:
        """Whether a live node was made for this client token."""
        if STATES.get(node.state, NodeState.UNKNOWN) in GONE:
            return False
        if with_metadata:
            return _metadata_of(node).get(TOKEN_KEY) == client_token
        return (node.name or "").startswith(f"{base}-")

    def _create_arguments(
        self, spec: NodeSpec, tags: dict[str, str], client_token: str, with_metadata: bool
    ) -> dict[str, Any]:
        """The keyword arguments of every create_node call of a batch."""
        driver = self.driver
        create = driver.create_node
        arguments: dict[str, Any] = {"size": self._size_for(spec.instance_type), "image": self._image_for(spec.image)}
        if with_metadata:
            arguments["ex_metadata"] = {**{str(k): str(v) for k, v in tags.items()}, TOKEN_KEY: client_token}
        if spec.zone:
            if _accepts(create, "ex_availability_zone"):
                arguments["ex_availability_zone"] = spec.zone
            else:
                arguments["location"] = self._location_for(spec.zone)
        if spec.network:
            arguments.update(self._network_arguments(spec.network))
        if spec.key_name:
            if not _accepts(create, "ex_keyname"):
                raise InvalidRequestError(f"Libcloud {self.provider} takes no key pair name at create")
            arguments["ex_keyname"] = spec.key_name
        if spec.security_groups:
            arguments.update(self._security_group_arguments(spec.security_groups))
        extra = (self.account.options or {}).get("create_args") or {}
        return {**extra, **arguments}

    def _size_for(self, instance_type: str) -> LibcloudSize:
        """The Libcloud size a template's instance type (a name or an id) names."""
        sizes = self._libcloud_sizes()
        found = next((size for size in sizes if size.name == instance_type), None) or next(
            (size for size in sizes if str(size.id) == instance_type), None
        )
        if found is None:
            raise InvalidRequestError(
                f"no size {instance_type!r} on Libcloud {self.provider} account {self.account.name}",
                code="SizeNotFound",
            )
        return found

    def _image_for(self, image: str) -> NodeImage:
        """The image as an id; the provider refuses an unknown one at create (listing catalogs can be huge)."""
        if not image:
            raise InvalidRequestError("an image is required to create a node")
        return NodeImage(id=image, name=image, driver=self.driver)

    def _location_for(self, zone: str) -> NodeLocation:
        """The Libcloud location named by a zone."""
        with self._api("list locations"):
            locations = list(self.driver.list_locations())
        found = next((location for location in locations if zone in (str(location.id), location.name)), None)
        if found is None:
            raise InvalidRequestError(f"no location {zone!r} on Libcloud {self.provider} account {self.account.name}")
        return found

    def _network_arguments(self, network: str) -> dict[str, Any]:
        """The create arguments that attach a node to a network, in the provider driver's own form."""
        create = self.driver.create_node
        if self.provider == OPENSTACK and _accepts(create, "networks"):
            from libcloud.compute.drivers.openstack import OpenStackNetwork

            return {"networks": [OpenStackNetwork(id=network, name=network, cidr=None, driver=self.driver)]}
        for name in ("ex_network", "ex_subnet", "ex_vpc_id"):
            if _accepts(create, name):
                return {name: network}
        raise InvalidRequestError(f"Libcloud {self.provider} takes no network at create")

    def _security_group_arguments(self, groups: tuple[str, ...]) -> dict[str, Any]:
        """The create arguments that put a node in security groups."""
        create = self.driver.create_node
        if self.provider == OPENSTACK:
            from libcloud.compute.drivers.openstack import OpenStackSecurityGroup

            # Only the names are sent: no security-group listing (a Neutron call) is needed.
            return {
                "ex_security_groups": [
                    OpenStackSecurityGroup(id=group, tenant_id=None, name=group, description="", driver=self.driver)
                    for group in groups
                ]
            }
        if _accepts(create, "ex_security_groups"):
            return {"ex_security_groups": list(groups)}
        raise InvalidRequestError(f"Libcloud {self.provider} takes no security groups at create")

    def get_nodes(self, ids: list[str]) -> list[Node]:
        """The nodes among these ids that still exist, from one listing."""
        if not ids:
            return []
        wanted = set(ids)
        return [self._node(node) for node in self._all_nodes() if str(node.id) in wanted]

    def list_nodes(self, tags: dict[str, str] | None = None) -> list[Node]:
        """Live nodes whose metadata has all these tags."""
        wanted = (tags or {}).items()
        nodes = []
        for node in self._all_nodes():
            metadata = _metadata_of(node)
            if all(metadata.get(key) == value for key, value in wanted):
                converted = self._node(node)
                if converted.state not in GONE:
                    nodes.append(converted)
        return nodes

    def tag_nodes(self, tags_by_id: dict[str, dict[str, str]]) -> None:
        """Add tags where the provider's Libcloud driver can: EC2-like ``ex_create_tags``, or Nova-like metadata.

        Nova-like drivers only replace metadata whole, so each node's current
        metadata (from one listing) is merged with the new keys first. On a
        provider that can do neither, the node keeps the batch's digest in its
        name, which is how DCP finds it there.
        """
        driver = self.driver
        if hasattr(driver, "ex_create_tags"):
            for node_id, tags in tags_by_id.items():
                try:
                    with self._api(f"tag node {node_id}"):
                        driver.ex_create_tags(_node_ref(node_id, driver), {k: str(v) for k, v in tags.items()})
                except NotFoundError:
                    continue
            return
        if not hasattr(driver, "ex_set_metadata"):
            logger.info(
                "%s: Libcloud's %s driver cannot tag nodes; names identify them", self.account.name, driver.name
            )
            return
        current = {str(node.id): node for node in self._all_nodes() if str(node.id) in tags_by_id}
        for node_id, node in current.items():
            merged = {**_metadata_of(node), **{k: str(v) for k, v in tags_by_id[node_id].items()}}
            try:
                with self._api(f"set metadata of node {node_id}"):
                    driver.ex_set_metadata(node, merged)
            except NotFoundError:
                continue

    def destroy_nodes(self, ids: list[str]) -> None:
        """Destroy each node (one call each); one already gone is fine."""
        for node_id in ids:
            # destroy_node takes a node; only its id is read, so no lookup is needed first.
            target = _node_ref(node_id, self.driver)
            try:
                with self._api(f"destroy node {node_id}"):
                    self.driver.destroy_node(target)
            except NotFoundError:
                continue

    def list_sizes(self) -> list[Size]:
        """Sizes keyed by name: templates and the price catalog name them (for most providers the id is the name)."""
        return [
            Size(
                id=size.name or str(size.id),
                name=size.name or str(size.id),
                cpu=self._cpu_of(size),
                memory_gb=_gb(size.ram),
                hourly_price=_price(size.price),
                extra={"size_id": str(size.id), "disk_gb": size.disk, "bandwidth": size.bandwidth},
            )
            for size in sorted(self._libcloud_sizes(), key=lambda s: (self._cpu_of(s), s.ram or 0, s.name or ""))
        ]

    def quote_prices(self, wanted: list[tuple[str, str]]) -> list[Quote]:
        """Each size's price as Libcloud gives it (its pricing data, or a custom pricing file), in its region.

        Libcloud's prices are US dollars per hour; how the provider bills part of an hour it does not
        say, so every started hour is billed whole (per_hour), never less than the provider may bill.
        """
        region = self.account.region
        sizes = {size.id: size for size in self.list_sizes()}
        quotes = [
            Quote(region, size.id, size.hourly_price, "USD", "per_hour")
            if size.hourly_price
            else Quote(region, size.id, None, note="Libcloud has no price for this size")
            for size in sizes.values()
        ]
        for where, instance_type in dict.fromkeys(wanted):
            if where != region:
                quotes.append(Quote(where, instance_type, None, note=f"the account's driver prices {region} only"))
            elif instance_type not in sizes:
                quotes.append(Quote(where, instance_type, None, note="the provider lists no such size"))
        return quotes

    def list_images(self) -> list[Image]:
        """Images the account can boot from."""
        with self._api("list images"):
            images = list(self.driver.list_images())
        return [
            Image(
                id=str(image.id),
                name=image.name or str(image.id),
                extra={k: v for k, v in (image.extra or {}).items() if isinstance(v, str | int | float | bool)},
            )
            for image in images
        ]

    def list_locations(self) -> list[Location]:
        """Zones: the driver's availability zones where it can list them, else its locations."""
        driver = self.driver
        if hasattr(driver, "ex_list_availability_zones"):
            with self._api("list availability zones"):
                zones = list(driver.ex_list_availability_zones())
            return [self._zone(getattr(zone, "name", zone), {}) for zone in zones]
        if self.provider == OPENSTACK:
            # Libcloud's OpenStack driver reports a single placeholder location; Nova's zones come from its
            # os-availability-zone listing, read through the driver's own authenticated connection.
            with self._api("list availability zones"):
                body = driver.connection.request("/os-availability-zone").object or {}
            return [
                self._zone(
                    zone.get("zoneName", ""), {"available": bool((zone.get("zoneState") or {}).get("available"))}
                )
                for zone in body.get("availabilityZoneInfo") or []
                if zone.get("zoneName")
            ]
        with self._api("list locations"):
            locations = list(driver.list_locations())
        return [
            Location(
                id=str(location.id),
                name=location.name or str(location.id),
                region=self.account.region,
                extra={"country": location.country},
            )
            for location in locations
        ]

    def _zone(self, name: Any, extra: dict[str, Any]) -> Location:
        return Location(id=str(name), name=str(name), region=self.account.region, extra=extra)

    def check_credentials(self) -> None:
        """Authenticate afresh with a new driver (a cached token proves nothing about the secret now)."""
        fresh = self._make_driver()
        with self._api("check credentials"):
            fresh.list_sizes()


def _node_ref(node_id: str, driver: NodeDriver) -> LibcloudNode:
    """A Libcloud node standing for an id, enough for calls that read only the id."""
    from libcloud.compute.base import Node as LibcloudNode

    return LibcloudNode(id=node_id, name="", state=LibcloudState.UNKNOWN, public_ips=[], private_ips=[], driver=driver)
