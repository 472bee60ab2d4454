"""The ECS emulator: instances in memory, the actions DCP's driver calls, ClientToken idempotency."""

from __future__ import annotations

import hmac
import itertools
import json
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import parse_qsl

from emulators.aliyun.keypairs import EcsKeyPairsMixin, KeyPair
from emulators.aliyun.pricing import describe_price
from emulators.aliyun.protocol import (
    ACCESS_KEY_ID,
    ACCESS_KEY_SECRET,
    ALL_ZONES,
    CLOCK_SKEW_SECONDS,
    DEFAULT_PRICES,
    ERRORS,
    IMAGES,
    INSTANCE_TYPES,
    PER_SENDING,
    REGION_NAMES,
    REGIONS,
    TAG_LIMIT,
    VERSION,
    VSWITCHES,
    EcsError,
    invalid,
    missing,
    numbered,
    page_args,
    sign,
    string_to_sign,
    tags_of,
    truthy,
)
from emulators.base import Emulator, Faults, Request, Response


@dataclass
class Instance:
    """One ECS instance held by the emulator."""

    id: str
    region: str
    zone: str
    instance_type: str
    image: str
    vswitch: str
    security_groups: list[str]
    name: str
    private_ip: str
    public_ip: str = ""
    key_pair: str = ""
    tags: dict[str, str] = field(default_factory=dict)
    created_at: float = field(default_factory=time.monotonic)
    creation_time: str = field(default_factory=lambda: datetime.now(UTC).strftime("%Y-%m-%dT%H:%MZ"))
    released: bool = False


class AliyunEmulator(EcsKeyPairsMixin, Emulator):
    """ECS in memory: instances, the catalog, signature checks and ClientToken idempotency."""

    name = "aliyun"
    DEFAULT_PRICES = DEFAULT_PRICES

    def __init__(self, faults: Faults | None = None, access_keys: dict[str, str] | None = None):
        super().__init__(faults)
        self.access_keys = dict(access_keys or {ACCESS_KEY_ID: ACCESS_KEY_SECRET})
        self.reset_state()

    # --- the Emulator contract -------------------------------------------------------
    def reset_state(self) -> None:
        """Forget every instance, ClientToken and nonce."""
        self.store: dict[str, Instance] = {}
        self.keypairs: dict[tuple[str, str], KeyPair] = {}  # (region, name) → key pair
        self.tokens: dict[str, tuple[str, list[str]]] = {}
        self.nonces: set[str] = set()
        self.nonce_order: deque[tuple[float, str]] = deque()
        self.addresses = itertools.count(1)

    def action_of(self, request: Request) -> str:
        """The Action parameter."""
        return self.params(request).get("Action", "?")

    def throttled(self, request: Request) -> Response:
        """ECS's flow-control answer."""
        return self.error(request, EcsError("Throttling.User"))

    def server_error(self, request: Request) -> Response:
        """A 503 ServiceUnavailable or a 500 InternalError, as ECS gives both."""
        with self.lock:
            code = "ServiceUnavailable" if self.random.random() < 0.5 else "InternalError"
        return self.error(request, EcsError(code))

    def instances(self) -> list[dict]:
        """Every instance with its ECS status (Deleted once released), addresses, cores and memory (GiB)."""
        return [
            {
                "id": i.id,
                "state": self.status(i),
                "zone": i.zone,
                "tags": dict(i.tags),
                "private_ip": i.private_ip,
                "public_ip": i.public_ip or None,
                "cpu": INSTANCE_TYPES[i.instance_type][0],
                "memory_gb": INSTANCE_TYPES[i.instance_type][1],
            }
            for i in self.store.values()
        ]

    # --- plumbing --------------------------------------------------------------------
    @staticmethod
    def params(request: Request) -> dict[str, str]:
        """Query and form-body parameters together: the SDK signs both."""
        params = dict(request.query)
        if request.body and "form-urlencoded" in request.headers.get("content-type", "form-urlencoded"):
            params.update(parse_qsl(request.body.decode(), keep_blank_values=True))
        return params

    @staticmethod
    def answer(status: int, data: dict) -> Response:
        """A JSON answer with a RequestId."""
        return Response.json(status, {"RequestId": str(uuid.uuid4()).upper(), **data})

    def error(self, request: Request, error: EcsError) -> Response:
        """An ECS error body."""
        region = self.params(request).get("RegionId") or "cn-hangzhou"
        return self.answer(
            error.status,
            {"HostId": f"ecs.{region}.aliyuncs.com", "Code": error.code, "Message": error.message},
        )

    def status(self, instance: Instance) -> str:
        """Pending for the first half of boot_seconds, Starting for the second, then Running."""
        if instance.released:
            return "Deleted"
        if self.booted(instance.created_at):
            return "Running"
        half = self.faults.boot_seconds / 2
        return "Starting" if time.monotonic() - instance.created_at >= half else "Pending"

    def handle(self, request: Request) -> Response:
        """Authenticate, then run the action."""
        params = self.params(request)
        try:
            self.authenticate(request.method, params)
            if params.get("Version") != VERSION:
                raise EcsError("InvalidVersion")
            action = getattr(self, f"do_{params.get('Action', '')}", None)
            if action is None:
                raise EcsError("InvalidAction.NotFound")
            region = params.get("RegionId", "")
            if params.get("Action") != "DescribeRegions":
                if not region:
                    raise missing("RegionId")
                if region not in REGIONS:
                    raise EcsError("InvalidRegionId.NotFound")
            with self.lock:
                return self.answer(200, action(params))
        except EcsError as error:
            return self.error(request, error)

    def authenticate(self, method: str, params: dict[str, str]) -> None:
        """Aliyun's RPC signature v1 check, then the timestamp and nonce checks."""
        for name in ("AccessKeyId", "Signature", "SignatureMethod", "SignatureNonce", "Timestamp"):
            if not params.get(name):
                raise EcsError("IncompleteSignature", f"{ERRORS['IncompleteSignature'][1]} {name} is missing.")
        secret = self.access_keys.get(params["AccessKeyId"])
        if secret is None:
            raise EcsError("InvalidAccessKeyId.NotFound")
        if params["SignatureMethod"] not in ("HMAC-SHA1", "HMAC-SHA256"):
            raise EcsError("InvalidSignatureMethod")
        text = string_to_sign(method, params)
        if not hmac.compare_digest(sign(text, secret, params["SignatureMethod"]), params["Signature"]):
            # Aliyun echoes its string to sign so a client can tell a wrong secret from a wrong canonicalization.
            raise EcsError(
                "SignatureDoesNotMatch", f"{ERRORS['SignatureDoesNotMatch'][1]} server string to sign is:{text}"
            )
        try:
            sent = datetime.strptime(params["Timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
        except ValueError:
            raise EcsError("InvalidTimeStamp.Format") from None
        if abs((datetime.now(UTC) - sent).total_seconds()) > CLOCK_SKEW_SECONDS:
            raise EcsError("InvalidTimeStamp.Expired")
        self.use_nonce(params["SignatureNonce"])

    def use_nonce(self, nonce: str) -> None:
        """Refuse a nonce seen within the clock-skew window (replay protection), forgetting older ones."""
        now = time.monotonic()
        with self.lock:
            while self.nonce_order and now - self.nonce_order[0][0] > CLOCK_SKEW_SECONDS:
                self.nonces.discard(self.nonce_order.popleft()[1])
            if nonce in self.nonces:
                raise EcsError("SignatureNonceUsed")
            self.nonces.add(nonce)
            self.nonce_order.append((now, nonce))

    def live(self) -> list[Instance]:
        """Instances not released."""
        return [i for i in self.store.values() if not i.released]

    # --- actions ---------------------------------------------------------------------
    def do_RunInstances(self, params: dict[str, str]) -> dict:
        """Create Amount instances at once; a known ClientToken returns its earlier instances."""
        token = params.get("ClientToken", "")
        fingerprint = json.dumps({k: v for k, v in sorted(params.items()) if k not in PER_SENDING})
        if token in self.tokens:
            earlier, ids = self.tokens[token]
            if earlier != fingerprint:
                raise EcsError("IdempotentParameterMismatch")
            return {"InstanceIdSets": {"InstanceIdSet": list(ids)}}
        amount, region, zone, sgs = self.check_run(params)
        if truthy(params.get("DryRun")):
            raise EcsError("DryRunOperation")
        if self.zone_exhausted(zone):
            raise EcsError("OperationDenied.NoStock")
        if self.over_quota(len(self.live()), amount):
            raise EcsError("QuotaExceed.ElasticQuota")
        key_pair = self.keypairs.get((region, params["KeyPairName"])) if params.get("KeyPairName") else None
        if params.get("KeyPairName") and key_pair is None:
            raise EcsError("InvalidKeyPairName.NotFound")
        tags = {key: value or "" for key, value in tags_of(params)}
        name = params.get("InstanceName") or ""
        ids = []
        for n in range(amount):
            number = next(self.addresses)
            instance = Instance(
                id=f"i-bp{uuid.uuid4().hex[:18]}",
                region=region,
                zone=zone,
                instance_type=params["InstanceType"],
                image=params["ImageId"],
                vswitch=params["VSwitchId"],
                security_groups=sgs,
                name=f"{name}{n + 1:03d}" if name and truthy(params.get("UniqueSuffix")) else name,
                private_ip=self.next_address(
                    f"10.{ALL_ZONES.index(zone)}.{number // 250 % 256}.{number % 250 + 1}",
                    key_pair.public_key if key_pair else "",
                ),
                public_ip=f"203.0.113.{number % 250 + 1}" if int(params.get("InternetMaxBandwidthOut") or 0) else "",
                key_pair=params.get("KeyPairName", ""),
                tags=dict(tags),
            )
            instance.name = instance.name or instance.id
            self.store[instance.id] = instance
            ids.append(instance.id)
        if token:
            self.tokens[token] = (fingerprint, ids)
        return {"InstanceIdSets": {"InstanceIdSet": ids}, "TradePrice": 0.0, "OrderId": str(uuid.uuid4().int)[:15]}

    def check_run(self, params: dict[str, str]) -> tuple[int, str, str, list[str]]:
        """RunInstances' parameter checks, in ECS's order; returns amount, region, zone, security groups."""
        region = params["RegionId"]
        try:
            amount = int(params.get("Amount") or 1)
        except ValueError:
            raise invalid("Amount") from None
        if not 1 <= amount <= 100:
            raise invalid("Amount")
        if len(tags_of(params)) > TAG_LIMIT:
            raise EcsError("InvalidTagCount")
        for name in ("InstanceType", "ImageId", "VSwitchId"):
            if not params.get(name):
                raise missing(name)
        if params["InstanceType"] not in INSTANCE_TYPES:
            raise EcsError("InvalidInstanceType.ValueNotSupported")
        if params["ImageId"] not in IMAGES:
            raise EcsError("InvalidImageId.NotFound")
        zone = VSWITCHES.get(params["VSwitchId"])
        if zone not in REGIONS[region]:
            raise EcsError("InvalidVSwitchId.NotFound")
        if params.get("ZoneId") and params["ZoneId"] not in ALL_ZONES:
            raise EcsError("InvalidZoneId.NotFound")
        if params.get("ZoneId") and params["ZoneId"] != zone:
            raise EcsError("InvalidParameter.Mismatch")
        sgs = numbered(params, "SecurityGroupIds.") or (
            [params["SecurityGroupId"]] if params.get("SecurityGroupId") else []
        )
        if not sgs:
            raise missing("SecurityGroupId")
        if any(sg != f"sg-{region}" for sg in sgs):
            raise EcsError("InvalidSecurityGroupId.NotFound")
        return amount, region, zone, sgs

    def do_DescribeInstances(self, params: dict[str, str]) -> dict:
        """Instances of the region, filtered by InstanceIds, tags, zone and status, one page at a time."""
        number, size = page_args(params)
        found = [i for i in self.live() if i.region == params["RegionId"]]
        if params.get("InstanceIds"):
            try:
                ids = json.loads(params["InstanceIds"])
            except ValueError:
                raise invalid("InstanceIds") from None
            if not isinstance(ids, list) or len(ids) > 100:
                raise invalid("InstanceIds")
            found = [i for i in found if i.id in set(ids)]
        for key, value in tags_of(params):
            found = [i for i in found if key in i.tags and (value is None or i.tags[key] == value)]
        if params.get("ZoneId"):
            found = [i for i in found if i.zone == params["ZoneId"]]
        if params.get("Status"):
            found = [i for i in found if self.status(i) == params["Status"]]
        page = found[(number - 1) * size : number * size]
        return {
            "TotalCount": len(found),
            "PageNumber": number,
            "PageSize": size,
            "NextToken": "",
            "Instances": {"Instance": [self.describe(i) for i in page]},
        }

    def describe(self, i: Instance) -> dict:
        """One instance as DescribeInstances shows it."""
        cpu, memory_gib, family = INSTANCE_TYPES[i.instance_type]
        return {
            "InstanceId": i.id,
            "InstanceName": i.name,
            "HostName": i.name,
            "Status": self.status(i),
            "RegionId": i.region,
            "ZoneId": i.zone,
            "InstanceType": i.instance_type,
            "InstanceTypeFamily": family,
            "Cpu": cpu,
            "Memory": int(memory_gib * 1024),
            "ImageId": i.image,
            "OSName": IMAGES[i.image][1],
            "OSType": "linux",
            "CreationTime": i.creation_time,
            "InstanceChargeType": "PostPaid",
            "InternetChargeType": "PayByTraffic",
            "InstanceNetworkType": "vpc",
            "KeyPairName": i.key_pair,
            "VpcAttributes": {
                "VpcId": f"vpc-{i.region}",
                "VSwitchId": i.vswitch,
                "PrivateIpAddress": {"IpAddress": [i.private_ip]},
                "NatIpAddress": "",
            },
            "PublicIpAddress": {"IpAddress": [i.public_ip] if i.public_ip else []},
            "InnerIpAddress": {"IpAddress": []},
            "EipAddress": {"AllocationId": "", "IpAddress": "", "InternetChargeType": ""},
            "SecurityGroupIds": {"SecurityGroupId": list(i.security_groups)},
            "Tags": {"Tag": [{"TagKey": k, "TagValue": v} for k, v in i.tags.items()]},
            "OperationLocks": {"LockReason": []},
        }

    def do_DeleteInstances(self, params: dict[str, str]) -> dict:
        """Release instances; the whole call fails if one id is unknown, or running without Force."""
        ids = numbered(params, "InstanceId.")
        if not ids:
            raise missing("InstanceId")
        if len(ids) > 100:
            raise invalid("InstanceId")
        targets = [self.store.get(i) for i in ids]
        if any(t is None or t.released or t.region != params["RegionId"] for t in targets):
            raise EcsError("InvalidInstanceId.NotFound")
        if not truthy(params.get("Force")) and any(self.status(t) != "Stopped" for t in targets):
            raise EcsError("IncorrectInstanceStatus")
        if truthy(params.get("DryRun")):
            raise EcsError("DryRunOperation")
        for target in targets:
            target.released = True
        return {}

    def do_TagResources(self, params: dict[str, str]) -> dict:
        """Add (or overwrite) up to 20 tags on up to 50 instances; the call fails if one id is unknown."""
        if params.get("ResourceType") != "instance":
            raise invalid("ResourceType")
        ids = numbered(params, "ResourceId.")
        tags = tags_of(params)
        if not ids or not tags:
            raise missing("ResourceId" if not ids else "Tag")
        if len(ids) > 50:
            raise invalid("ResourceId")
        if len(tags) > 20 or any(not key or value is None for key, value in tags):
            raise invalid("Tag")
        if any(len(value or "") > 128 for _, value in tags):
            raise EcsError("InvalidTagValue.Malformed")
        targets = [self.store.get(i) for i in ids]
        if any(t is None or t.released or t.region != params["RegionId"] for t in targets):
            raise EcsError("InvalidResourceId.NotFound")
        for target in targets:
            target.tags.update(dict(tags))
        return {}

    def do_DescribeInstanceTypes(self, params: dict[str, str]) -> dict:
        """The instance-type catalog, optionally narrowed by InstanceTypes.N or InstanceTypeFamily."""
        wanted = set(numbered(params, "InstanceTypes."))
        family = params.get("InstanceTypeFamily")
        rows = [
            {
                "InstanceTypeId": type_id,
                "CpuCoreCount": cpu,
                "MemorySize": memory,
                "InstanceTypeFamily": fam,
                "InstanceFamilyLevel": "EnterpriseLevel",
                "CpuArchitecture": "X86",
                "GPUAmount": 0,
                "GPUSpec": "",
                "EniQuantity": 3,
            }
            for type_id, (cpu, memory, fam) in INSTANCE_TYPES.items()
            if (not wanted or type_id in wanted) and (not family or fam == family)
        ]
        return {"InstanceTypes": {"InstanceType": rows}, "NextToken": ""}

    def do_DescribeZones(self, params: dict[str, str]) -> dict:
        """The region's zones and what each sells."""
        zones = [
            {
                "ZoneId": zone,
                "LocalName": zone,
                "ZoneType": "AvailabilityZone",
                "AvailableResourceCreation": {"ResourceTypes": ["Instance", "Disk", "VSwitch"]},
                "AvailableInstanceTypes": {"InstanceTypes": list(INSTANCE_TYPES)},
                "AvailableDiskCategories": {"DiskCategories": ["cloud_essd", "cloud_efficiency"]},
            }
            for zone in REGIONS[params["RegionId"]]
        ]
        return {"Zones": {"Zone": zones}}

    def do_DescribeImages(self, params: dict[str, str]) -> dict:
        """The public images, optionally by ImageId (comma-separated), paged."""
        number, size = page_args(params)
        wanted = {i for i in (params.get("ImageId") or "").split(",") if i}
        rows = [
            {
                "ImageId": image_id,
                "ImageName": name,
                "OSName": os_name,
                "OSNameEn": os_name,
                "OSType": "linux",
                "Architecture": "x86_64",
                "Status": "Available",
                "ImageOwnerAlias": "system",
                "Size": 20,
            }
            for image_id, (name, os_name) in IMAGES.items()
            if not wanted or image_id in wanted
        ]
        return {
            "RegionId": params["RegionId"],
            "TotalCount": len(rows),
            "PageNumber": number,
            "PageSize": size,
            "Images": {"Image": rows[(number - 1) * size : number * size]},
        }

    def do_DescribeRegions(self, params: dict[str, str]) -> dict:
        """Every region the emulator serves."""
        regions = [
            {
                "RegionId": r,
                "LocalName": REGION_NAMES[r],
                "RegionEndpoint": f"ecs.{r}.aliyuncs.com",
                "Status": "available",
            }
            for r in REGIONS
        ]
        return {"Regions": {"Region": regions}}

    def do_DescribePrice(self, params: dict[str, str]) -> dict:
        """The price of an instance with its system disk, from the emulator's price list."""
        return describe_price(params, self.price_of)
