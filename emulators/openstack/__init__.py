"""An OpenStack emulator: Keystone v3, Nova v2.1 and Glance v2 on one port, told apart by path prefix.

- ``/identity/v3``: version document and password authentication
  (``POST /identity/v3/auth/tokens``) answering a token whose service catalog
  points the compute and image services back at this same port;
- ``/compute/v2.1``: servers (multi-create with ``min_count``/``max_count``,
  paged listing with ``limit``/``marker``/``servers_links``, delete), flavors,
  availability zones, key pairs (``os-keypairs``; a server naming a missing one
  is refused), with compute microversions negotiated as Nova does;
- ``/image``: Glance v2 image list and detail.

Every call but version discovery and authentication needs a valid
``X-Auth-Token``. Failures look as they do on a real cloud: quota is a 403
"Quota exceeded", an exhausted zone leaves the server in ERROR with a
NoValidHost fault, rate limiting is a 429 with ``Retry-After``, an outage a 503.

Run it alone with ``python -m emulators.openstack [--port 5002]``.
"""

from emulators.openstack.catalog import (
    DOMAIN,
    FLAVORS,
    IMAGES,
    MAX_MICROVERSION,
    MIN_MICROVERSION,
    NETWORK_ID,
    NETWORK_NAME,
    PASSWORD,
    PROJECT,
    REGION,
    USERNAME,
    ZONES,
)
from emulators.openstack.server import OpenStackEmulator

__all__ = [
    "DOMAIN",
    "FLAVORS",
    "IMAGES",
    "MAX_MICROVERSION",
    "MIN_MICROVERSION",
    "NETWORK_ID",
    "NETWORK_NAME",
    "PASSWORD",
    "PROJECT",
    "REGION",
    "USERNAME",
    "ZONES",
    "OpenStackEmulator",
]
