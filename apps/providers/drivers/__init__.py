"""Provider drivers: one uniform interface over physical machines and clouds."""

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
)
from apps.providers.drivers.registry import get_driver, get_driver_class

__all__ = [
    "AuthError",
    "CapacityError",
    "Driver",
    "Image",
    "InvalidRequestError",
    "Location",
    "Node",
    "NodeSpec",
    "NodeState",
    "NotFoundError",
    "ProviderError",
    "QuotaExceededError",
    "Quote",
    "Size",
    "ThrottledError",
    "TransientError",
    "get_driver",
    "get_driver_class",
]
