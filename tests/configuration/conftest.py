"""Real test hosts for initialization tests, and the records that point DCP at them."""

import os

import pytest

from apps.configuration import keys
from apps.configuration.models import Registry, SSHKey
from apps.inventory.choices import HostStatus
from apps.inventory.models import Host
from tests.factories import PoolFactory, TemplateFactory, with_template

PASSWORD = "registry-pass-5f2c9e"  # noqa: S105 - a test secret that must never show up anywhere
REGISTRY_URL = "registry.dcp.test:5000"
MIRRORS = {"bj-1": "http://mirror-bj.dcp.test:5000"}
DEFAULT_MIRROR = "http://mirror.dcp.test:5000"


def start_hosts(count: int, name: str):
    """A started TestHostSet with a fresh key pair; skipped only where this is not root (never in CI)."""
    from tests.hosts import HostsUnavailable, TestHostSet

    if os.geteuid() != 0:
        pytest.skip("test hosts need root (network namespaces, mounts); CI runs as root")
    private, public = keys.generate()
    hosts = TestHostSet(count=count, authorized_key=public, name=name)
    try:
        hosts.start()
    except HostsUnavailable as exc:
        pytest.fail(f"test hosts could not start: {exc}")
    hosts.private_key = private
    return hosts


def base_vars(hosts, **extra) -> dict:
    """Template variables for the test hosts: their gateway's NTP server, and what a test host cannot do.

    The clock is shared with this machine, so chronyd must not set it. Docker's SysV start script raises the
    open-files hard limit, which needs CAP_SYS_RESOURCE that neither the hosts nor this machine have: the
    engine is installed, configured and enabled, not started. Its recommended packages would replace the
    hosts' init with systemd-sysv.
    """
    return {
        "dcp_ntp_servers": [hosts.ntp_server],
        "dcp_ntp_control_clock": False,
        "dcp_docker_service_state": "stopped",
        "dcp_docker_install_recommends": False,
        **extra,
    }


def registry() -> Registry:
    """The private registry the test templates log in to, with a mirror for IDC bj-1 and a default one."""
    return Registry.objects.get_or_create(
        name="main",
        defaults={
            "url": REGISTRY_URL,
            "mirrors": MIRRORS,
            "default_mirror": DEFAULT_MIRROR,
            "username": "puller",
            "password": PASSWORD,
        },
    )[0]


def trust(hosts, **owner) -> SSHKey:
    """The key pair the test hosts trust, as an account's or a pool's (a cloud would inject its public half)."""
    public = keys.load(hosts.private_key)
    return SSHKey.objects.create(
        private_key=hosts.private_key, public_key=public, fingerprint=keys.fingerprint(public), **owner
    )


def hosts_for(hosts, machines, *, method: str, init_vars: dict, zones=None) -> list[Host]:
    """Initializing hosts in one pool, one per test host, their account's key pair the one the hosts trust."""
    template = TemplateFactory(init_method=method, init_vars=init_vars, registry=registry())
    trust(hosts, account=template.provider)
    pool = with_template(PoolFactory(), template)
    zones = zones or ["bj-1"] * len(machines)
    return [
        Host.objects.create(
            hostname=machine.name,
            pool=pool,
            provider=template.provider,
            template=template,
            status=HostStatus.INITIALIZING,
            instance_id=machine.name,
            private_ip=machine.ip,
            zone=zone,
        )
        for machine, zone in zip(machines, zones, strict=True)
    ]
