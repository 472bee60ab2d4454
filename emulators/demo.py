"""The emulated clouds of the one-command demo: where each runs (DCP_EMULATOR_PORT) and how DCP reaches it."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field

from emulators import aliyun, openstack
from emulators.aws import AwsEmulator


@dataclass(frozen=True)
class DemoCloud:
    """One emulated cloud: its emulator process, and the account and template that use it."""

    kind: str
    module: str
    port: int
    region: str
    credentials: dict[str, str]
    template: dict[str, object]
    path: str = ""
    hourly_price: str = "0.05"
    extra: dict[str, object] = field(default_factory=dict)

    def url(self, host: str = "127.0.0.1") -> str:
        """The endpoint DCP's account points at."""
        return f"http://{host}:{self.port}{self.path}"

    def command(self, host: str = "127.0.0.1") -> list[str]:
        """The command that runs this cloud's emulator in its own process."""
        return [sys.executable, "-m", self.module, "--host", host, "--port", str(self.port)]


def _openstack_credentials(port: int) -> dict[str, str]:
    return {
        "auth_url": f"http://127.0.0.1:{port}/identity/v3",
        "username": openstack.USERNAME,
        "password": openstack.PASSWORD,
        "project_name": openstack.PROJECT,
        "user_domain_name": openstack.DOMAIN,
        "project_domain_name": openstack.DOMAIN,
    }


#: The environment variable that moves the emulated clouds: AWS listens on it, Aliyun on the next port,
#: OpenStack on the one after.
PORT_VARIABLE = "DCP_EMULATOR_PORT"
DEFAULT_PORT = 5000


def base_port() -> int:
    """The first of the three ports the emulated clouds listen on (DCP_EMULATOR_PORT, default 5000)."""
    value = os.environ.get(PORT_VARIABLE, "").strip() or str(DEFAULT_PORT)
    if not value.isdigit() or not 1 <= int(value) <= 65533:
        raise ValueError(
            f"{PORT_VARIABLE}={value!r} is not a port number from 1 to 65533: the emulated clouds listen on it "
            "and on the next two ports."
        )
    return int(value)


def demo_clouds() -> tuple[DemoCloud, ...]:
    """The emulated clouds, on base_port() (AWS), the next port (Aliyun) and the one after (OpenStack)."""
    base = base_port()
    return (
        DemoCloud(
            kind="openstack",
            module="emulators.openstack",
            port=base + 2,
            path="/identity/v3",
            region=openstack.REGION,
            credentials=_openstack_credentials(base + 2),
            template={
                "instance_type": "m1.small",
                "image": next(iter(openstack.IMAGES)),
                "zone": openstack.ZONES[0],
                "network": openstack.NETWORK_ID,
                # The private cloud is small: past 10 hosts the demo's burst pool spills to public cloud.
                "max_hosts": 10,
            },
            hourly_price="0.02",
        ),
        DemoCloud(
            kind="aliyun",
            module="emulators.aliyun",
            port=base + 1,
            region="cn-hangzhou",
            credentials={"access_key_id": aliyun.ACCESS_KEY_ID, "access_key_secret": aliyun.ACCESS_KEY_SECRET},
            template={
                "instance_type": "ecs.g6.large",
                "image": "debian_12_6_x64_20G_alibase_20240823.vhd",
                "zone": "cn-hangzhou-h",
                "subnet": "vsw-cn-hangzhou-h",
                "security_groups": ["sg-cn-hangzhou"],
            },
            hourly_price="0.09",
        ),
        DemoCloud(
            kind="aws",
            module="emulators.aws",
            port=base,
            region="us-east-1",
            credentials={
                "access_key_id": AwsEmulator.ACCESS_KEY_ID,
                "secret_access_key": AwsEmulator.SECRET_ACCESS_KEY,
            },
            template={"instance_type": "t3.micro", "image": "ami-1e749f67", "zone": "us-east-1a"},
            hourly_price="0.0104",
        ),
    )
