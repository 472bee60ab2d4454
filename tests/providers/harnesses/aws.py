"""AWS EC2 through the AWS emulator (moto's EC2 behind signature checks and injected faults)."""

from __future__ import annotations

import uuid

from apps.providers.drivers import NodeSpec
from apps.providers.models import CloudAccount
from emulators.aws import AwsEmulator
from tests.providers.harnesses.base import FAILURES, Harness

REGION = "us-east-1"
#: An AMI among those moto ships (Ubuntu 14.04), known with AMI validation on.
IMAGE = "ami-1e749f67"
INSTANCE_TYPE = "t3.micro"


class AwsHarness(Harness):
    """One AWS emulator for the session; accounts signed with its key pair (or a wrong secret)."""

    kind = "aws"
    failures = FAILURES
    zones = ("us-east-1a", "us-east-1b")

    def __init__(self) -> None:
        self.emulator: AwsEmulator | None = None
        self.url = ""

    def start(self) -> None:
        """Start moto and the fault-injecting front on loopback ports."""
        self.emulator = AwsEmulator()
        self.url = self.emulator.start()

    def stop(self) -> None:
        """Stop both."""
        if self.emulator is not None:
            self.emulator.stop()
            self.emulator = None

    def reset(self) -> None:
        """Forget every instance, call count and fault."""
        self.control("POST", "reset")

    def account(self, *, valid: bool = True) -> CloudAccount:
        """An account on the emulator; valid=False keeps the key id but signs with a wrong secret."""
        secret = AwsEmulator.SECRET_ACCESS_KEY if valid else "not-the-" + AwsEmulator.SECRET_ACCESS_KEY
        return CloudAccount.objects.create(
            name=f"aws-contract-{uuid.uuid4().hex[:10]}",
            kind="aws",
            region=REGION,
            endpoint_url=self.url,
            credentials={"access_key_id": AwsEmulator.ACCESS_KEY_ID, "secret_access_key": secret},
        )

    def spec(self, zone: str | None = None) -> NodeSpec:
        """A small instance of a moto AMI in zone."""
        return NodeSpec(instance_type=INSTANCE_TYPE, image=IMAGE, region=REGION, zone=zone or self.zones[0])

    def broken_spec(self, failure: str) -> NodeSpec:
        """'invalid': an AMI that does not exist; 'not_found': a subnet that does not exist."""
        if failure == "invalid":
            return NodeSpec(instance_type=INSTANCE_TYPE, image="ami-00000000deadbeef", region=REGION)
        if failure == "not_found":
            return NodeSpec(instance_type=INSTANCE_TYPE, image=IMAGE, region=REGION, subnet="subnet-0000deadbeef")
        return super().broken_spec(failure)

    def set_faults(self, **faults) -> None:
        """PUT /_emulator/faults (no arguments clears them)."""
        self.control("PUT", "faults", faults)

    def inventory(self) -> dict[str, str]:
        """Moto's instances: id → state."""
        return {item["id"]: item["state"] for item in self.control("GET", "instances")}

    def calls(self) -> dict[str, int]:
        """Calls the emulator received, by EC2 action."""
        return self.control("GET", "calls")


HARNESS = AwsHarness
