"""Settings of the test-host harness, and the checks that say whether hosts can run on this machine."""

from __future__ import annotations

import ipaddress
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

DEFAULT_CACHE_DIR = Path("/var/cache/dcp-testhosts")
SUITE = "bookworm"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
DEFAULT_SECURITY_MIRROR = "http://deb.debian.org/debian-security"

# What every host has from the start: what sshd, Ansible (python3, python3-apt for the apt module, sysctl from
# procps) and SysV init scripts (init-system-helpers: service, update-rc.d, invoke-rc.d) need.
BASE_PACKAGES: tuple[str, ...] = (
    "openssh-server",
    "python3",
    "python3-apt",
    "iproute2",
    "procps",
    "init-system-helpers",
    "iputils-ping",
    "netbase",
    "less",
)

# What the roles install from the local repository, with all their dependencies the base lacks.
# Extend this tuple (or set DCP_TESTHOSTS_EXTRA_PACKAGES="pkg1 pkg2") when a role installs something new.
REPO_PACKAGES: tuple[str, ...] = (
    "chrony",
    "docker.io",
    "puppet-agent",
    "puppet",
    "ca-certificates",
    "python3-apt",
    "gnupg",
    "curl",
    "jq",
)

# Packages the base root must not contain: the roles under test install them, from the local repository.
NOT_IN_BASE: tuple[str, ...] = ("chrony", "docker.io", "puppet", "puppet-agent")

# Every set gets one /24 out of this range: the gateway is .1, host i is .(10 + i).
NETWORK = ipaddress.ip_network("10.231.0.0/16")
FIRST_HOST_OCTET = 10
MAX_HOSTS = 240
REPO_PORT = 8231
NTP_PORT = 123

# Capabilities over machine-wide state that no test host may use: the clock, kernel modules, kexec, raw I/O
# ports, the kernel log and MAC policy are not namespaced, so a host keeping them could change this machine.
# Everything else (mounts, its own network namespace, chown, ...) root on a host may do.
DROPPED_CAPABILITIES: tuple[str, ...] = (
    "sys_time",
    "wake_alarm",
    "sys_module",
    "sys_boot",
    "sys_rawio",
    "syslog",
    "mac_admin",
    "mac_override",
    "block_suspend",
)

# The environment commands run with on a host: nothing of this machine's environment leaks in.
HOST_ENV: dict[str, str] = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME": "/root",
    "LANG": "C.UTF-8",
    "TERM": "dumb",
}

# Tools this machine needs, with the Debian package that provides each.
RUN_TOOLS: dict[str, str] = {
    "ip": "iproute2",
    "unshare": "util-linux",
    "nsenter": "util-linux",
    "setpriv": "util-linux",
    "pivot_root": "util-linux",
    "mount": "mount",
}
BUILD_TOOLS: dict[str, str] = {"debootstrap": "debootstrap", "apt-ftparchive": "apt-utils"}


class HostsUnavailable(RuntimeError):
    """Test hosts cannot run on this machine; the message says why and what to install or change."""


def cache_dir() -> Path:
    """The harness's cache: the root file system, the package repository and the state of running sets."""
    return Path(os.environ.get("DCP_TESTHOSTS_DIR", str(DEFAULT_CACHE_DIR)))


def mirror() -> str:
    """The Debian mirror the root file system and the repository are downloaded from."""
    return os.environ.get("DCP_TESTHOSTS_MIRROR", DEFAULT_MIRROR).rstrip("/")


def security_mirror() -> str:
    """The Debian security mirror (bookworm-security) used for the same downloads."""
    return os.environ.get("DCP_TESTHOSTS_SECURITY_MIRROR", DEFAULT_SECURITY_MIRROR).rstrip("/")


def repo_packages() -> tuple[str, ...]:
    """REPO_PACKAGES plus DCP_TESTHOSTS_EXTRA_PACKAGES, without duplicates, in order."""
    extra = os.environ.get("DCP_TESTHOSTS_EXTRA_PACKAGES", "").split()
    return tuple(dict.fromkeys((*REPO_PACKAGES, *extra)))


_checked: set[bool] = set()


def check_environment(*, build: bool = False) -> None:
    """Raise HostsUnavailable unless this machine can run test hosts (and, with build=True, build their root)."""
    if build in _checked:
        return
    if os.geteuid() != 0:
        raise HostsUnavailable("test hosts need root (namespaces, mounts, network devices): run as root")
    tools = {**RUN_TOOLS, **(BUILD_TOOLS if build else {})}
    missing = sorted({package for tool, package in tools.items() if shutil.which(tool) is None})
    if missing:
        names = ", ".join(tool for tool, package in tools.items() if package in missing and shutil.which(tool) is None)
        raise HostsUnavailable(f"{names} not found: apt-get install {' '.join(missing)}")
    _check_overlay()
    _checked.add(build)


def _check_overlay() -> None:
    """Mount a throw-away overlay in a private mount namespace, with its upper layer on the cache's file system."""
    base = cache_dir()
    try:
        base.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise HostsUnavailable(f"cannot create the cache directory {base}: {exc}; set DCP_TESTHOSTS_DIR") from None
    with tempfile.TemporaryDirectory(prefix=".overlay-check-", dir=base) as tmp:
        for part in ("lower", "upper", "work", "merged"):
            Path(tmp, part).mkdir()
        options = f"lowerdir={tmp}/lower,upperdir={tmp}/upper,workdir={tmp}/work"
        result = subprocess.run(
            ["unshare", "--mount", "--propagation", "private", "mount", "-t", "overlay", "overlay", "-o", options]
            + [f"{tmp}/merged"],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    if result.returncode != 0:
        raise HostsUnavailable(
            f"overlayfs is not usable with its upper layer in {base} ({result.stderr.strip()}): load the overlay "
            "module (modprobe overlay) or point DCP_TESTHOSTS_DIR at a local ext4/xfs directory"
        )


def build_sources() -> str:
    """The Debian sources used while building: the suite with its updates and security fixes."""
    return (
        f"deb {mirror()} {SUITE} main\n"
        f"deb {mirror()} {SUITE}-updates main\n"
        f"deb {security_mirror()} {SUITE}-security main\n"
    )
