"""The OpenStack provider, reached through the in-process OpenStack emulator (Keystone, Nova, Glance)."""

from __future__ import annotations

import uuid

from apps.providers.drivers import NodeSpec
from apps.providers.models import CloudAccount
from emulators import openstack as emulator
from tests.providers.harnesses.base import FAILURES, Harness

UNKNOWN_IMAGE = "00000000-0000-4000-8000-00000000dead"
UNKNOWN_NETWORK = "00000000-0000-4000-8000-00000000beef"
WRONG_PASSWORD = "not-the-password"


class OpenStackHarness(Harness):
    """One emulator on a free loopback port; accounts authenticate against its Keystone."""

    kind = "openstack"
    failures = FAILURES
    zones = emulator.ZONES

    def __init__(self) -> None:
        self.emulator: emulator.OpenStackEmulator | None = None
        self.url = ""

    def start(self) -> None:
        """Serve the emulator in a background thread."""
        self.emulator = emulator.OpenStackEmulator()
        self.url = self.emulator.start("127.0.0.1", 0)

    def stop(self) -> None:
        """Stop serving."""
        if self.emulator is not None:
            self.emulator.stop()

    def reset(self) -> None:
        """Forget every server, call count and fault."""
        self.control("POST", "reset")

    def account(self, *, valid: bool = True) -> CloudAccount:
        """An account on the emulator's project; valid=False gives it a wrong password."""
        identity = f"{self.url}/identity/v3"
        return CloudAccount.objects.create(
            name=f"openstack-contract-{uuid.uuid4().hex[:8]}",
            kind="openstack",
            region=emulator.REGION,
            endpoint_url=identity,
            credentials={
                "auth_url": identity,
                "username": emulator.USERNAME,
                "password": emulator.PASSWORD if valid else WRONG_PASSWORD,
                "project_name": emulator.PROJECT,
                "user_domain_name": emulator.DOMAIN,
                "project_domain_name": emulator.DOMAIN,
            },
        )

    def spec(self, zone: str | None = None) -> NodeSpec:
        """An m1.small from the Ubuntu image on the private network, in zone."""
        return NodeSpec(
            instance_type="m1.small",
            image=next(iter(emulator.IMAGES)),
            zone=zone or self.zones[0],
            network=emulator.NETWORK_ID,
            name_prefix="dcp",
        )

    def broken_spec(self, failure: str) -> NodeSpec:
        """'invalid': an image Glance does not have; 'not_found': a network Neutron does not have."""
        spec = self.spec()
        if failure == "invalid":
            return NodeSpec(**{**spec.__dict__, "image": UNKNOWN_IMAGE})
        if failure == "not_found":
            return NodeSpec(**{**spec.__dict__, "network": UNKNOWN_NETWORK})
        return super().broken_spec(failure)

    def set_faults(self, **faults) -> None:
        """Replace the emulator's faults (none given: no faults)."""
        self.control("PUT", "faults", faults)

    def inventory(self) -> dict[str, str]:
        """Servers by id: pending (BUILD), running (ACTIVE), error, or terminated (deleted)."""
        return {server["id"]: server["state"] for server in self.control("GET", "instances")}


HARNESS = OpenStackHarness
