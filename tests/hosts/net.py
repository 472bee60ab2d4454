"""The network of a set: a switch namespace with a bridge, a gateway address on this machine, a veth per host.

Layout for a set named N with third octet X (all in 10.231.X.0/24):

    this machine (root namespace)      netns dcp-testhosts-N-sw (switch)     netns dcp-testhosts-N-i (host i)
    dcpthX  10.231.X.1/24  <--veth-->  gw -- br0 -- hi  <--------veth-------->  eth0  10.231.X.(10+i)/24

The bridge lives in a namespace of its own rather than in the root namespace: traffic between hosts then never
meets this machine's firewall (with br_netfilter loaded, a Docker engine's FORWARD DROP policy would drop it).
The hosts' default route points at the gateway (so that Ansible finds a default IPv4 address and gateway, which is
where the repository and NTP are), and the gateway device has forwarding off: packets for anywhere else are
dropped, so hosts reach the gateway and each other and nothing else. They have no DNS either, so a name outside
the set fails at once. No IPv6 anywhere (not even link-local addresses).
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import subprocess
import zlib
from pathlib import Path

from tests.hosts.config import FIRST_HOST_OCTET, NETWORK

PREFIX = "dcp-testhosts"
NETNS_DIR = Path("/run/netns")
NO_IPV6 = (
    "for f in /proc/sys/net/ipv6/conf/all/disable_ipv6 /proc/sys/net/ipv6/conf/default/disable_ipv6; do "
    '[ ! -e "$f" ] || echo 1 > "$f"; done'
)


def switch_netns(set_name: str) -> str:
    """The namespace holding a set's bridge (the suffix keeps it apart from any set's host namespaces)."""
    return f"{PREFIX}-{set_name}-sw"


def host_netns(set_name: str, index: int) -> str:
    """The network namespace of host index of a set."""
    return f"{PREFIX}-{set_name}-{index}"


def gateway_device(octet: int) -> str:
    """The gateway's veth device on this machine (device names have at most 15 characters)."""
    return f"dcpth{octet}"


def alias(set_name: str) -> str:
    """The alias marking this machine's devices of a set, so that a crashed set's devices can be found."""
    return f"{PREFIX}:{set_name}"


def subnet(octet: int) -> ipaddress.IPv4Network:
    """A set's /24."""
    return ipaddress.IPv4Network(f"{NETWORK.network_address + octet * 256}/24")


def gateway_ip(octet: int) -> str:
    """The gateway's address: this machine, where the repository and NTP are served."""
    return str(subnet(octet).network_address + 1)


def host_ip(octet: int, index: int) -> str:
    """The address of host index."""
    return str(subnet(octet).network_address + FIRST_HOST_OCTET + index)


def ip(*args: str, batch: str | None = None) -> str:
    """Run ip with explicit arguments (and a -batch script on stdin); fail with ip's own message."""
    command = ["ip", *args, *(["-batch", "-"] if batch is not None else [])]
    result = subprocess.run(command, input=batch, capture_output=True, text=True, timeout=30, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed: {result.stderr.strip()}")
    return result.stdout


def in_netns(netns: str, script: str) -> None:
    """Run a sh script in a network namespace (for /proc/sys/net, which shows the caller's namespace)."""
    subprocess.run(["nsenter", f"--net={NETNS_DIR / netns}", "sh", "-ec", script], check=True, timeout=30)


def write_sysctl(path: str, value: str) -> None:
    """Set a sysctl of this machine's namespace, if the kernel has it (no IPv6: no IPv6 settings)."""
    if os.path.exists(path):
        Path(path).write_text(value)


def list_netns() -> list[str]:
    """Names of the named network namespaces of this machine."""
    try:
        return sorted(os.listdir(NETNS_DIR))
    except FileNotFoundError:
        return []


def set_netns(set_name: str) -> list[str]:
    """A set's namespaces: its hosts' and its switch's, hosts first."""
    hosts = re.compile(rf"{re.escape(PREFIX)}-{re.escape(set_name)}-\d+")
    found = [name for name in list_netns() if hosts.fullmatch(name)]
    return found + [name for name in list_netns() if name == switch_netns(set_name)]


def set_devices(set_name: str) -> list[str]:
    """This machine's devices of a set (found by their alias)."""
    links = json.loads(ip("-j", "link", "show") or "[]")
    return [link["ifname"] for link in links if link.get("ifalias") == alias(set_name)]


def set_names_on_machine() -> set[str]:
    """Names of the sets that have devices on this machine (running, or left behind by a crash)."""
    links = json.loads(ip("-j", "link", "show") or "[]")
    marker = f"{PREFIX}:"
    return {link["ifalias"][len(marker) :] for link in links if link.get("ifalias", "").startswith(marker)}


def used_octets() -> set[int]:
    """Third octets of 10.231.0.0/16 that this machine's addresses or routes already use."""
    used: set[int] = set()
    networks = [
        ipaddress.ip_interface(f"{info['local']}/{info['prefixlen']}").network
        for entry in json.loads(ip("-j", "-4", "addr", "show") or "[]")
        for info in entry.get("addr_info", [])
    ]
    networks += [
        ipaddress.ip_network(route["dst"], strict=False)
        for route in json.loads(ip("-j", "-4", "route", "show", "table", "all") or "[]")
        if route.get("dst", "default") not in ("default", "")
    ]
    for network in networks:
        # A wider route (a 10.0.0.0/8 of this machine's LAN) is shadowed by a set's /24: only narrower ones clash.
        if network.version == 4 and network.prefixlen >= NETWORK.prefixlen and network.subnet_of(NETWORK):
            first = (int(network.network_address) - int(NETWORK.network_address)) // 256
            last = (int(network.broadcast_address) - int(NETWORK.network_address)) // 256
            used.update(range(first, last + 1))
    return used


def allocate_octet(set_name: str) -> int:
    """A free third octet for a set, the same one for the same name whenever it is free (call under net.lock)."""
    used = used_octets()
    preferred = 10 + zlib.crc32(set_name.encode()) % 240
    for octet in [*range(preferred, 255), *range(1, preferred)]:
        if octet not in used:
            return octet
    raise RuntimeError("no free /24 left in 10.231.0.0/16: stop some test host sets (python -m tests.hosts status)")


def create_switch(set_name: str, octet: int) -> None:
    """The set's switch namespace and bridge, and the gateway device with the gateway address on this machine."""
    switch, device = switch_netns(set_name), gateway_device(octet)
    ip("netns", "add", switch)
    in_netns(switch, NO_IPV6)
    ip("link", "add", device, "type", "veth", "peer", "name", "gw", "netns", switch)
    ip("link", "set", "dev", device, "alias", alias(set_name))
    write_sysctl(f"/proc/sys/net/ipv6/conf/{device}/disable_ipv6", "1")
    # This machine routes nothing from the hosts anywhere (whatever its own ip_forward says): they reach it only.
    write_sysctl(f"/proc/sys/net/ipv4/conf/{device}/forwarding", "0")
    ip("addr", "add", f"{gateway_ip(octet)}/24", "dev", device)
    ip("link", "set", "dev", device, "up")
    ip("-n", switch, batch="link add br0 type bridge\nlink set br0 up\nlink set gw master br0\nlink set gw up\n")


def create_host_network(set_name: str, octet: int, index: int) -> None:
    """Host index's namespace, plugged into the set's bridge, with its address and a default route via the gateway."""
    switch, netns, port = switch_netns(set_name), host_netns(set_name, index), f"h{index}"
    ip("netns", "add", netns)
    in_netns(netns, NO_IPV6)
    ip("-n", switch, batch=f"link add {port} type veth peer name eth0 netns {netns}\nlink set {port} master br0\n")
    ip("-n", switch, "link", "set", "dev", port, "up")
    ip(
        "-n",
        netns,
        batch=(
            f"link set lo up\naddr add {host_ip(octet, index)}/24 dev eth0\nlink set eth0 up\n"
            f"route add default via {gateway_ip(octet)}\n"
        ),
    )


def remove_set_network(set_name: str) -> None:
    """Delete a set's devices and namespaces (its processes must be gone, see processes_in_netns). The gateway
    device goes first: deleting it deletes its veth peer at once, while a deleted namespace's devices go later."""
    for device in set_devices(set_name):
        ip("link", "del", "dev", device)
    for netns in set_netns(set_name):
        ip("netns", "del", netns)


def processes_in_netns(names: list[str]) -> list[int]:
    """Processes whose network namespace is one of the named ones (a host's init, sshd, what it started)."""
    wanted = set()
    for name in names:
        try:
            info = os.stat(NETNS_DIR / name)
        except FileNotFoundError:
            continue
        wanted.add((info.st_dev, info.st_ino))
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            info = os.stat(f"/proc/{entry}/ns/net")
        except OSError:
            continue
        if (info.st_dev, info.st_ino) in wanted:
            found.append(int(entry))
    return found
