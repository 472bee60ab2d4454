"""The Aliyun ECS driver, on the official SDK (aliyunsdkcore's AcsClient and aliyunsdkecs requests).

One RunInstances call creates a whole batch (Amount up to 100) and is idempotent
on its ClientToken; the SDK's own retries are off so that throttling reaches
DCP's shared back-off instead of being hidden in a worker. ``endpoint_url``
on the account sends every call to a private endpoint or an emulator instead of
ecs.<region>.aliyuncs.com. The access key secret is handed to the SDK only: it
never appears in an error message or a log line.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from aliyunsdkcore.acs_exception.exceptions import ClientException, ServerException
from aliyunsdkcore.client import AcsClient
from aliyunsdkcore.request import RpcRequest
from aliyunsdkecs.request.v20140526.DeleteInstancesRequest import DeleteInstancesRequest
from aliyunsdkecs.request.v20140526.DescribeImagesRequest import DescribeImagesRequest
from aliyunsdkecs.request.v20140526.DescribeInstancesRequest import DescribeInstancesRequest
from aliyunsdkecs.request.v20140526.DescribeInstanceTypesRequest import DescribeInstanceTypesRequest
from aliyunsdkecs.request.v20140526.DescribeKeyPairsRequest import DescribeKeyPairsRequest
from aliyunsdkecs.request.v20140526.DescribePriceRequest import DescribePriceRequest
from aliyunsdkecs.request.v20140526.DescribeRegionsRequest import DescribeRegionsRequest
from aliyunsdkecs.request.v20140526.DescribeZonesRequest import DescribeZonesRequest
from aliyunsdkecs.request.v20140526.ImportKeyPairRequest import ImportKeyPairRequest
from aliyunsdkecs.request.v20140526.RunInstancesRequest import RunInstancesRequest
from aliyunsdkecs.request.v20140526.TagResourcesRequest import TagResourcesRequest

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
    public_key_blob,
    retry_read,
)

if TYPE_CHECKING:
    from apps.providers.models import CloudAccount

logger = logging.getLogger(__name__)

PAGE_SIZE = 100  # ECS's largest page, and the most ids one DescribeInstances or DeleteInstances takes
TAG_LIMIT = 20  # tags per instance, and tag filters per DescribeInstances call
MAX_TOKEN = 64  # ClientToken: at most 64 ASCII characters
STATES = {
    "Pending": NodeState.PENDING,
    "Starting": NodeState.PENDING,
    "Running": NodeState.RUNNING,
    "Stopping": NodeState.STOPPING,
    "Stopped": NodeState.STOPPED,
    "Deleted": NodeState.TERMINATED,
}

#: ECS bills pay-as-you-go instances by the second (settled hourly), with no minimum.
PAY_AS_YOU_GO_BILLING = ("per_second", 0)

# ECS error codes by error class, tried in this order: the first matching prefix wins.
AUTH_CODES = (
    "InvalidAccessKeyId",
    "InvalidAccessKeySecret",
    "SignatureDoesNotMatch",
    "IncompleteSignature",
    "InvalidSecurityToken",
    "InvalidTimeStamp",
    "Forbidden",
    "NoPermission",
)
THROTTLE_CODES = ("Throttling",)
# An operation racing another (OperationConflict), a token still being processed, an instance between
# states, a nonce collision: all pass if the same call is made again a little later.
TRANSIENT_CODES = (
    "ServiceUnavailable",
    "InternalError",
    "UnknownError",
    "OperationConflict",
    "LastTokenProcessing",
    "IdempotenceProcessing",
    "IncorrectInstanceStatus",
    "SignatureNonceUsed",
)
CAPACITY_CODES = (
    "OperationDenied.NoStock",
    "Invalid.PrivatePoolOptions.NoStock",
    "Zone.NotOnSale",
    "InvalidResourceType.NotSupported",
    "ResourceNotAvailable",
)
# An account in arrears can create nothing until it pays: like a full quota, other accounts may still serve.
QUOTA_CODES = ("QuotaExceed", "QuotaExceeded", "Account.Arrearage", "InvalidAccountStatus.NotEnoughBalance")
# An unknown image or instance type is a template mistake, not a missing object the engine could wait for.
INVALID_CODES = ("InvalidImageId", "InvalidInstanceType", "InvalidParameter", "MissingParameter", "DryRunOperation")
SDK_TRANSIENT = ("SDK.HttpError", "SDK.ServerUnreachable")
SDK_AUTH = ("SDK.InvalidCredential", "SDK.GetSessionCredentialFailed")


def error_class(code: str, http_status: int | None) -> type[ProviderError]:
    """The DCP error class for an ECS (or SDK) error code and HTTP status."""
    for prefixes, cls in (
        (AUTH_CODES + SDK_AUTH, AuthError),
        (THROTTLE_CODES, ThrottledError),
        (TRANSIENT_CODES + SDK_TRANSIENT, TransientError),
        (CAPACITY_CODES, CapacityError),
        (QUOTA_CODES, QuotaExceededError),
        (INVALID_CODES, InvalidRequestError),
    ):
        if code.startswith(prefixes):
            return cls
    if code.endswith(".NotFound"):
        return NotFoundError
    if http_status is not None and http_status >= 500:
        return TransientError
    return InvalidRequestError


def translate(exc: ServerException | ClientException, action: str) -> ProviderError:
    """A typed DCP error for an SDK exception; the message names the action, code and ECS's message."""
    code = exc.get_error_code() or "Unknown"
    status = exc.get_http_status() if isinstance(exc, ServerException) else None
    message = f"ECS {action} failed: {code}: {exc.get_error_msg()}"
    if isinstance(exc, ServerException) and exc.get_request_id():
        message += f" (RequestId {exc.get_request_id()})"
    return error_class(code, status)(message, code=code)


def key_fingerprint(public_key: str) -> str:
    """The fingerprint ECS reports of a key pair: the MD5 of the public key (RFC 4716), in hex."""
    return hashlib.md5(public_key_blob(public_key), usedforsecurity=False).hexdigest()


def chunks(items: list[str], size: int = PAGE_SIZE) -> Iterator[list[str]]:
    """items in slices of at most size."""
    for start in range(0, len(items), size):
        yield items[start : start + size]


def unique(ids: list[str]) -> list[str]:
    """ids without repeats or blanks, in their first order."""
    return list(dict.fromkeys(i for i in ids if i))


class AliyunDriver(Driver):
    """Creates, finds and releases ECS instances in the account's region."""

    kind = "aliyun"
    max_batch = 100

    def __init__(self, account: CloudAccount):
        super().__init__(account)
        credentials = account.credentials or {}
        key_id, secret = credentials.get("access_key_id"), credentials.get("access_key_secret")
        if not key_id or not secret:
            raise AuthError(
                f"account {account.name!r} lacks access_key_id or access_key_secret", code="MissingCredentials"
            )
        options = account.options or {}
        self.region: str = account.region or "cn-hangzhou"
        self.endpoint, self.protocol, port = self._endpoint(account.endpoint_url)
        self.client = AcsClient(
            key_id,
            secret,
            self.region,
            auto_retry=False,
            max_retry_time=0,
            port=port,
            connect_timeout=float(options.get("connect_timeout", 5)),
            timeout=float(options.get("read_timeout", 20)),
        )

    @staticmethod
    def _endpoint(url: str) -> tuple[str | None, str, int]:
        """(host, protocol, port) for an endpoint override; (None, "https", 443) for Aliyun's own endpoints."""
        if not url:
            return None, "https", 443
        parts = urlsplit(url)
        protocol = parts.scheme or "https"
        return parts.hostname, protocol, parts.port or (443 if protocol == "https" else 80)

    def _call(self, request: RpcRequest) -> dict[str, Any]:
        """Send one signed request and return the decoded JSON answer, or raise a typed error."""
        request.set_protocol_type(self.protocol)
        if self.endpoint:
            request.set_endpoint(self.endpoint)
        action = request.get_action_name()
        try:
            body = self.client.do_action_with_exception(request)
        except (ServerException, ClientException) as exc:
            raise translate(exc, action) from exc
        try:
            return json.loads(body)
        except ValueError:
            raise TransientError(f"ECS {action} answered with a body that is not JSON", code="BadResponse") from None

    # --- nodes -----------------------------------------------------------------------
    def create_nodes(
        self, spec: NodeSpec, count: int, *, client_token: str, tags: dict[str, str], first_attempt: bool = False
    ) -> list[Node]:
        """One RunInstances call for the batch; returns PENDING nodes at once, the same ones for a repeated token."""
        if not 1 <= count <= self.max_batch:
            raise InvalidRequestError(f"ECS creates 1 to {self.max_batch} instances per call, not {count}")
        if not client_token or len(client_token) > MAX_TOKEN or not client_token.isascii():
            raise InvalidRequestError(f"a client token of 1 to {MAX_TOKEN} ASCII characters is required")
        if len(tags) > TAG_LIMIT:
            raise InvalidRequestError(f"ECS allows at most {TAG_LIMIT} tags per instance, {len(tags)} given")
        answer = self.with_key_pair(spec, lambda named: self._call(self._run_request(named, count, client_token, tags)))
        ids = answer.get("InstanceIdSets", {}).get("InstanceIdSet", [])
        logger.info("ECS RunInstances on %s: %d instance(s), token %s", self.account.name, len(ids), client_token)
        return [
            Node(
                id=instance_id,
                # ECS numbers names of one batch 001, 002, ... in the order of the ids it returns.
                name=f"{spec.name_prefix}{n + 1:03d}",
                state=NodeState.PENDING,
                zone=spec.zone,
                instance_type=spec.instance_type,
                tags=dict(tags),
                extra={"client_token": client_token, "image_id": spec.image, "vswitch_id": spec.subnet},
            )
            for n, instance_id in enumerate(ids)
        ]

    def _run_request(self, spec: NodeSpec, count: int, client_token: str, tags: dict[str, str]) -> RunInstancesRequest:
        """The RunInstances request of one batch."""
        request = RunInstancesRequest()
        request.set_Amount(count)
        request.set_ClientToken(client_token)
        request.set_InstanceType(spec.instance_type)
        request.set_ImageId(spec.image)
        if spec.zone:
            request.set_ZoneId(spec.zone)
        if spec.subnet:
            request.set_VSwitchId(spec.subnet)
        if len(spec.security_groups) == 1:
            request.set_SecurityGroupId(spec.security_groups[0])
        elif spec.security_groups:
            request.set_SecurityGroupIdss(list(spec.security_groups))
        if spec.key_name:
            request.set_KeyPairName(spec.key_name)
        request.set_InstanceName(spec.name_prefix)
        request.set_UniqueSuffix("true")
        request.set_Tags([{"Key": key, "Value": value} for key, value in tags.items()])
        return request

    def import_key_pair(self, name: str, public_key: str, region: str) -> bool:
        """ImportKeyPair, unless DescribeKeyPairs finds the key pair already holding this key (same fingerprint)."""

        def describe() -> dict[str, Any]:
            request = DescribeKeyPairsRequest()
            request.set_KeyPairName(name)
            return self._call(request)

        rows = retry_read(describe).get("KeyPairs", {}).get("KeyPair", [])
        found = [row for row in rows if row.get("KeyPairName") == name]  # ECS matches names with wildcards too
        if found:
            if found[0].get("KeyPairFingerPrint") != key_fingerprint(public_key):
                raise InvalidRequestError(f"ECS key pair {name} holds another key; delete it or rename it")
            return True
        request = ImportKeyPairRequest()
        request.set_KeyPairName(name)
        request.set_PublicKeyBody(public_key)
        try:
            self._call(request)
        except InvalidRequestError as exc:
            # Another worker imported it a moment ago: the same name is the same key.
            if exc.code != "KeyPair.AlreadyExist":
                raise
        logger.info("ECS key pair %s imported on %s", name, self.account.name)
        return True

    def get_nodes(self, ids: list[str]) -> list[Node]:
        """The instances with these ids that still exist, 100 ids per DescribeInstances call."""
        found: list[Node] = []
        for chunk in chunks(unique(ids)):
            found.extend(self._describe(InstanceIds=json.dumps(chunk)))
        return found

    def list_nodes(self, tags: dict[str, str] | None = None) -> list[Node]:
        """Every live instance of the region carrying all these tags, page by page."""
        wanted = dict(tags or {})
        # ECS filters on up to 20 tags; any beyond are checked here.
        filters = [{"Key": key, "Value": value} for key, value in list(wanted.items())[:TAG_LIMIT]]
        nodes = self._describe(Tags=filters)
        return [
            n for n in nodes if n.state != NodeState.TERMINATED and all(n.tags.get(k) == v for k, v in wanted.items())
        ]

    def _describe(self, **filters: Any) -> list[Node]:
        """Every instance DescribeInstances returns for these filters, over all its pages."""
        nodes: dict[str, Node] = {}
        page = 1
        while True:
            request = DescribeInstancesRequest()
            request.set_PageNumber(page)
            request.set_PageSize(PAGE_SIZE)
            if "InstanceIds" in filters:
                request.set_InstanceIds(filters["InstanceIds"])
            if filters.get("Tags"):
                request.set_Tags(filters["Tags"])
            answer = self._call(request)
            rows = answer.get("Instances", {}).get("Instance", [])
            for row in rows:
                # An instance created while paging can shift a page: the id is the key, never counted twice.
                nodes[row["InstanceId"]] = self._node(row)
            if not rows or page * PAGE_SIZE >= int(answer.get("TotalCount", 0)):
                return list(nodes.values())
            page += 1

    def _node(self, row: dict[str, Any]) -> Node:
        """A Node from one DescribeInstances row."""
        vpc = row.get("VpcAttributes") or {}
        private = (vpc.get("PrivateIpAddress") or {}).get("IpAddress") or (row.get("InnerIpAddress") or {}).get(
            "IpAddress"
        )
        public = (row.get("PublicIpAddress") or {}).get("IpAddress") or []
        eip = (row.get("EipAddress") or {}).get("IpAddress") or ""
        memory = row.get("Memory")
        return Node(
            id=row["InstanceId"],
            name=row.get("InstanceName") or row["InstanceId"],
            state=STATES.get(row.get("Status", ""), NodeState.UNKNOWN),
            private_ip=private[0] if private else None,
            public_ip=public[0] if public else (eip or None),
            cpu=row.get("Cpu"),
            # DescribeInstances gives memory in MiB.
            memory_gb=(Decimal(memory) / 1024).quantize(Decimal("0.01")) if memory is not None else None,
            zone=row.get("ZoneId", ""),
            instance_type=row.get("InstanceType", ""),
            launched_at=provider_time(row.get("CreationTime") or row.get("StartTime")),
            tags={t["TagKey"]: t.get("TagValue", "") for t in (row.get("Tags") or {}).get("Tag", [])},
            extra={
                "status": row.get("Status"),
                "region_id": row.get("RegionId"),
                "image_id": row.get("ImageId"),
                "vpc_id": vpc.get("VpcId"),
                "vswitch_id": vpc.get("VSwitchId"),
                "security_group_ids": (row.get("SecurityGroupIds") or {}).get("SecurityGroupId", []),
                "creation_time": row.get("CreationTime"),
                "charge_type": row.get("InstanceChargeType"),
                "host_name": row.get("HostName"),
            },
        )

    def tag_nodes(self, tags_by_id: dict[str, dict[str, str]]) -> None:
        """One TagResources call per instance (its tags are its own); instances already released are skipped."""
        for node_id, tags in tags_by_id.items():
            request = TagResourcesRequest()
            request.set_ResourceType("instance")
            request.set_ResourceIds([node_id])
            request.set_Tags([{"Key": key, "Value": str(value)} for key, value in list(tags.items())[:TAG_LIMIT]])
            try:
                self._call(request)
            except NotFoundError:
                continue

    def destroy_nodes(self, ids: list[str]) -> None:
        """Release these instances (Force: running ones too), 100 per call; ids already gone are skipped."""
        for chunk in chunks(unique(ids)):
            self._release(chunk)

    def _release(self, ids: list[str]) -> None:
        """One DeleteInstances call; when ECS says an id is unknown, the ids that still exist are released."""
        # ECS refuses the whole call for one unknown id: ask which still exist and release those.
        # Three rounds absorb another worker releasing some of them at the same time.
        for _ in range(3):
            request = DeleteInstancesRequest()
            request.set_InstanceIds(ids)
            request.set_Force("true")
            try:
                self._call(request)
            except NotFoundError as exc:
                if exc.code != "InvalidInstanceId.NotFound":
                    raise
                ids = [n.id for n in self.get_nodes(ids) if n.state != NodeState.TERMINATED]
                if not ids:
                    return
            else:
                logger.info("ECS DeleteInstances on %s: %d instance(s)", self.account.name, len(ids))
                return
        raise TransientError(f"ECS kept reporting unknown ids while releasing {len(ids)} instance(s)", code="Race")

    # --- catalog ---------------------------------------------------------------------
    def list_sizes(self) -> list[Size]:
        """ECS instance types (memory is given in GiB by DescribeInstanceTypes)."""
        sizes: list[Size] = []
        token = ""
        while True:
            request = DescribeInstanceTypesRequest()
            request.set_MaxResults(1600)
            if token:
                request.set_NextToken(token)
            answer = self._call(request)
            for row in answer.get("InstanceTypes", {}).get("InstanceType", []):
                sizes.append(
                    Size(
                        id=row["InstanceTypeId"],
                        name=row["InstanceTypeId"],
                        cpu=int(row.get("CpuCoreCount") or 0),
                        memory_gb=Decimal(str(row.get("MemorySize") or 0)),
                        extra={
                            "family": row.get("InstanceTypeFamily"),
                            "gpu": row.get("GPUAmount", 0),
                            "architecture": row.get("CpuArchitecture"),
                        },
                    )
                )
            token = answer.get("NextToken") or ""
            if not token:
                return sizes

    def list_images(self) -> list[Image]:
        """Images the account may boot from, over all pages."""
        images: list[Image] = []
        page = 1
        while True:
            request = DescribeImagesRequest()
            request.set_PageNumber(page)
            request.set_PageSize(PAGE_SIZE)
            answer = self._call(request)
            rows = answer.get("Images", {}).get("Image", [])
            images.extend(
                Image(
                    id=row["ImageId"],
                    name=row.get("ImageName") or row["ImageId"],
                    extra={
                        "os_name": row.get("OSName"),
                        "architecture": row.get("Architecture"),
                        "owner": row.get("ImageOwnerAlias"),
                    },
                )
                for row in rows
            )
            if not rows or page * PAGE_SIZE >= int(answer.get("TotalCount", 0)):
                return images
            page += 1

    def list_locations(self) -> list[Location]:
        """The region's zones."""
        answer = self._call(DescribeZonesRequest())
        return [
            Location(
                id=row["ZoneId"],
                name=row.get("LocalName") or row["ZoneId"],
                region=self.region,
                extra={"instance_types": (row.get("AvailableInstanceTypes") or {}).get("InstanceTypes", [])},
            )
            for row in answer.get("Zones", {}).get("Zone", [])
        ]

    def quote_prices(self, wanted: list[tuple[str, str]]) -> list[Quote]:
        """Pay-as-you-go prices per hour from DescribePrice, one call per region and instance type."""
        return [self._quote(region or self.region, instance_type) for region, instance_type in dict.fromkeys(wanted)]

    def _quote(self, region: str, instance_type: str) -> Quote:
        """The instance type's own hourly trade price (after discounts, without its system disk) in region.

        ECS prices an instance together with its system disk; the catalog prices instance types, so the
        instanceType line of DetailInfos is taken, and the whole TradePrice only when ECS itemises nothing.
        An answer that names no price, or a price of 0, is an unknown price.
        """
        request = DescribePriceRequest()
        request.add_query_param("RegionId", region)
        request.set_ResourceType("instance")
        request.set_InstanceType(instance_type)
        request.set_PriceUnit("Hour")
        request.set_Period(1)
        request.set_Amount(1)
        try:
            answer = self._call(request)
        except (InvalidRequestError, NotFoundError) as exc:
            return Quote(region, instance_type, None, note=exc.message)
        price = (answer.get("PriceInfo") or {}).get("Price") or {}
        details = (price.get("DetailInfos") or {}).get("DetailInfo") or []
        line = next((d for d in details if d.get("Resource") == "instanceType"), price)
        try:
            amount = Decimal(str(line["TradePrice"]))
        except (KeyError, ArithmeticError, ValueError):
            return Quote(region, instance_type, None, note="DescribePrice answered no TradePrice")
        if amount <= 0:
            return Quote(region, instance_type, Decimal(0), note=f"DescribePrice answered a price of {amount}")
        if not price.get("Currency"):
            return Quote(region, instance_type, None, note="DescribePrice answered no Currency")
        billing, minimum = PAY_AS_YOU_GO_BILLING
        return Quote(region, instance_type, amount, str(price["Currency"]), billing, minimum)

    def check_credentials(self) -> None:
        """DescribeRegions: the cheapest signed call; raises AuthError when the key pair is refused."""
        self._call(DescribeRegionsRequest())
