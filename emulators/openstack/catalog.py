"""What the OpenStack emulator holds: its one user and project, region, zones, network, flavors, images, limits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

USERNAME = "dcp"
PASSWORD = "dcp-emulator-password"  # noqa: S105 - the emulator's own fixed test credential
PROJECT = "dcp"
DOMAIN = "Default"
REGION = "RegionOne"
ZONES = ("nova-a", "nova-b")
NETWORK_ID = "3b1f2c9e-6d0a-4e8f-9a57-0c2d4b6e8f10"
NETWORK_NAME = "private"
FLAVORS = {  # id → (name, vcpus, ram MB, disk GB)
    "1": ("m1.small", 1, 2048, 20),
    "2": ("m1.medium", 2, 4096, 40),
    "3": ("m1.large", 4, 8192, 80),
}
IMAGES = {  # id → name
    "6f1e3a52-8c1b-4f0e-a3b4-1d2c3e4f5a60": "ubuntu-22.04",
    "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d": "centos-7",
}
MIN_MICROVERSION = "2.1"
MAX_MICROVERSION = "2.79"
MAX_LIMIT = 1000  # Nova's osapi_max_limit default
TOKEN_LIFETIME = timedelta(hours=1)
FLAVOR_EMBEDDED_FROM = (2, 47)  # the microversion from which a server shows its flavor inline
NO_VALID_HOST = "No valid host was found. There are not enough hosts available."

# Nova's error keys by HTTP status (nova.api.openstack.wsgi.Fault).
NOVA_FAULT_NAMES = {
    400: "badRequest",
    401: "unauthorized",
    403: "forbidden",
    404: "itemNotFound",
    405: "badMethod",
    409: "conflictingRequest",
    413: "overLimit",
    429: "overLimit",
    503: "serviceUnavailable",
}


def _now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _version(text: str) -> tuple[int, int]:
    major, minor = text.split(".")
    return int(major), int(minor)
