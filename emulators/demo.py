"""The emulated clouds of the one-command demo: where each runs and how DCP reaches it."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
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


def _openstack_credentials(port: int) -> dict[str, str]:
    return {
        "auth_url": f"http://127.0.0.1:{port}/identity/v3",
        "username": openstack.USERNAME,
        "password": openstack.PASSWORD,
        "project_name": openstack.PROJECT,
        "user_domain_name": openstack.DOMAIN,
        "project_domain_name": openstack.DOMAIN,
    }


CLOUDS = (
    DemoCloud(
        kind="openstack",
        module="emulators.openstack",
        port=5002,
        path="/identity/v3",
        region=openstack.REGION,
        credentials=_openstack_credentials(5002),
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
        port=5001,
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
        port=5000,
        region="us-east-1",
        credentials={
            "access_key_id": AwsEmulator.ACCESS_KEY_ID,
            "secret_access_key": AwsEmulator.SECRET_ACCESS_KEY,
        },
        template={"instance_type": "t3.micro", "image": "ami-1e749f67", "zone": "us-east-1a"},
        hourly_price="0.0104",
    ),
)


def start_all(host: str = "127.0.0.1", wait: float = 30.0) -> list[subprocess.Popen]:
    """Start every demo emulator as its own process and wait until each accepts connections."""
    processes = [
        subprocess.Popen([sys.executable, "-m", cloud.module, "--host", host, "--port", str(cloud.port)])
        for cloud in CLOUDS
    ]
    deadline = time.monotonic() + wait
    for cloud in CLOUDS:
        while True:
            try:
                socket.create_connection((host, cloud.port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the {cloud.kind} emulator did not start on port {cloud.port}") from None
                time.sleep(0.2)
    return processes
