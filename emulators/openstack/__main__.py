"""``python -m emulators.openstack [--port 5002]``: the OpenStack emulator alone."""

from emulators.base import main
from emulators.openstack.server import OpenStackEmulator

main(OpenStackEmulator, 5002)
