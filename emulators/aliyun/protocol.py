"""ECS's wire protocol: API version, the emulator's catalog, error codes, signature v1 and parameter helpers."""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import quote

VERSION = "2014-05-26"
# The emulator's own key pair: nothing real, the emulator holds no other.
ACCESS_KEY_ID = "LTAI5tDcpEmulatorKey01"
ACCESS_KEY_SECRET = "dcp-emulator-secret-0001"  # noqa: S105 - a fixed test key of a local emulator
# Aliyun refuses requests whose Timestamp is further than this from its clock, and reused nonces within it.
CLOCK_SKEW_SECONDS = 15 * 60

# Region → zones. Each zone has one vSwitch (vsw-<zone>), each region one VPC and one security group.
REGIONS: dict[str, tuple[str, ...]] = {
    "cn-hangzhou": ("cn-hangzhou-h", "cn-hangzhou-i", "cn-hangzhou-j"),
    "cn-shanghai": ("cn-shanghai-l", "cn-shanghai-m"),
    "cn-beijing": ("cn-beijing-h", "cn-beijing-i"),
}
REGION_NAMES = {"cn-hangzhou": "华东1（杭州）", "cn-shanghai": "华东2（上海）", "cn-beijing": "华北2（北京）"}
# Instance type → (vCPUs, memory GiB, family).
INSTANCE_TYPES: dict[str, tuple[int, float, str]] = {
    "ecs.g6.large": (2, 8.0, "ecs.g6"),
    "ecs.g6.xlarge": (4, 16.0, "ecs.g6"),
    "ecs.c6.2xlarge": (8, 16.0, "ecs.c6"),
}
# Pay-as-you-go prices per hour in CURRENCY, by region and instance type (the default price list).
CURRENCY = "CNY"
DEFAULT_PRICES: dict[str, dict[str, str]] = {
    region: {"ecs.g6.large": "0.626", "ecs.g6.xlarge": "1.252", "ecs.c6.2xlarge": "1.970"} for region in REGIONS
}
# System disk prices per GiB and hour in CURRENCY, by category; ECS prices an instance with its system disk.
DISK_PRICES = {"cloud_efficiency": "0.00049", "cloud_ssd": "0.0014", "cloud_essd": "0.0014"}
# Hours in each PriceUnit of DescribePrice.
PRICE_UNITS = {"Hour": 1, "Week": 168, "Month": 720, "Year": 8760}
# Image id → (name, OS name).
IMAGES: dict[str, tuple[str, str]] = {
    "debian_12_6_x64_20G_alibase_20240823.vhd": ("debian_12_6_x64_20G_alibase_20240823.vhd", "Debian  12.6 64 bit"),
    "aliyun_3_x64_20G_alibase_20240819.vhd": (
        "aliyun_3_x64_20G_alibase_20240819.vhd",
        "Alibaba Cloud Linux  3.2104 LTS 64 bit",
    ),
}
ALL_ZONES = [zone for zones in REGIONS.values() for zone in zones]
VSWITCHES = {f"vsw-{zone}": zone for zone in ALL_ZONES}
TAG_LIMIT = 20
SIGNING = {"Signature"}
# Parameters that differ between two sendings of the same request; the rest must match for a ClientToken retry.
PER_SENDING = {"Signature", "SignatureNonce", "Timestamp", "AccessKeyId", "SignatureMethod", "SignatureVersion"}


# ECS's error answers: code → (HTTP status, message).
ERRORS: dict[str, tuple[int, str]] = {
    "IncompleteSignature": (400, "The request signature does not conform to Aliyun standards."),
    "InvalidAccessKeyId.NotFound": (404, "Specified access key is not found."),
    "SignatureDoesNotMatch": (400, "Specified signature is not matched with our calculation."),
    "InvalidSignatureMethod": (400, "Specified signature method is not valid."),
    "InvalidTimeStamp.Format": (400, "Specified time stamp or date value is not well formatted."),
    "InvalidTimeStamp.Expired": (400, "Specified time stamp or date value is expired."),
    "SignatureNonceUsed": (400, "Specified signature nonce was used already."),
    "InvalidVersion": (400, "Specified parameter Version is not valid."),
    "InvalidAction.NotFound": (404, "Specified api is not found, please check your url and method."),
    "InvalidRegionId.NotFound": (404, "The specified RegionId does not exist."),
    "MissingParameter": (400, "The input parameter that is mandatory for processing this request is not supplied."),
    "InvalidParameter": (400, "The specified parameter is not valid."),
    "Throttling.User": (400, "Request was denied due to user flow control."),
    "ServiceUnavailable": (503, "The request has failed due to a temporary failure of the server."),
    "InternalError": (500, "The request processing has failed due to some unknown error."),
    "IdempotentParameterMismatch": (
        400,
        "The request uses the same client token as a previous, but non-identical request.",
    ),
    "DryRunOperation": (400, "Request validation has been passed with DryRun flag set."),
    "OperationDenied.NoStock": (
        403,
        "Sales of this resource are temporarily suspended in the specified region; please try again later.",
    ),
    "QuotaExceed.ElasticQuota": (
        403,
        "The number of vCPUs assigned to the ECS instances has exceeded the quota in the zone.",
    ),
    "InvalidTagCount": (400, "The specified tags are beyond the permitted range."),
    "InvalidInstanceType.ValueNotSupported": (
        400,
        "The specified InstanceType does not exist or beyond the permitted range.",
    ),
    "InvalidImageId.NotFound": (404, "The specified ImageId does not exist."),
    "InvalidVSwitchId.NotFound": (404, "Specified virtual switch does not exist."),
    "InvalidZoneId.NotFound": (404, "The specified ZoneId does not exist."),
    "InvalidParameter.Mismatch": (400, "Specified virtual switch is not in the specified zone."),
    "InvalidSecurityGroupId.NotFound": (404, "The specified SecurityGroupId does not exist."),
    "InvalidInstanceId.NotFound": (404, "The specified InstanceId does not exist."),
    "PriceNotFound": (400, "The price of your queried resource is not available now, please try other resources."),
    "InvalidTagValue.Malformed": (400, "The specified Tag.n.Value is not valid."),
    "InvalidResourceId.NotFound": (404, "The specified ResourceIds are not found in our records."),
    "IncorrectInstanceStatus": (403, "The current status of the resource does not support this operation."),
    "InvalidKeyPairName.NotFound": (404, "The specified KeyPairName does not exist in our records."),
    "InvalidKeyPairName.Malformed": (400, "The specified parameter KeyPairName is not valid."),
    "KeyPair.AlreadyExist": (400, "The key pair already exist."),
    "InvalidPublicKeyBody.Malformed": (400, "The specified parameter PublicKeyBody is not valid."),
}


class EcsError(Exception):
    """An ECS error answer: a code of ERRORS, its HTTP status, and its message (or a more precise one)."""

    def __init__(self, code: str, message: str | None = None):
        self.status, default = ERRORS[code]
        self.code, self.message = code, message or default
        super().__init__(self.message)


def missing(name: str) -> EcsError:
    """ECS's answer for a mandatory parameter left out."""
    return EcsError(
        "MissingParameter",
        f'The input parameter "{name}" that is mandatory for processing this request is not supplied.',
    )


def invalid(name: str) -> EcsError:
    """ECS's answer for a parameter with a bad value."""
    return EcsError("InvalidParameter", f'The specified parameter "{name}" is not valid.')


def percent_encode(value: str) -> str:
    """Aliyun's percent encoding: RFC 3986, only A-Z a-z 0-9 - _ . ~ left as they are."""
    return quote(str(value), safe="~")


def string_to_sign(method: str, params: dict[str, str]) -> str:
    """METHOD&%2F&percentEncode(canonicalized query), over every parameter but Signature."""
    canonical = "&".join(
        f"{percent_encode(key)}={percent_encode(value)}" for key, value in sorted(params.items()) if key not in SIGNING
    )
    return f"{method}&{percent_encode('/')}&{percent_encode(canonical)}"


def sign(text: str, secret: str, method: str = "HMAC-SHA1") -> str:
    """The base64 HMAC of text keyed with secret + "&"."""
    digest = hashlib.sha256 if method == "HMAC-SHA256" else hashlib.sha1
    return base64.b64encode(hmac.new(f"{secret}&".encode(), text.encode(), digest).digest()).decode()


def truthy(value: str | None) -> bool:
    """ECS booleans: "true" in any case."""
    return str(value).lower() == "true"


def numbered(params: dict[str, str], prefix: str, suffix: str = "") -> list[str]:
    """Values of a RepeatList such as InstanceId.1, InstanceId.2 (or Tag.N.Key with suffix), in N order."""
    found = []
    for key, value in params.items():
        middle = key[len(prefix) : len(key) - len(suffix)] if suffix else key[len(prefix) :]
        if key.startswith(prefix) and key.endswith(suffix) and middle.isdigit():
            found.append((int(middle), value))
    return [value for _, value in sorted(found)]


def tags_of(params: dict[str, str]) -> list[tuple[str, str | None]]:
    """Tag.N.Key / Tag.N.Value pairs (the value None when only the key is given)."""
    indexes = sorted({int(k.split(".")[1]) for k in params if k.startswith("Tag.") and k.split(".")[1].isdigit()})
    return [(params.get(f"Tag.{n}.Key", ""), params.get(f"Tag.{n}.Value")) for n in indexes]


def page_args(params: dict[str, str], default_size: int = 10) -> tuple[int, int]:
    """PageNumber (from 1) and PageSize (1..100), as ECS checks them."""
    try:
        number = int(params.get("PageNumber") or 1)
        size = int(params.get("PageSize") or default_size)
    except ValueError:
        raise invalid("PageNumber/PageSize") from None
    if number < 1:
        raise invalid("PageNumber")
    if not 1 <= size <= 100:
        raise invalid("PageSize")
    return number, size
