"""Real, isolated Linux test hosts on this machine, for running Ansible playbooks and Puppet manifests over SSH.

Each host has its own network, mount, UTS, IPC and PID namespaces, a copy-on-write overlay of one shared Debian
bookworm root file system, and sshd as its only service at boot. A set of hosts shares a /24 of 10.231.0.0/16 with
a gateway on this machine that serves a local package repository (HTTP) and time (NTP). See README.md.

    from tests.hosts import TestHostSet, HostsUnavailable, ensure_built

    ensure_built()
    with TestHostSet(count=4, authorized_key=public_key, name="e2e") as hosts:
        hosts[0].run(["hostname"])
"""

from tests.hosts.config import HostsUnavailable
from tests.hosts.host import TestHost
from tests.hosts.hostset import TestHostSet, list_sets, stop_set
from tests.hosts.image import BuildReport, ensure_built

__all__ = ["BuildReport", "HostsUnavailable", "TestHost", "TestHostSet", "ensure_built", "list_sets", "stop_set"]
