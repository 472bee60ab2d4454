"""The test-host harness: real hosts on this machine, reachable over SSH, isolated from this machine's state.

Needs root (namespaces, mounts, network devices): skipped otherwise. As root, a harness that cannot run (a tool
missing, no overlayfs) is an error, not a skip. The first run builds the cache (about a minute).
"""

from __future__ import annotations

import os
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.hosts import TestHostSet, ensure_built, net, ntp
from tests.hosts.hostset import sets_dir

ROOT = Path(__file__).resolve().parents[2]
requires_root = pytest.mark.skipif(os.geteuid() != 0, reason="test hosts need root")
APT_ENV = {"DEBIAN_FRONTEND": "noninteractive"}


@pytest.fixture(scope="module")
def ssh_key(tmp_path_factory) -> Path:
    """A fresh key pair; the hosts accept its public half for root."""
    key = tmp_path_factory.mktemp("ssh") / "id_ed25519"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "dcp-harness-test", "-f", str(key)],
        check=True,
        timeout=30,
    )
    return key


@pytest.fixture(scope="module")
def hosts(ssh_key):
    """Three hosts for the whole module."""
    ensure_built()
    with TestHostSet(count=3, authorized_key=ssh_key.with_suffix(".pub").read_text(), name="harness-test") as made:
        yield made


def ssh(host, key: Path, known_hosts: Path, command: str) -> subprocess.CompletedProcess[str]:
    """Run command on host over SSH as root, checking its host key strictly against known_hosts."""
    return subprocess.run(
        ["ssh", "-i", str(key), "-o", "StrictHostKeyChecking=yes", "-o", f"UserKnownHostsFile={known_hosts}"]
        + ["-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "ConnectTimeout=10", f"root@{host.ip}", command],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def known_hosts_for(host, directory: Path) -> Path:
    """A known_hosts file with exactly host's public host keys."""
    path = directory / f"known_hosts-{host.name}"
    path.write_text("\n".join(host.known_hosts_lines()) + "\n")
    return path


@requires_root
def test_each_host_answers_over_ssh_with_its_own_host_keys_and_name(hosts, ssh_key, tmp_path):
    keys = {}
    for host in hosts:
        assert host.port == 22
        assert host.hostname == host.name
        result = ssh(host, ssh_key, known_hosts_for(host, tmp_path), "hostname; cat /etc/hostname")
        assert result.returncode == 0, result.stderr
        assert result.stdout.split() == [host.name, host.name]
        keys[host.name] = host.host_keys()
        assert sorted(key.split()[0] for key in keys[host.name]) == ["ecdsa-sha2-nistp256", "ssh-ed25519"]
    assert [host.name for host in hosts] == ["harness-test-0", "harness-test-1", "harness-test-2"]
    every_key = [key.split()[1] for found in keys.values() for key in found]
    assert len(every_key) == len(set(every_key)), "two hosts share a host key"
    # Strict checking means something: host 1 presenting its keys where host 0's are expected is refused.
    wrong = tmp_path / "wrong"
    wrong.write_text("".join(f"{hosts[0].ip} {' '.join(key.split()[:2])}\n" for key in keys[hosts[1].name]))
    result = ssh(hosts[0], ssh_key, wrong, "true")
    assert result.returncode != 0
    assert "HOST IDENTIFICATION HAS CHANGED" in result.stderr or "verification failed" in result.stderr


@requires_root
def test_hosts_share_one_network_with_the_gateway_and_reach_nothing_else(hosts):
    subnet = net.subnet(int(hosts.gateway.split(".")[2]))
    assert str(subnet) == hosts.network and subnet.subnet_of(net.NETWORK)
    assert hosts.gateway == str(subnet.network_address + 1) == hosts.ntp_server
    assert hosts.repo_url == f"http://{hosts.gateway}:8231/"
    assert [host.ip for host in hosts] == [str(subnet.network_address + 10 + i) for i in range(3)]
    assert f"default via {hosts.gateway} dev eth0" in hosts[0].run(["ip", "-4", "route"]).stdout
    assert hosts[0].run(["ping", "-c", "1", "-W", "2", hosts[1].ip]).returncode == 0
    assert hosts[0].run(["ping", "-c", "1", "-W", "2", hosts.gateway]).returncode == 0
    # Nothing is routed beyond the gateway, and there is no DNS.
    probe = (
        "import socket\ntry:\n socket.create_connection(('192.0.2.1', 80), timeout=2)\nexcept OSError as e:\n print(e)"
    )
    assert hosts[0].run(["python3", "-c", probe]).stdout.strip() in ("timed out", "[Errno 113] No route to host")
    result = hosts[0].run(["getent", "hosts", "deb.debian.org"])
    assert result.returncode != 0
    assert hosts[0].run(["getent", "hosts", hosts[1].name]).stdout.split() == [hosts[1].ip, hosts[1].name]


@requires_root
def test_writing_etc_on_a_host_changes_that_host_only(hosts):
    probe = "/etc/dcp-harness-probe"
    result = hosts[0].run(["sh", "-c", f"echo written-on-host > {probe}"])
    assert result.returncode == 0, result.stderr
    assert hosts[0].read_file(probe) == "written-on-host\n"
    assert hosts[0].exists(probe)
    assert not hosts[1].exists(probe)
    assert not Path(probe).exists()


@requires_root
def test_kernel_wide_sysctls_clock_and_sys_are_read_only_on_a_host(hosts):
    machine = Path("/proc/sys/vm/swappiness").read_text()
    other = "7" if machine.strip() != "7" else "9"
    result = hosts[0].run(["sysctl", "-w", f"vm.swappiness={other}"])
    assert result.returncode != 0
    assert "permission denied" in result.stderr or "Read-only file system" in result.stderr
    result = hosts[0].run(["sh", "-c", f"echo {other} > /proc/sys/vm/swappiness"])
    assert result.returncode != 0
    assert "Read-only file system" in result.stderr
    assert Path("/proc/sys/vm/swappiness").read_text() == machine
    assert hosts[0].run(["sh", "-c", "echo h > /proc/sysrq-trigger"]).returncode != 0
    mounts = hosts[0].read_file("/proc/self/mounts").splitlines()
    assert any(line.split()[1] == "/sys" and line.split()[3].startswith("ro") for line in mounts)
    result = hosts[0].run(["date", "-s", "2001-01-01"])
    assert result.returncode != 0
    assert "Operation not permitted" in result.stderr
    assert time.time() > 1_700_000_000


@requires_root
def test_network_sysctls_belong_to_the_host(hosts):
    machine = Path("/proc/sys/net/core/somaxconn").read_text().strip()
    value = str(int(machine) + 7)
    result = hosts[0].run(["sysctl", "-w", f"net.core.somaxconn={value}"])
    assert result.returncode == 0, result.stderr
    assert hosts[0].read_file("/proc/sys/net/core/somaxconn").strip() == value
    assert hosts[1].read_file("/proc/sys/net/core/somaxconn").strip() != value
    assert Path("/proc/sys/net/core/somaxconn").read_text().strip() == machine


@requires_root
def test_base_has_no_role_packages_and_apt_uses_the_local_repository_only(hosts):
    for package in ("chrony", "docker.io", "puppet-agent", "puppet"):
        assert hosts[0].run(["dpkg-query", "-W", "-f", "${Status}", package]).stdout != "install ok installed"
    assert not hosts[0].exists("/usr/sbin/policy-rc.d")
    assert hosts[0].read_file("/etc/apt/sources.list") == f"deb [trusted=yes] {hosts.repo_url} ./\n"
    assert hosts[0].run(["sh", "-c", "ls /etc/apt/sources.list.d"]).stdout == ""


@requires_root
def test_chrony_installs_from_the_local_repository_and_syncs_with_the_gateway(hosts):
    host = hosts[1]
    result = host.run(["sh", "-c", "apt-get update && apt-get install -y chrony"], env=APT_ENV, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert host.run(["dpkg-query", "-W", "-f", "${Status}", "chrony"]).stdout == "install ok installed"
    assert host.exists("/etc/chrony/chrony.conf")
    config = f"server {hosts.ntp_server} iburst\ndriftfile /var/lib/chrony/dcp-test.drift\n"
    host.run(["sh", "-c", "cat > /etc/chrony/dcp-test.conf"], input=config, check=True)
    host.run(["sh", "-c", "pkill -x chronyd; sleep 0.2"])
    # -x: never touch the clock, which this machine and every host share.
    host.run(["chronyd", "-x", "-f", "/etc/chrony/dcp-test.conf"], check=True)
    gateway_id = "".join(f"{int(part):02X}" for part in hosts.gateway.split("."))
    deadline = time.monotonic() + 20
    tracking = ""
    while time.monotonic() < deadline:
        tracking = host.run(["chronyc", "-n", "tracking"]).stdout
        if "Leap status     : Normal" in tracking and f"{gateway_id} ({hosts.gateway})" in tracking:
            break
        time.sleep(0.5)
    assert "Leap status     : Normal" in tracking, tracking
    assert f"Reference ID    : {gateway_id} ({hosts.gateway})" in tracking, tracking
    host.run(["pkill", "-x", "chronyd"])


@requires_root
def test_a_stopped_host_refuses_connections_at_once_and_starts_again(hosts, ssh_key, tmp_path):
    host = hosts[2]
    known_hosts = known_hosts_for(host, tmp_path)
    host.stop()
    assert not host.running
    started = time.monotonic()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((host.ip, 22), timeout=5)
    assert time.monotonic() - started < 1
    with pytest.raises(RuntimeError, match="not running"):
        host.run(["true"])
    host.start()
    # Same host keys after the restart: its files are as it left them.
    result = ssh(host, ssh_key, known_hosts, "hostname")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == host.name


def machine_leftovers(name: str) -> list[str]:
    """What a set named name has on this machine: namespaces, devices, mounts, its directory."""
    found = net.set_netns(name) + net.set_devices(name)
    found += [
        line
        for line in Path("/proc/mounts").read_text().splitlines()
        if f"sets/{name}/" in line or f"dcp-testhosts-{name}-" in line
    ]
    if (sets_dir() / name).exists():
        found.append(str(sets_dir() / name))
    return found


@requires_root
def test_teardown_leaves_no_namespace_device_mount_or_process_behind():
    with TestHostSet(count=2, name="harness-teardown") as made:
        gateway = made.gateway
        pids = net.processes_in_netns(net.set_netns("harness-teardown"))
        assert len(pids) >= 4  # per host: unshare, init, sshd
        assert len(machine_leftovers("harness-teardown")) >= 4
    assert machine_leftovers("harness-teardown") == []
    assert not any(Path(f"/proc/{pid}").exists() for pid in pids)
    assert gateway not in subprocess.run(["ip", "-4", "addr"], capture_output=True, text=True, check=True).stdout
    assert "dcp-testhosts-harness-teardown" not in Path("/proc/mounts").read_text()


@requires_root
def test_a_set_left_behind_by_a_killed_process_is_cleaned_when_the_name_is_used_again():
    script = (
        "import time\nfrom tests.hosts import TestHostSet\n"
        "hosts = TestHostSet(count=1, name='harness-crash')\nhosts.start()\nprint('up', flush=True)\ntime.sleep(60)\n"
    )
    crashed = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert crashed.stdout.readline().strip() == "up"
    finally:
        crashed.send_signal(signal.SIGKILL)
        crashed.wait(timeout=30)
    assert net.set_netns("harness-crash"), "the killed process's set should still be there"
    with TestHostSet(count=1, name="harness-crash") as again:
        assert again[0].run(["hostname"]).stdout.strip() == "harness-crash-0"
    assert machine_leftovers("harness-crash") == []


def test_ntp_reply_answers_a_client_request_as_a_synchronised_stratum_2_server():
    client_transmit = 0x1122334455667788
    request = struct.pack(
        "!BBbbII4sQQQQ", (0 << 6) | (4 << 3) | 3, 0, 6, -20, 0, 0, b"\0" * 4, 0, 0, 0, client_transmit
    )
    now = 1_800_000_000.25
    answer = ntp.reply(request, received=now - 0.001, now=now)
    first, stratum, poll, precision, delay, dispersion, ref_id, ref, origin, receive, transmit = struct.unpack(
        "!BBbbII4sQQQQ", answer
    )
    assert (first >> 6, (first >> 3) & 7, first & 7) == (0, 4, 4)
    assert (stratum, poll, precision) == (2, 6, -20)
    assert 0 < delay < 2**16 // 100 and 0 < dispersion < 2**16 // 100  # under 10 ms each
    assert ref_id == socket.inet_aton("127.127.1.0")
    assert origin == client_transmit
    assert transmit == ntp.to_ntp(now) and (transmit >> 32) - 2208988800 == 1_800_000_000
    assert ref < receive < transmit
    assert ntp.reply(b"\x1b" + b"\0" * 10, received=now) is None  # too short
    assert ntp.reply(bytes([(4 << 3) | 4]) + request[1:], received=now) is None  # a server's packet, not a request
