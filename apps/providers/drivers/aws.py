"""The AWS EC2 driver: batches through one RunInstances call, typed errors, no duplicate instances.

Every call goes through boto3's EC2 client with botocore's own retries turned
off (one attempt), so a throttled or failed call surfaces at once as a typed
error and DCP's shared rate limiter decides when to try again.

Idempotency has two layers. EC2 honours ``ClientToken`` on ``RunInstances``,
and every instance is also tagged ``dcp-client-token``: before creating, the
driver looks for live instances carrying the token and returns those. The tag
lookup covers endpoints that ignore ``ClientToken`` and a retry after the first
call's answer was lost; ``ClientToken`` covers the moments when a just-created
instance is not yet visible to ``DescribeInstances``.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable, Iterator
from decimal import ROUND_HALF_UP, Decimal
from functools import cached_property
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    HTTPClientError,
    NoCredentialsError,
    ParamValidationError,
    PartialCredentialsError,
    ReadTimeoutError,
)

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

logger = logging.getLogger(__name__)

#: The tag that carries a batch's client token, so a retried create finds what the first one made.
TOKEN_TAG = "dcp-client-token"  # noqa: S105 - a tag name, not a secret

AUTH_CODES = frozenset(
    {
        "AuthFailure",
        "UnauthorizedOperation",
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
        "AccessDenied",
        "ExpiredToken",
        "RequestExpired",
    }
)
THROTTLE_CODES = frozenset({"RequestLimitExceeded", "Throttling", "ThrottlingException"})
# "Unsupported" is EC2's answer for an instance type not offered in the requested zone:
# another zone or template can still serve the batch, which is what a capacity error means.
CAPACITY_CODES = frozenset(
    {"InsufficientInstanceCapacity", "InsufficientCapacity", "InsufficientHostCapacity", "Unsupported"}
)
QUOTA_CODES = frozenset({"InstanceLimitExceeded", "VcpuLimitExceeded", "MaxSpotInstanceCountExceeded"})
TRANSIENT_CODES = frozenset({"InternalError", "InternalFailure", "ServiceUnavailable", "Unavailable"})
# An unknown image or instance type is a template to fix, not a missing object to look for elsewhere.
INVALID_PREFIXES = ("InvalidAMIID.", "InvalidInstanceType")
CONNECTION_ERRORS = (
    EndpointConnectionError,
    ConnectTimeoutError,
    ReadTimeoutError,
    ConnectionClosedError,
    HTTPClientError,
)
#: The Pricing API is served from a few regions only; us-east-1 answers for every EC2 region.
PRICING_REGION = "us-east-1"
#: What an on-demand Linux instance is, in the Pricing API's product attributes (besides type and region).
LINUX_ON_DEMAND = {"operatingSystem": "Linux", "tenancy": "Shared", "preInstalledSw": "NA", "capacitystatus": "Used"}
#: EC2 bills Linux on-demand instances per second, with a minimum of 60 seconds.
LINUX_BILLING = ("per_second", 60)
# EC2 refuses a whole DescribeInstances/TerminateInstances call when any one id is unknown.
UNKNOWN_ID_CODES = frozenset({"InvalidInstanceID.NotFound", "InvalidInstanceID.Malformed"})

STATES = {
    "pending": NodeState.PENDING,
    "running": NodeState.RUNNING,
    "stopping": NodeState.STOPPING,
    "stopped": NodeState.STOPPED,
    # An instance shutting down has been terminated and never comes back.
    "shutting-down": NodeState.TERMINATED,
    "terminated": NodeState.TERMINATED,
}
LISTED_STATES = ["pending", "running", "stopping", "stopped"]

# One boto3 session for the process: a new session parses EC2's service model again (half a second),
# and clients take their credentials explicitly. Sessions are not thread-safe, clients are: hence the lock.
_session: boto3.session.Session | None = None
_session_lock = threading.Lock()


def _new_client(service: str = "ec2", **kwargs: Any) -> Any:
    """A client of service (EC2 unless told) made from the process's shared boto3 session."""
    global _session
    with _session_lock:
        if _session is None:
            _session = boto3.session.Session()
        return _session.client(service, **kwargs)


def warm_up() -> None:
    """Parse EC2's service model now, in a worker's main process before it forks, so no pool process has to.

    Each pool process otherwise spent about half a second of CPU on it in its first EC2 task, all at
    the start of a scale-out. The client made here never sends a request (its key is a placeholder).
    """
    _new_client(region_name="us-east-1", aws_access_key_id="warm-up", aws_secret_access_key="warm-up")  # noqa: S106 - no secret


def _redact(text: str, secrets: Iterable[str]) -> str:
    """Text with every secret replaced, so no credential reaches a message or a log."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def map_error(exc: Exception, *, operation: str = "", secrets: Iterable[str] = ()) -> ProviderError:
    """The typed DCP error for a botocore exception (a ClientError, a connection failure or a bad parameter)."""
    prefix = f"EC2 {operation}: " if operation else "EC2: "
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code") or "")
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        message = _redact(f"{prefix}{code}: {error.get('Message') or 'no message'}", secrets)
        return _error_class(code, status)(message, code=code)
    text = _redact(f"{prefix}{exc}", secrets)
    if isinstance(exc, CONNECTION_ERRORS):
        return TransientError(text, code=type(exc).__name__)
    if isinstance(exc, (NoCredentialsError, PartialCredentialsError)):
        return AuthError(text, code=type(exc).__name__)
    if isinstance(exc, ParamValidationError):
        return InvalidRequestError(text, code=type(exc).__name__)
    # Any other botocore failure (an unreadable answer, say) is a fault of the exchange, not of the request.
    return TransientError(text, code=type(exc).__name__)


def _error_class(code: str, status: int) -> type[ProviderError]:
    """The error class for an EC2 error code, falling back on the HTTP status."""
    if code in AUTH_CODES:
        return AuthError
    if code in THROTTLE_CODES:
        return ThrottledError
    if code in CAPACITY_CODES:
        return CapacityError
    if code in QUOTA_CODES:
        return QuotaExceededError
    if code in TRANSIENT_CODES:
        return TransientError
    if code.startswith(INVALID_PREFIXES):
        return InvalidRequestError
    if code.endswith(".NotFound"):
        return NotFoundError
    if status >= 500:
        return TransientError
    if status in (401, 403):
        return AuthError
    if status == 429:
        return ThrottledError
    return InvalidRequestError


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    """Consecutive slices of at most size items."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _memory_gb(mib: int | None) -> Decimal | None:
    """MiB as GB with two decimals (what hosts and templates store)."""
    if not mib:
        return None
    return (Decimal(mib) / Decimal(1024)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _image(item: dict[str, Any]) -> Image:
    """An AMI from DescribeImages."""
    return Image(
        id=item["ImageId"],
        name=item.get("Name") or item["ImageId"],
        extra={
            "owner": item.get("OwnerId", ""),
            "state": item.get("State", ""),
            "architecture": item.get("Architecture", ""),
            "platform": item.get("PlatformDetails", ""),
            "created": item.get("CreationDate", ""),
        },
    )


class AwsDriver(Driver):
    """AWS EC2 (or any endpoint speaking EC2's Query API) in the account's region."""

    kind = "aws"
    max_batch = 100
    #: Instance ids per DescribeInstances/TerminateInstances call (EC2 accepts up to 1000).
    id_chunk: int = 1000
    #: Values per ``instance-id`` filter when falling back from unknown ids.
    filter_chunk: int = 200
    #: MaxResults for filtered DescribeInstances pages (EC2 allows 5..1000). Tunables, per class or instance.
    page_size: int = 1000
    #: MaxResults for DescribeInstanceTypes pages (EC2 allows at most 100).
    type_page_size: int = 100
    connect_timeout: float = 5
    read_timeout: float = 30

    def __init__(self, account) -> None:
        super().__init__(account)
        self._sizes: dict[str, Size] = {}

    # --- the client ----------------------------------------------------------------
    def _secrets(self) -> list[str]:
        """Credential values that must never appear in a message."""
        credentials = self.account.credentials or {}
        return [str(credentials.get(key) or "") for key in ("secret_access_key", "session_token", "access_key_id")]

    def _credentials(self) -> dict[str, Any]:
        """The account's credentials, once checked to hold a key pair and the account a region."""
        credentials = self.account.credentials or {}
        missing = [key for key in ("access_key_id", "secret_access_key") if not credentials.get(key)]
        if missing:
            raise AuthError(f"account {self.account.name} has no {', '.join(missing)}", code="MissingCredentials")
        if not self.account.region:
            raise InvalidRequestError(f"account {self.account.name} has no region", code="MissingRegion")
        return credentials

    def _new_client(self, service: str, region: str, endpoint_url: str | None) -> Any:
        """A boto3 client of service for the account, with botocore's own retries off."""
        credentials = self._credentials()
        options = self.account.options or {}
        config = Config(
            connect_timeout=options.get("connect_timeout", self.connect_timeout),
            read_timeout=options.get("read_timeout", self.read_timeout),
            # One attempt in all: DCP's own back-off, shared by every worker, decides when to retry.
            # (botocore's "max_attempts" counts retries after the first call; "total_max_attempts" counts calls.)
            retries={"total_max_attempts": 1, "mode": "standard"},
            user_agent_extra="dcp",
        )
        return _new_client(
            service,
            aws_access_key_id=credentials["access_key_id"],
            aws_secret_access_key=credentials["secret_access_key"],
            aws_session_token=credentials.get("session_token") or None,
            region_name=region,
            endpoint_url=endpoint_url,
            config=config,
        )

    @cached_property
    def _client(self) -> Any:
        """A boto3 EC2 client for the account, made on first use."""
        return self._new_client("ec2", self.account.region, self.account.endpoint_url or None)

    def _call(self, operation: str, **params: Any) -> dict[str, Any]:
        """One EC2 call; any failure comes out as a typed ProviderError."""
        try:
            return getattr(self._client, operation)(**params)
        except (ClientError, BotoCoreError) as exc:
            raise map_error(exc, operation=_action(operation), secrets=self._secrets()) from exc

    def _pages(self, operation: str, result_key: str, **params: Any) -> list[dict[str, Any]]:
        """Every item of a paginated EC2 call, following NextToken to the end."""
        items: list[dict[str, Any]] = []
        try:
            for page in self._client.get_paginator(operation).paginate(**params):
                items.extend(page.get(result_key, []))
        except (ClientError, BotoCoreError) as exc:
            raise map_error(exc, operation=_action(operation), secrets=self._secrets()) from exc
        return items

    # --- instances -----------------------------------------------------------------
    def _describe(self, **params: Any) -> list[dict[str, Any]]:
        """Instances of every page of DescribeInstances."""
        if "InstanceIds" not in params:
            # EC2 refuses MaxResults together with InstanceIds, so pages are sized only for filters.
            params["PaginationConfig"] = {"PageSize": self.page_size}
        reservations = self._pages("describe_instances", "Reservations", **params)
        return [instance for reservation in reservations for instance in reservation.get("Instances", [])]

    def _describe_ids(self, ids: list[str]) -> list[dict[str, Any]]:
        """Instances with these ids; unknown or malformed ids are left out, not an error."""
        try:
            return self._describe(InstanceIds=ids)
        except ProviderError as exc:
            if exc.code not in UNKNOWN_ID_CODES:
                raise
        # A filter on instance-id matches what exists and ignores the rest.
        found: list[dict[str, Any]] = []
        for chunk in _chunks(ids, self.filter_chunk):
            found.extend(self._describe(Filters=[{"Name": "instance-id", "Values": chunk}]))
        return found

    def _by_token(self, client_token: str) -> list[dict[str, Any]]:
        """Live instances an earlier create with this token made."""
        return self._describe(
            Filters=[
                {"Name": f"tag:{TOKEN_TAG}", "Values": [client_token]},
                {"Name": "instance-state-name", "Values": ["pending", "running"]},
            ]
        )

    def _run_params(self, spec: NodeSpec, count: int, client_token: str, tags: dict[str, str]) -> dict[str, Any]:
        """RunInstances parameters for one batch."""
        all_tags = {**tags, TOKEN_TAG: client_token}
        params: dict[str, Any] = {
            "ImageId": spec.image,
            "InstanceType": spec.instance_type,
            "MinCount": count,
            "MaxCount": count,
            "ClientToken": client_token,
            "TagSpecifications": [
                {"ResourceType": "instance", "Tags": [{"Key": k, "Value": str(v)} for k, v in all_tags.items()]}
            ],
        }
        if spec.zone:
            params["Placement"] = {"AvailabilityZone": spec.zone}
        if spec.subnet:
            params["SubnetId"] = spec.subnet
        if spec.security_groups:
            params["SecurityGroupIds"] = list(spec.security_groups)
        if spec.key_name:
            params["KeyName"] = spec.key_name
        return params

    def create_nodes(
        self, spec: NodeSpec, count: int, *, client_token: str, tags: dict[str, str], first_attempt: bool = False
    ) -> list[Node]:
        """Start count instances with one RunInstances call, or return the ones this token already made."""
        if count < 1:
            raise InvalidRequestError("count must be at least 1")
        if count > self.max_batch:
            raise InvalidRequestError(f"at most {self.max_batch} instances per call; {count} asked")
        if not client_token or len(client_token) > 64:
            raise InvalidRequestError("a client token of 1 to 64 characters is required")
        if not spec.image:
            raise InvalidRequestError("the spec names no image (AMI)")
        earlier = [] if first_attempt else self._by_token(client_token)
        if earlier:
            logger.info("EC2 batch %s already exists on %s: %d instance(s)", client_token, self.account, len(earlier))
            return self._nodes(earlier)
        reply = self.with_key_pair(
            spec, lambda named: self._call("run_instances", **self._run_params(named, count, client_token, tags))
        )
        instances = reply.get("Instances", [])
        logger.info("EC2 batch %s started on %s: %d instance(s)", client_token, self.account, len(instances))
        return self._nodes(instances)

    def import_key_pair(self, name: str, public_key: str, region: str) -> bool:
        """ImportKeyPair, unless DescribeKeyPairs finds the key pair already holding this key."""

        def describe() -> list[dict[str, Any]]:
            try:
                return self._call("describe_key_pairs", KeyNames=[name], IncludePublicKey=True).get("KeyPairs", [])
            except NotFoundError:
                return []

        found = retry_read(describe)
        if found:
            if not same_public_key(found[0].get("PublicKey") or public_key, public_key):
                raise InvalidRequestError(f"EC2 key pair {name} holds another key; delete it or rename it")
            return True
        try:
            self._call("import_key_pair", KeyName=name, PublicKeyMaterial=public_key.encode())
        except InvalidRequestError as exc:
            # Another worker imported it a moment ago: the same name is the same key.
            if exc.code != "InvalidKeyPair.Duplicate":
                raise
        logger.info("EC2 key pair %s imported on %s", name, self.account)
        return True

    def get_nodes(self, ids: list[str]) -> list[Node]:
        """These instances as EC2 reports them (terminated ones included, as TERMINATED); unknown ids left out."""
        unique = list(dict.fromkeys(ids))
        instances: list[dict[str, Any]] = []
        for chunk in _chunks(unique, self.id_chunk):
            instances.extend(self._describe_ids(chunk))
        return self._nodes(instances)

    def list_nodes(self, tags: dict[str, str] | None = None) -> list[Node]:
        """Every instance not terminated or shutting down that carries all these tags."""
        filters = [{"Name": f"tag:{key}", "Values": [str(value)]} for key, value in (tags or {}).items()]
        filters.append({"Name": "instance-state-name", "Values": LISTED_STATES})
        return self._nodes(self._describe(Filters=filters))

    def tag_nodes(self, tags_by_id: dict[str, dict[str, str]]) -> None:
        """One CreateTags call per instance (its tags are its own); instances EC2 no longer knows are skipped."""
        for instance_id, tags in tags_by_id.items():
            try:
                self._call(
                    "create_tags",
                    Resources=[instance_id],
                    Tags=[{"Key": key, "Value": str(value)} for key, value in tags.items()],
                )
            except ProviderError as exc:
                if exc.code not in UNKNOWN_ID_CODES:
                    raise

    def destroy_nodes(self, ids: list[str]) -> None:
        """Terminate these instances; ones already terminated or unknown are fine."""
        for chunk in _chunks(list(dict.fromkeys(ids)), self.id_chunk):
            self._terminate(chunk)

    def _terminate(self, ids: list[str]) -> None:
        """Terminate one chunk, dropping ids EC2 does not know and asking again."""
        try:
            self._call("terminate_instances", InstanceIds=ids)
            return
        except ProviderError as exc:
            if exc.code not in UNKNOWN_ID_CODES:
                raise
        existing = [i["InstanceId"] for i in self._describe_ids(ids) if i.get("State", {}).get("Name") != "terminated"]
        if existing:
            self._call("terminate_instances", InstanceIds=existing)

    # --- turning EC2 answers into Nodes ---------------------------------------------
    def _nodes(self, instances: list[dict[str, Any]]) -> list[Node]:
        """Nodes for these instances, with cores and memory from their instance types."""
        self._learn_sizes({i.get("InstanceType", "") for i in instances} - set(self._sizes) - {""})
        return [self._node(instance) for instance in instances]

    def _learn_sizes(self, types: set[str]) -> None:
        """Remember the sizes of these instance types; best effort, a Node without memory is still a Node."""
        for chunk in _chunks(sorted(types), self.type_page_size):
            try:
                reply = self._call("describe_instance_types", InstanceTypes=chunk)
            except ProviderError as exc:
                # The instances exist whatever happens here: failing the call now would hide them.
                logger.info("EC2 instance types %s not described: %s", ", ".join(chunk), exc.code)
                return
            for item in reply.get("InstanceTypes", []):
                size = _size(item)
                self._sizes[size.id] = size

    def _node(self, instance: dict[str, Any]) -> Node:
        """One EC2 instance as a Node."""
        tags = {tag["Key"]: tag["Value"] for tag in instance.get("Tags") or []}
        state_name = instance.get("State", {}).get("Name", "")
        instance_type = instance.get("InstanceType", "")
        size = self._sizes.get(instance_type)
        cpu_options = instance.get("CpuOptions") or {}
        cpu = cpu_options.get("CoreCount", 0) * cpu_options.get("ThreadsPerCore", 1) or (size.cpu if size else None)
        launch_time = instance.get("LaunchTime")
        return Node(
            id=instance["InstanceId"],
            name=tags.get("Name") or instance["InstanceId"],
            state=STATES.get(state_name, NodeState.UNKNOWN),
            private_ip=instance.get("PrivateIpAddress"),
            public_ip=instance.get("PublicIpAddress"),
            cpu=cpu,
            memory_gb=size.memory_gb if size else None,
            zone=instance.get("Placement", {}).get("AvailabilityZone", ""),
            instance_type=instance_type,
            launched_at=provider_time(launch_time),
            tags=tags,
            extra={
                "image": instance.get("ImageId", ""),
                "launch_time": launch_time.isoformat() if hasattr(launch_time, "isoformat") else launch_time,
                "state": state_name,
                "state_reason": (instance.get("StateReason") or {}).get("Message", ""),
                "subnet_id": instance.get("SubnetId", ""),
                "vpc_id": instance.get("VpcId", ""),
                "key_name": instance.get("KeyName", ""),
                "security_groups": [g.get("GroupId", "") for g in instance.get("SecurityGroups") or []],
                "private_dns_name": instance.get("PrivateDnsName", ""),
                "architecture": instance.get("Architecture", ""),
            },
        )

    # --- catalog and credentials -----------------------------------------------------
    def list_sizes(self) -> list[Size]:
        """Every instance type the region offers, cores as default vCPUs, memory in GB."""
        items = self._pages(
            "describe_instance_types", "InstanceTypes", PaginationConfig={"PageSize": self.type_page_size}
        )
        sizes = sorted((_size(item) for item in items), key=lambda size: size.id)
        self._sizes.update((size.id, size) for size in sizes)
        return sizes

    def list_images(self) -> list[Image]:
        """The account's own AMIs (public AMIs are looked up one by one with find_image)."""
        images = {item["ImageId"]: item for item in self._pages("describe_images", "Images", Owners=["self"])}
        return [_image(item) for item in sorted(images.values(), key=lambda item: item["ImageId"])]

    def find_image(self, image: str) -> Image | None:
        """An AMI by id, public or own, with one filtered DescribeImages (no error for an unknown id)."""
        found = self._pages("describe_images", "Images", Filters=[{"Name": "image-id", "Values": [image]}])
        return _image(found[0]) if found else None

    def list_locations(self) -> list[Location]:
        """The region's availability zones."""
        zones = self._call("describe_availability_zones").get("AvailabilityZones", [])
        return [
            Location(
                id=zone["ZoneName"],
                name=zone["ZoneName"],
                region=zone.get("RegionName", self.account.region),
                extra={"zone_id": zone.get("ZoneId", ""), "state": zone.get("State", "")},
            )
            for zone in zones
        ]

    @cached_property
    def _pricing(self) -> Any:
        """A boto3 Pricing API client: options.pricing_endpoint_url, else the account's endpoint, else AWS's own."""
        options = self.account.options or {}
        endpoint = options.get("pricing_endpoint_url") or self.account.endpoint_url or None
        return self._new_client("pricing", options.get("pricing_region") or PRICING_REGION, endpoint)

    def quote_prices(self, wanted: list[tuple[str, str]]) -> list[Quote]:
        """On-demand Linux prices from the Pricing API: one GetProducts (and its pages) per region and type."""
        return [self._quote(region, instance_type) for region, instance_type in dict.fromkeys(wanted)]

    def _quote(self, region: str, instance_type: str) -> Quote:
        """The price of one type in one region, or an unknown Quote saying why."""
        filters = {"instanceType": instance_type, "regionCode": region, **LINUX_ON_DEMAND}
        products: list[dict[str, Any]] = []
        try:
            for page in self._pricing.get_paginator("get_products").paginate(
                ServiceCode="AmazonEC2",
                FormatVersion="aws_v1",
                Filters=[{"Type": "TERM_MATCH", "Field": key, "Value": value} for key, value in filters.items()],
            ):
                products.extend(json.loads(item) for item in page.get("PriceList", []))
        except (ClientError, BotoCoreError) as exc:
            raise map_error(exc, operation="Pricing GetProducts", secrets=self._secrets()) from exc
        except ValueError as exc:
            raise TransientError(f"Pricing GetProducts answered a price list that is not JSON: {exc}") from None
        prices = {found for product in products if (found := _on_demand_price(product)) is not None}
        billing, minimum = LINUX_BILLING
        if len(prices) == 1:
            ((price, currency),) = prices
            if price > 0:
                return Quote(region, instance_type, price, currency, billing, minimum)
            return Quote(region, instance_type, Decimal(0), currency, note="the Pricing API answered a price of 0")
        note = (
            "the Pricing API has no on-demand Linux price"
            if not prices
            else (f"the Pricing API answered {len(prices)} different prices")
        )
        return Quote(region, instance_type, None, note=note)

    def check_credentials(self) -> None:
        """A dry-run DescribeInstances: it needs valid credentials and the permission DCP uses most."""
        try:
            self._call("describe_instances", DryRun=True)
        except ProviderError as exc:
            # EC2 answers a permitted dry run with the "error" DryRunOperation.
            if exc.code != "DryRunOperation":
                raise


def _size(item: dict[str, Any]) -> Size:
    """One DescribeInstanceTypes entry as a Size."""
    return Size(
        id=item["InstanceType"],
        name=item["InstanceType"],
        cpu=int(item.get("VCpuInfo", {}).get("DefaultVCpus") or 0),
        memory_gb=_memory_gb(item.get("MemoryInfo", {}).get("SizeInMiB")) or Decimal(0),
        extra={
            "architectures": item.get("ProcessorInfo", {}).get("SupportedArchitectures", []),
            "current_generation": item.get("CurrentGeneration"),
            "network": item.get("NetworkInfo", {}).get("NetworkPerformance", ""),
        },
    )


def _on_demand_price(product: dict[str, Any]) -> tuple[Decimal, str] | None:
    """(price per hour, currency) of a Pricing API product's on-demand term, or None when it has none.

    A product has one on-demand term with one hourly price dimension; its pricePerUnit names the
    currency (USD, or CNY in the China regions).
    """
    for term in ((product.get("terms") or {}).get("OnDemand") or {}).values():
        for dimension in (term.get("priceDimensions") or {}).values():
            if dimension.get("unit") not in ("Hrs", "Hours"):
                continue
            per_unit = dimension.get("pricePerUnit") or {}
            currency = "USD" if "USD" in per_unit else next(iter(per_unit), "")
            try:
                return Decimal(str(per_unit[currency])), currency
            except (KeyError, ArithmeticError, ValueError):
                return None
    return None


def _action(operation: str) -> str:
    """EC2's name for a boto3 method (run_instances → RunInstances)."""
    return "".join(part.capitalize() for part in operation.split("_"))
