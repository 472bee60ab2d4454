"""The harness contract: what the driver contract suite needs from each provider kind."""

from __future__ import annotations

import json
import urllib.request
from abc import ABC, abstractmethod

from apps.providers.drivers import NodeSpec
from apps.providers.models import CloudAccount

# Failures a harness can cause on purpose; the suite tests each one the harness lists.
FAILURES = ("auth", "invalid", "not_found", "quota", "capacity", "throttled", "transient")
#: What a provider reports of an instance that DCP copies onto its host.
REPORTED = ("private_ip", "public_ip", "cpu", "memory_gb")


class Harness(ABC):
    """Starts what a provider kind needs (an emulator, or nothing), and makes accounts and specs for it.

    Lifecycle: ``start()`` once per test session, ``reset()`` before each test,
    ``stop()`` at the end. Accounts are saved in the test database.
    """

    kind: str
    #: The failures of FAILURES this provider can have; the suite tests each listed one.
    failures: tuple[str, ...] = ()
    #: Zones in which nodes can be created (at least two, for the capacity test).
    zones: tuple[str, ...] = ()
    #: The emulator's base URL, once started (none for providers without an emulator).
    url: str = ""

    @abstractmethod
    def start(self) -> None:
        """Start the emulator(s), once per session."""

    @abstractmethod
    def stop(self) -> None:
        """Stop them."""

    @abstractmethod
    def reset(self) -> None:
        """Forget every instance and fault (POST /_emulator/reset), before each test."""

    @abstractmethod
    def account(self, *, valid: bool = True) -> CloudAccount:
        """A saved account on the emulator; valid=False gives one whose credentials are refused."""

    @abstractmethod
    def spec(self, zone: str | None = None) -> NodeSpec:
        """A spec the provider accepts, in zone (or the first zone)."""

    def broken_spec(self, failure: str) -> NodeSpec:
        """A spec that causes failure 'invalid' (e.g. unknown image) or 'not_found' (e.g. unknown subnet)."""
        raise AssertionError(f"{self.kind} harness does not list {failure!r}")

    def set_faults(self, **faults) -> None:
        """Set emulator faults (see emulators.base.Faults)."""
        raise AssertionError(f"{self.kind} has no emulator faults")

    def exhaust(self, account: CloudAccount, zone: str) -> None:
        """Leave no capacity in zone."""
        self.set_faults(exhausted_zones=[zone])

    def fill_quota(self, account: CloudAccount) -> None:
        """Leave the account no quota for another instance."""
        self.set_faults(instance_quota=0)

    @abstractmethod
    def inventory(self) -> dict[str, str]:
        """The provider's own view of instances made by the tests: id → state (emulator ground truth)."""

    def control(self, method: str, what: str, data: dict | None = None) -> object:
        """Call the emulator's control API (``/_emulator/<what>``) and return its JSON answer."""
        body = json.dumps(data).encode() if data is not None else None
        request = urllib.request.Request(f"{self.url}/_emulator/{what}", data=body, method=method)  # noqa: S310
        request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 - the loopback emulator
            return json.loads(answer.read())

    def reported(self) -> dict[str, dict]:
        """What the provider itself reports of each instance: id → its REPORTED fields (memory in GiB)."""
        return {item["id"]: {key: item.get(key) for key in REPORTED} for item in self.control("GET", "instances")}

    def hand_out(self, addresses: list[str]) -> None:
        """Give new instances these addresses first (real test hosts' IPs), then the emulator's own."""
        self.control("PUT", "addresses", {"addresses": list(addresses)})
