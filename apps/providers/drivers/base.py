"""The driver contract every provider implements, its data types and its error tree.

Modelled on Apache Libcloud's NodeDriver: a uniform node state, sizes in GB and
price per hour, provider-only data in ``extra``. ``create_nodes`` returns at
once and takes an idempotency token; waiting for a node to run is a separate
step (``get_nodes``); ``destroy_nodes`` treats "already gone" as success.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import random
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

if TYPE_CHECKING:
    from apps.providers.models import CloudAccount

T = TypeVar("T")
logger = logging.getLogger(__name__)


class NodeState(StrEnum):
    """A node's state, the same words for every provider."""

    PENDING = "pending"
    RUNNING = "running"
    STOPPING = "stopping"
    STOPPED = "stopped"
    TERMINATED = "terminated"
    ERROR = "error"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Node:
    """One instance or machine as its provider reports it."""

    id: str
    name: str
    state: NodeState
    private_ip: str | None = None
    public_ip: str | None = None
    cpu: int | None = None
    memory_gb: Decimal | None = None
    zone: str = ""
    instance_type: str = ""
    hourly_price: Decimal | None = None
    #: When the instance came to exist, as the provider reports it (None: it does not say, or not yet).
    launched_at: datetime | None = None
    tags: dict[str, str] = field(default_factory=dict)
    #: Provider-only data; ``no_capacity`` is set on a failed node the provider had nowhere to put.
    extra: dict[str, Any] = field(default_factory=dict)


def provider_time(value: Any) -> datetime | None:
    """A time a provider reports (a datetime, or ISO 8601 text such as ``2026-01-02T03:04Z``) as an aware UTC
    datetime; None when it is missing or unreadable. Text without an offset is UTC, as every provider means it."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and value.strip():
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass(frozen=True)
class Size:
    """An instance type, flavor or machine class, in normalised units."""

    id: str
    name: str
    cpu: int
    memory_gb: Decimal
    hourly_price: Decimal | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Quote:
    """A provider's own on-demand price of one instance type in one region (what it bills an hour of it).

    ``hourly_price`` is None when the provider has no price for it, and 0 when it answers a price of
    0: both are unknown prices, never free ones, and ``note`` says which. ``billing`` and ``minimum_seconds`` are the
    provider's billing rule for the type, in the catalog's words (``per_second``/``per_hour``).
    """

    region: str
    instance_type: str
    hourly_price: Decimal | None
    currency: str = ""
    billing: str = "per_second"
    minimum_seconds: int = 0
    note: str = ""


@dataclass(frozen=True)
class Image:
    """A boot image."""

    id: str
    name: str
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Location:
    """A zone (or IDC) nodes can be placed in."""

    id: str
    name: str
    region: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class NodeSpec:
    """What to create: taken from a machine template."""

    instance_type: str
    image: str = ""
    region: str = ""
    zone: str = ""
    cpu: int | None = None
    memory_gb: Decimal | None = None
    network: str = ""
    subnet: str = ""
    security_groups: tuple[str, ...] = ()
    key_name: str = ""
    name_prefix: str = "dcp"
    #: DCP's public key (OpenSSH line) for the new nodes when the template names no key pair of its own:
    #: the driver imports it into the provider once and names it at create.
    public_key: str = ""

    @classmethod
    def from_template(
        cls, template, name_prefix: str = "dcp", zone: str | None = None, public_key: str = ""
    ) -> NodeSpec:
        """Build the spec a template describes (in zone, one of the template's, when given)."""
        return cls(
            instance_type=template.instance_type,
            image=template.image,
            region=template.region or template.provider.region,
            zone=template.zone if zone is None else zone,
            cpu=template.cpu,
            memory_gb=template.memory_gb,
            network=template.network,
            subnet=template.subnet if zone is None else template.subnet_for(zone),
            security_groups=tuple(template.security_groups or ()),
            key_name=template.key_name,
            name_prefix=name_prefix,
            public_key="" if template.key_name else public_key,
        )


class ProviderError(Exception):
    """A provider call failed. ``retryable`` says whether the same call may succeed later."""

    #: The kind of error in one word, as /metrics and failed hosts name it.
    label: ClassVar[str] = "other"
    retryable: ClassVar[bool] = False

    def __init__(self, message: str, *, code: str = ""):
        super().__init__(message)
        self.message = message
        self.code = code


class AuthError(ProviderError):
    """The credentials are wrong, expired, or lack a permission."""

    label = "auth"


class InvalidRequestError(ProviderError):
    """The request is wrong (unknown image, bad parameter): fix the template."""

    label = "invalid_request"


class NotFoundError(ProviderError):
    """The named object does not exist."""

    label = "not_found"


class QuotaExceededError(ProviderError):
    """The account's quota would be exceeded."""

    label = "quota"


class CapacityError(ProviderError):
    """The provider has no stock of this type in this zone right now."""

    label = "capacity"


class ThrottledError(ProviderError):
    """The provider's API rate limit was hit: back off and retry."""

    label = "throttled"
    retryable = True


class TransientError(ProviderError):
    """A passing fault (5xx, timeout, connection reset): retry."""

    label = "transient"
    retryable = True


READ_ATTEMPTS = 3


def retry_read(fetch: Callable[[], T], attempts: int = READ_ATTEMPTS) -> T:
    """Run a read, retrying it briefly (jittered, well under a second each) when throttled or given a 5xx.

    Reads are safe to repeat, and one engine step may make several (look for
    an earlier batch, list sizes, the batch made): failing the whole step for
    one flaky read makes a step under steady throttling almost never succeed.
    Writes are never retried here: the engine retries them, idempotently.
    """
    for attempt in range(1, attempts + 1):
        try:
            return fetch()
        except (ThrottledError, TransientError):
            if attempt == attempts:
                raise
            time.sleep(random.uniform(0.1, 0.3) * attempt)  # noqa: S311 - jitter, not a secret
    raise AssertionError("unreachable")


def public_key_blob(public_key: str) -> bytes:
    """The key itself of an OpenSSH public key line (its base64 part, decoded); ValueError if there is none."""
    parts = public_key.split()
    if len(parts) < 2:
        raise ValueError("not an OpenSSH public key line")
    return base64.b64decode(parts[1], validate=True)


def same_public_key(one: str, other: str) -> bool:
    """Whether two OpenSSH public key lines hold the same key (comments aside)."""
    try:
        return public_key_blob(one) == public_key_blob(other)
    except ValueError:
        return False


def key_pair_name(public_key: str) -> str:
    """The stable name DCP gives its key pair in a provider: derived from the key's SHA256 fingerprint.

    The same key has the same name on every account and region, so it is imported once and found again;
    a rotated key has a new name, so hosts launched with the old one keep naming a key pair that exists.
    Letters, digits and dashes only, starting with a letter: every provider's rule for names.
    """
    return "dcp-" + hashlib.sha256(public_key_blob(public_key)).hexdigest()[:32]


# Key pairs this process has seen in place: (kind, account, endpoint, region, name). A provider's key pair is
# checked once per process, not before every create.
_key_pairs_in_place: set[tuple] = set()
_key_pairs_lock = threading.Lock()


def _refuses_key_pair(exc: ProviderError) -> bool:
    """Whether a create was refused because the key pair it names does not exist (EC2, ECS, Nova words)."""
    return "keypair" in exc.code.lower() or "key_name" in exc.message.lower()


class Driver(ABC):
    """The interface every provider driver implements."""

    kind: ClassVar[str]
    #: The most nodes one create call may ask for; larger batches are split by the engine.
    max_batch: ClassVar[int] = 100
    #: Whether get_node costs one small call, so the engine may probe one booting node often
    #: instead of describing its whole batch (False where it would list every node anyway).
    cheap_get_node: ClassVar[bool] = True

    def __init__(self, account: CloudAccount):
        self.account = account

    @abstractmethod
    def create_nodes(
        self, spec: NodeSpec, count: int, *, client_token: str, tags: dict[str, str], first_attempt: bool = False
    ) -> list[Node]:
        """Start creating count nodes and return at once; the same token again creates nothing new.

        ``first_attempt`` says the caller knows no earlier call with this token was made, so a driver
        whose provider ignores or lacks client tokens may skip looking for what such a call made.
        """

    @abstractmethod
    def get_nodes(self, ids: list[str]) -> list[Node]:
        """The nodes with these ids that still exist."""

    def get_node(self, node_id: str) -> Node | None:
        """One node, or None once it no longer exists; drivers with a cheaper single look-up override this."""
        nodes = self.get_nodes([node_id])
        return nodes[0] if nodes else None

    @abstractmethod
    def list_nodes(self, tags: dict[str, str] | None = None) -> list[Node]:
        """Every live node carrying all of these tags."""

    @abstractmethod
    def tag_nodes(self, tags_by_id: dict[str, dict[str, str]]) -> None:
        """Add (or overwrite) these tags on each node, keeping its others; nodes already gone are skipped.

        A batch is created with the tags its nodes share; this names each node's own
        host afterwards. Clouds take one call per node for that, so it is paced and
        done off the path that makes hosts ready.
        """

    @abstractmethod
    def destroy_nodes(self, ids: list[str]) -> None:
        """Destroy these nodes; ids already gone are not an error."""

    @abstractmethod
    def list_sizes(self) -> list[Size]:
        """Instance types, flavors or machine classes on offer."""

    @abstractmethod
    def list_images(self) -> list[Image]:
        """Images nodes can boot from."""

    @abstractmethod
    def list_locations(self) -> list[Location]:
        """Zones nodes can be placed in."""

    @abstractmethod
    def check_credentials(self) -> None:
        """Raise AuthError if the account's credentials do not work."""

    def quote_prices(self, wanted: list[tuple[str, str]]) -> list[Quote]:
        """The provider's own prices of these (region, instance type) pairs, and of any other type it lists
        in the same answer; [] when the provider publishes no prices (OpenStack, own machines)."""
        return []

    def find_image(self, image: str) -> Image | None:
        """The image with this id (or name), or None; providers with huge public catalogs look it up directly."""
        return next((found for found in self.list_images() if image in (found.id, found.name)), None)

    def available_capacity(self, spec: NodeSpec) -> int | None:
        """How many more nodes of this spec can be had now; None when the provider cannot tell."""
        return None

    def key_pair(self, spec: NodeSpec) -> str:
        """The key pair name to create spec's nodes with: the template's own, else DCP's key, imported once.

        Empty when the spec carries no key or the provider cannot import one (its nodes then get the
        image's own keys, as before).
        """
        if spec.key_name or not spec.public_key:
            return spec.key_name
        name = key_pair_name(spec.public_key)
        seen = (self.kind, self.account.pk, self.account.endpoint_url, spec.region, name)
        with _key_pairs_lock:
            if seen in _key_pairs_in_place:
                return name
        if not self.import_key_pair(name, spec.public_key, spec.region):
            return ""
        with _key_pairs_lock:
            _key_pairs_in_place.add(seen)
        return name

    def with_key_pair(self, spec: NodeSpec, create: Callable[[NodeSpec], T]) -> T:
        """Run create with spec naming its key pair (see key_pair); once more after importing the key again
        when the provider refuses the create for want of it (someone deleted the key pair since this
        process imported it). A refused create made nothing, so calling it again is safe."""
        named = replace(spec, key_name=self.key_pair(spec))
        try:
            return create(named)
        except (NotFoundError, InvalidRequestError) as exc:
            if spec.key_name or not named.key_name or not _refuses_key_pair(exc):
                raise
            logger.warning("%s: key pair %s is gone; importing it again", self.account, named.key_name)
        with _key_pairs_lock:
            _key_pairs_in_place.difference_update({seen for seen in _key_pairs_in_place if seen[1] == self.account.pk})
        return create(replace(spec, key_name=self.key_pair(spec)))

    def import_key_pair(self, name: str, public_key: str, region: str) -> bool:
        """Make the provider hold public_key as key pair name (in region), unless it already does.

        Returns False where the provider has no key pairs to import into. A key pair of that name holding
        another key is an InvalidRequestError: DCP never overwrites a key pair it did not make.
        """
        return False

    def tokens_in_use(self, client_tokens: set[str]) -> set[str]:
        """Those of these create tokens whose nodes the provider already counts out of available_capacity."""
        return set()
