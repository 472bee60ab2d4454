"""The AWS Price List Query API (service ``pricing``) as the AWS emulator answers it.

Moto has no Pricing API, so the emulator's front answers it itself: JSON 1.1
calls with ``X-Amz-Target: AWSPriceListService.<Operation>``, signed like every
other call. ``GetProducts`` answers EC2 products from the emulator's price list
(``/_emulator/prices``) in the shape the real API gives: each entry of
``PriceList`` is a JSON *string* holding ``product.attributes`` and
``terms.OnDemand.<sku>.<term>.priceDimensions.<rate>.pricePerUnit.USD``, paged
with ``MaxResults`` and ``NextToken``, filtered by ``TERM_MATCH`` filters on
product attributes. Every listed Linux product has a Windows sibling (its price
plus a licence per vCPU) so a filter on ``operatingSystem`` matters, as it does
on AWS.
"""

from __future__ import annotations

import hashlib
import json
from decimal import Decimal
from typing import Any

TARGET_PREFIX = "AWSPriceListService."
JSON_TYPE = "application/x-amz-json-1.1"
#: The Pricing API's names of the regions the default list covers.
LOCATIONS = {
    "us-east-1": "US East (N. Virginia)",
    "us-west-2": "US West (Oregon)",
    "eu-west-1": "EU (Ireland)",
}
#: On-demand Linux prices per hour in USD, as AWS published them for these regions.
DEFAULT_PRICES = {
    "us-east-1": {
        "t3.micro": "0.0104",
        "t3.small": "0.0208",
        "t3.medium": "0.0416",
        "t3.large": "0.0832",
        "m5.large": "0.0960",
        "m5.xlarge": "0.1920",
        "c5.large": "0.0850",
        "c5.xlarge": "0.1700",
        "r5.large": "0.1260",
    },
    "us-west-2": {"t3.micro": "0.0104", "t3.small": "0.0208", "m5.large": "0.0960", "c5.large": "0.0850"},
    "eu-west-1": {"t3.micro": "0.0114", "t3.small": "0.0228", "m5.large": "0.1070", "c5.large": "0.0960"},
}
#: What a Windows licence adds per vCPU and hour (the sibling products' prices).
WINDOWS_PER_VCPU = Decimal("0.0046")
ON_DEMAND_TERM = "JRTCKXETXF"
HOURLY_RATE = "6YS6EN2CT7"
PAGE_SIZE = 100


def target_of(headers: dict[str, str]) -> str:
    """The Pricing operation a request calls (GetProducts...), or "" when it is no Pricing call."""
    target = headers.get("x-amz-target", "")
    return target[len(TARGET_PREFIX) :] if target.startswith(TARGET_PREFIX) else ""


def error(status: int, code: str, message: str) -> tuple[int, bytes, dict[str, str]]:
    """A JSON 1.1 error answer."""
    return status, json.dumps({"__type": code, "Message": message}).encode(), {"Content-Type": JSON_TYPE}


def _sku(*parts: str) -> str:
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:16].upper()


def _size(instance_type: str) -> tuple[int, float]:
    """vCPUs and GiB of memory of a type moto knows (2 and 4 for any other)."""
    from moto.ec2.models.instance_types import INSTANCE_TYPES

    known = INSTANCE_TYPES.get(instance_type)
    if known is None:
        return 2, 4.0
    return known["VCpuInfo"]["DefaultVCpus"], known["MemoryInfo"]["SizeInMiB"] / 1024


def attributes(region: str, instance_type: str, operating_system: str) -> dict[str, str]:
    """A product's attributes, as GetProducts lists them and its filters match them."""
    vcpus, memory = _size(instance_type)
    usage_prefix = "" if region == "us-east-1" else f"{region.upper().replace('-', '')[:4]}-"
    return {
        "servicecode": "AmazonEC2",
        "servicename": "Amazon Elastic Compute Cloud",
        "instanceType": instance_type,
        "instanceFamily": "General purpose",
        "regionCode": region,
        "location": LOCATIONS.get(region, region),
        "locationType": "AWS Region",
        "vcpu": str(vcpus),
        "memory": f"{memory:g} GiB",
        "operatingSystem": operating_system,
        "tenancy": "Shared",
        "preInstalledSw": "NA",
        "capacitystatus": "Used",
        "licenseModel": "No License required" if operating_system == "Linux" else "License included",
        "marketoption": "OnDemand",
        "operation": "RunInstances" if operating_system == "Linux" else "RunInstances:0002",
        "usagetype": f"{usage_prefix}BoxUsage:{instance_type}",
    }


def product(attributes: dict[str, str], price: Decimal) -> dict[str, Any]:
    """One EC2 product with its on-demand term, as GetProducts lists it (before it is turned into a string)."""
    region, instance_type, system = attributes["regionCode"], attributes["instanceType"], attributes["operatingSystem"]
    sku = _sku(region, instance_type, system)
    rate = f"{sku}.{ON_DEMAND_TERM}.{HOURLY_RATE}"
    return {
        "product": {"productFamily": "Compute Instance", "attributes": attributes, "sku": sku},
        "serviceCode": "AmazonEC2",
        "terms": {
            "OnDemand": {
                f"{sku}.{ON_DEMAND_TERM}": {
                    "priceDimensions": {
                        rate: {
                            "unit": "Hrs",
                            "endRange": "Inf",
                            "description": f"${price} per On Demand {system} {instance_type} Instance Hour",
                            "appliesTo": [],
                            "rateCode": rate,
                            "beginRange": "0",
                            "pricePerUnit": {"USD": f"{price:.10f}"},
                        }
                    },
                    "sku": sku,
                    "effectiveDate": "2026-11-01T00:00:00Z",
                    "offerTermCode": ON_DEMAND_TERM,
                    "termAttributes": {},
                }
            }
        },
        "version": "20261101000000",
        "publicationDate": "2026-11-01T00:00:00Z",
    }


def matching(prices: dict[str, dict[str, str]], filters: list[dict[str, str]]) -> list[dict[str, Any]]:
    """The products of the price list every filter matches: each listed type's Linux product and its Windows
    sibling. A filter on regionCode or instanceType narrows the list before any product is built."""
    wanted = {f["Field"]: f.get("Value") for f in filters}
    found = []
    for region, types in sorted(prices.items()):
        if wanted.get("regionCode", region) != region:
            continue
        for instance_type, listed in sorted(types.items()):
            if wanted.get("instanceType", instance_type) != instance_type:
                continue
            price = Decimal(listed)
            for system in ("Linux", "Windows"):
                described = attributes(region, instance_type, system)
                if all(described.get(f["Field"]) == f.get("Value") for f in filters):
                    extra = WINDOWS_PER_VCPU * _size(instance_type)[0] if system == "Windows" and price else 0
                    found.append(product(described, price + extra))
    return found


def get_products(body: dict[str, Any], prices: dict[str, dict[str, str]]) -> tuple[int, bytes, dict[str, str]]:
    """GetProducts: the products matching every TERM_MATCH filter, one page of MaxResults."""
    if body.get("ServiceCode") in (None, ""):
        return error(400, "InvalidParameterException", "ServiceCode is required.")
    filters = body.get("Filters") or []
    if any(f.get("Type") != "TERM_MATCH" or not f.get("Field") for f in filters):
        return error(400, "InvalidParameterException", "Every filter needs Type TERM_MATCH and a Field.")
    try:
        size = int(body.get("MaxResults") or PAGE_SIZE)
        start = int(body.get("NextToken") or 0)
    except ValueError:
        return error(400, "InvalidNextTokenException", "The NextToken or MaxResults is not valid.")
    if not 1 <= size <= PAGE_SIZE:
        return error(400, "InvalidParameterException", f"MaxResults must be between 1 and {PAGE_SIZE}.")
    found = matching(prices, filters) if body["ServiceCode"] == "AmazonEC2" else []
    page = found[start : start + size]
    answer: dict[str, Any] = {"FormatVersion": "aws_v1", "PriceList": [json.dumps(item) for item in page]}
    if start + size < len(found):
        answer["NextToken"] = str(start + size)
    return 200, json.dumps(answer).encode(), {"Content-Type": JSON_TYPE}
