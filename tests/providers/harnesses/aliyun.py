"""Aliyun ECS through the in-process ECS emulator, reached by the real aliyunsdkcore over HTTP."""

from __future__ import annotations

import dataclasses
import uuid

from apps.providers.drivers import NodeSpec
from apps.providers.models import CloudAccount
from emulators.aliyun import ACCESS_KEY_ID, ACCESS_KEY_SECRET, AliyunEmulator
from tests.providers.harnesses.base import FAILURES, Harness

REGION = "cn-hangzhou"
INSTANCE_TYPE = "ecs.g6.large"
IMAGE = "debian_12_6_x64_20G_alibase_20240823.vhd"
# The emulator's ECS statuses in the contract's words.
STATES = {"Pending": "pending", "Starting": "pending", "Running": "running", "Deleted": "terminated"}


class AliyunHarness(Harness):
    """One ECS emulator for the session; every failure of the contract can be caused on it."""

    kind = "aliyun"
    failures = FAILURES
    zones = ("cn-hangzhou-h", "cn-hangzhou-i")

    def start(self) -> None:
        """Serve the emulator on a free loopback port."""
        self.emulator = AliyunEmulator()
        self.url = self.emulator.start("127.0.0.1", 0)

    def stop(self) -> None:
        """Stop serving."""
        self.emulator.stop()

    def reset(self) -> None:
        """Forget every instance and fault."""
        self.control("POST", "reset")

    def account(self, *, valid: bool = True) -> CloudAccount:
        """An account on the emulator; valid=False signs with a wrong secret."""
        secret = ACCESS_KEY_SECRET if valid else "not-the-secret"
        return CloudAccount.objects.create(
            name=f"aliyun-contract-{uuid.uuid4().hex[:8]}",
            kind="aliyun",
            region=REGION,
            endpoint_url=self.url,
            credentials={"access_key_id": ACCESS_KEY_ID, "access_key_secret": secret},
        )

    def spec(self, zone: str | None = None) -> NodeSpec:
        """A g6.large on Debian in zone, on that zone's vSwitch."""
        zone = zone or self.zones[0]
        return NodeSpec(
            instance_type=INSTANCE_TYPE,
            image=IMAGE,
            region=REGION,
            zone=zone,
            network=f"vpc-{REGION}",
            subnet=f"vsw-{zone}",
            security_groups=(f"sg-{REGION}",),
            name_prefix="dcp-contract",
        )

    def broken_spec(self, failure: str) -> NodeSpec:
        """'invalid': an unknown image; 'not_found': an unknown vSwitch."""
        spec = self.spec()
        if failure == "invalid":
            return dataclasses.replace(spec, image="no_such_image_x64_20G.vhd")
        if failure == "not_found":
            return dataclasses.replace(spec, subnet="vsw-doesnotexist0000")
        return super().broken_spec(failure)

    def set_faults(self, **faults) -> None:
        """PUT /_emulator/faults."""
        self.control("PUT", "faults", faults)

    def inventory(self) -> dict[str, str]:
        """The emulator's instances: id → pending / running / terminated."""
        return {i["id"]: STATES.get(i["state"], i["state"].lower()) for i in self.control("GET", "instances")}


HARNESS = AliyunHarness
