"""Apache Libcloud's OpenStack driver, reached through its own in-process OpenStack emulator."""

from __future__ import annotations

import json
import urllib.request
import uuid

from apps.providers.drivers import NodeSpec
from apps.providers.emulators import openstack as emulator
from apps.providers.models import CloudAccount
from tests.providers.harnesses.base import FAILURES, Harness

UNKNOWN_IMAGE = "00000000-0000-4000-8000-00000000dead"
UNKNOWN_NETWORK = "00000000-0000-4000-8000-00000000beef"
WRONG_PASSWORD = "not-the-password"


def driver_args() -> dict:
    """The Libcloud OpenStack constructor arguments for the emulator's project (its auth URL is the endpoint)."""
    return {
        # 2.0 is the driver that lists images from Glance; 1.1 asks Nova's retired image proxy.
        "api_version": "2.0",
        "ex_force_auth_version": "3.x_password",
        "ex_tenant_name": emulator.PROJECT,
        "ex_domain_name": emulator.DOMAIN,
    }


class LibcloudHarness(Harness):
    """One OpenStack emulator on a free loopback port, driven through Libcloud's "openstack" driver."""

    kind = "libcloud"
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

    def control(self, method: str, what: str, body: dict | None = None):
        """Call the emulator's control API and return its JSON answer."""
        data = json.dumps(body).encode() if body is not None else None
        url = f"{self.url}/_emulator/{what}"  # always the loopback emulator's http URL
        request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})  # noqa: S310
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            return json.loads(answer.read())

    def reset(self) -> None:
        """Forget every server, call count and fault."""
        self.control("POST", "reset")

    def account(self, *, valid: bool = True, **options) -> CloudAccount:
        """An account on the emulator's project; valid=False gives it a wrong password; options add driver_args."""
        return CloudAccount.objects.create(
            name=f"libcloud-contract-{uuid.uuid4().hex[:8]}",
            kind="libcloud",
            region=emulator.REGION,
            endpoint_url=f"{self.url}/identity/v3",
            credentials={
                "driver": "openstack",
                "key": emulator.USERNAME,
                "secret": emulator.PASSWORD if valid else WRONG_PASSWORD,
            },
            options={"driver_args": {**driver_args(), **options}},
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

    def calls(self) -> dict[str, int]:
        """API calls the emulator received since the last reset, by action."""
        return self.control("GET", "calls")

    def inventory(self) -> dict[str, str]:
        """Servers by id: pending (BUILD), running (ACTIVE), error, or terminated (deleted)."""
        return {server["id"]: server["state"] for server in self.control("GET", "instances")}


HARNESS = LibcloudHarness
