"""Apache Libcloud's OpenStack driver, reached through its own in-process OpenStack emulator.

The emulator, specs, faults and inventory are the OpenStack harness's; only
the account differs: Libcloud's driver name, key and secret, and its
constructor arguments.
"""

from __future__ import annotations

import uuid

from apps.providers.models import CloudAccount
from emulators import openstack as emulator
from tests.providers.harnesses.openstack import WRONG_PASSWORD, OpenStackHarness


def driver_args() -> dict:
    """The Libcloud OpenStack constructor arguments for the emulator's project (its auth URL is the endpoint)."""
    return {
        # 2.0 is the driver that lists images from Glance; 1.1 asks Nova's retired image proxy.
        "api_version": "2.0",
        "ex_force_auth_version": "3.x_password",
        "ex_tenant_name": emulator.PROJECT,
        "ex_domain_name": emulator.DOMAIN,
    }


class LibcloudHarness(OpenStackHarness):
    """One OpenStack emulator on a free loopback port, driven through Libcloud's "openstack" driver."""

    kind = "libcloud"

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

    def calls(self) -> dict[str, int]:
        """API calls the emulator received since the last reset, by action."""
        return self.control("GET", "calls")


HARNESS = LibcloudHarness
