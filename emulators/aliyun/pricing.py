"""ECS DescribePrice as the emulator answers it: pay-as-you-go prices from its price list, itemised."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from emulators.aliyun.protocol import (
    CURRENCY,
    DISK_PRICES,
    INSTANCE_TYPES,
    PRICE_UNITS,
    EcsError,
    invalid,
    missing,
)


def describe_price(params: dict[str, str], price_of: Callable[[str, str], Decimal | None]) -> dict:
    """The price of an instance with its system disk, itemised, for PriceUnit x Period x Amount."""
    if (params.get("ResourceType") or "instance") != "instance":
        raise invalid("ResourceType")
    instance_type = params.get("InstanceType")
    if not instance_type:
        raise missing("InstanceType")
    if instance_type not in INSTANCE_TYPES:
        raise EcsError("InvalidInstanceType.ValueNotSupported")
    unit = params.get("PriceUnit") or "Hour"
    disk = params.get("SystemDisk.Category") or "cloud_efficiency"
    if unit not in PRICE_UNITS:
        raise invalid("PriceUnit")
    if disk not in DISK_PRICES:
        raise invalid("SystemDisk.Category")
    try:
        times = PRICE_UNITS[unit] * int(params.get("Period") or 1) * int(params.get("Amount") or 1)
        disk_size = int(params.get("SystemDisk.Size") or 40)
    except ValueError:
        raise invalid("Period/Amount/SystemDisk.Size") from None
    listed = price_of(params["RegionId"], instance_type)
    if listed is None:
        raise EcsError("PriceNotFound")
    lines = {"instanceType": listed * times, "systemDisk": Decimal(DISK_PRICES[disk]) * disk_size * times}
    total = sum(lines.values())
    return {
        "PriceInfo": {
            "Price": {
                "OriginalPrice": float(total),
                "DiscountPrice": 0.0,
                "TradePrice": float(total),
                "Currency": CURRENCY,
                "DetailInfos": {
                    "DetailInfo": [
                        {"Resource": name, "OriginalPrice": float(v), "DiscountPrice": 0.0, "TradePrice": float(v)}
                        for name, v in lines.items()
                    ]
                },
            },
            "Rules": {"Rule": []},
        }
    }
