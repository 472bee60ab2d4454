"""Build the Debian root file system every test host overlays: debootstrap, upgrade, then make it a test-host base."""

from __future__ import annotations

import hashlib
import json
import time
from datetime import UTC, datetime
from pathlib import Path

from tests.hosts.config import (
    BASE_PACKAGES,
    HOST_ENV,
    NOT_IN_BASE,
    SUITE,
    build_sources,
    cache_dir,
    mirror,
    security_mirror,
)
from tests.hosts.util import Log, quiet, run_private

# Bump when the way the root is made changes, so that existing caches are rebuilt.
ROOT_RECIPE = 3

# sshd on a host: root logs in with the caller's key only, and the host has its own ed25519 and ECDSA host keys.
# AcceptEnv goes from the main file (below) so a client's LANG naming a locale the host lacks cannot break Python.
SSHD_CONFIG = """\
# DCP test host: root logs in with the key the harness writes to /root/.ssh/authorized_keys.
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
# Each host makes these two at its first start (an RSA key would take most of a host's start-up time).
HostKey /etc/ssh/ssh_host_ed25519_key
HostKey /etc/ssh/ssh_host_ecdsa_key
"""

# invoke-rc.d asks runlevel which runlevel applies; without one (there is no sysvinit on a test host) it refuses
# to start a package's service from its postinst. A test host is always up, as in multi-user runlevel 2.
RUNLEVEL = """\
#!/bin/sh
# DCP test host: the harness's init starts the host straight into multi-user mode (runlevel 2).
echo "N 2"
"""

# invoke-rc.d also wants an init system (/sbin/init) before it lets a postinst start a service. This is the host's
# init: boot.sh execs it as PID 1, and it runs the harness's init, which boot.sh copied to /run for this start.
INIT = """\
#!/bin/sh
# DCP test host: PID 1 is the test-host harness's init (it starts sshd and reaps orphans).
exec /usr/bin/python3 -I /run/dcp-testhost/init.py "$@"
"""

# Packages that take /sbin/init over would replace the harness's init at the next start. A real Debian host has
# systemd-sysv already; here apt must not pull it in (docker.io's recommended needrestart would, via libpam-systemd).
APT_PREFERENCES = """\
# DCP test host: PID 1 is the test-host harness's init (/sbin/init); packages that replace it cannot be installed.
Package: systemd-sysv sysvinit-core runit-init openrc
Pin: version *
Pin-Priority: -1
"""

RESOLV_CONF = """\
# DCP test host: there is no DNS; the names of the host's set are in /etc/hosts.
options timeout:1 attempts:1
"""

SOURCES_LIST = """\
# DCP test host: each host's first boot writes its set's local repository here (and nothing else).
"""

POLICY_RC_D = "#!/bin/sh\n# Only while the harness builds: no service starts in the build chroot.\nexit 101\n"

DEBOOTSTRAP = 'debootstrap --variant=minbase --components=main --include="$1" --cache-dir="$2" "$3" "$4" "$5"'

UPGRADE = """
mount -t proc proc "$1/proc"
chroot "$1" apt-get update -q
chroot "$1" apt-get dist-upgrade -y -q -o Dpkg::Options::=--force-confold
chroot "$1" apt-get clean
"""


def root_fingerprint() -> str:
    """What the root is made from: a root with another fingerprint is rebuilt."""
    recipe = [
        ROOT_RECIPE,
        SUITE,
        mirror(),
        security_mirror(),
        BASE_PACKAGES,
        SSHD_CONFIG,
        RUNLEVEL,
        INIT,
        APT_PREFERENCES,
        RESOLV_CONF,
    ]
    return hashlib.sha256(json.dumps(recipe).encode()).hexdigest()[:16]


def build_root(target: Path, log: Log = quiet) -> dict:
    """debootstrap a root into target (a new directory), configure it for test hosts, check it; return its stamp."""
    started = time.monotonic()
    debs = cache_dir() / "debootstrap-cache"
    debs.mkdir(parents=True, exist_ok=True)
    log(f"debootstrap {SUITE} into {target}")
    env = {**HOST_ENV, "DEBIAN_FRONTEND": "noninteractive"}
    packages = ",".join(BASE_PACKAGES)
    run_private(DEBOOTSTRAP, [packages, str(debs), SUITE, str(target), mirror()], timeout=1800, log=log, env=env)
    _prepare_for_upgrade(target)
    log("apt-get dist-upgrade in the new root (bookworm-updates, bookworm-security)")
    run_private(UPGRADE, [str(target)], timeout=1800, log=log, env=env)
    _finish(target)
    _verify(target)
    return {
        "fingerprint": root_fingerprint(),
        "built": datetime.now(UTC).isoformat(timespec="seconds"),
        "seconds": round(time.monotonic() - started, 1),
    }


def _prepare_for_upgrade(root: Path) -> None:
    """Give the new root this machine's DNS and the Debian sources, and keep services from starting."""
    (root / "etc/apt/sources.list").write_text(build_sources())
    (root / "etc/resolv.conf").unlink(missing_ok=True)
    (root / "etc/resolv.conf").write_text(Path("/etc/resolv.conf").read_text())
    _write(root / "usr/sbin/policy-rc.d", POLICY_RC_D, 0o755)


def _finish(root: Path) -> None:
    """Turn the built root into the base of test hosts: no DNS, no sources, no host keys, no policy-rc.d."""
    (root / "usr/sbin/policy-rc.d").unlink()
    _write(root / "etc/resolv.conf", RESOLV_CONF)
    _write(root / "etc/apt/sources.list", SOURCES_LIST)
    for path in (root / "etc/apt/sources.list.d").iterdir():
        path.unlink()
    lists = root / "var/lib/apt/lists"
    for path in lists.iterdir():
        if path.is_file() and path.name != "lock":
            path.unlink()
    for path in (root / "var/cache/apt").glob("*.bin"):
        path.unlink()
    # Each host makes its own host keys at its first start, so no two hosts share one.
    for path in (root / "etc/ssh").glob("ssh_host_*"):
        path.unlink()
    (root / "etc/hostname").unlink(missing_ok=True)
    _write(root / "etc/ssh/sshd_config.d/dcp-testhost.conf", SSHD_CONFIG)
    sshd_config = root / "etc/ssh/sshd_config"
    lines = sshd_config.read_text().splitlines(keepends=True)
    sshd_config.write_text("".join(line for line in lines if not line.startswith("AcceptEnv")))
    _write(root / "etc/default/locale", "LANG=C.UTF-8\n")
    _write(root / "usr/sbin/runlevel", RUNLEVEL, 0o755)
    _write(root / "usr/sbin/init", INIT, 0o755)
    _write(root / "etc/apt/preferences.d/dcp-testhost-init", APT_PREFERENCES)


def _verify(root: Path) -> None:
    """Fail the build if the root would not be a fair base for the roles under test."""
    installed = installed_packages(root)
    present = sorted(set(NOT_IN_BASE) & installed)
    if present:
        raise RuntimeError(f"the root file system contains {', '.join(present)}: the roles must install them")
    missing = sorted(set(BASE_PACKAGES) - installed)
    if missing:
        raise RuntimeError(f"the root file system lacks {', '.join(missing)}")
    if not (root / "usr/sbin/init").exists() or (root / "usr/sbin/policy-rc.d").exists():
        raise RuntimeError("the root file system lacks usr/sbin/init or still has usr/sbin/policy-rc.d")


def installed_packages(root: Path) -> set[str]:
    """Names of the packages dpkg has installed in a root file system (from its status file)."""
    found: set[str] = set()
    for stanza in (root / "var/lib/dpkg/status").read_text().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in stanza.splitlines() if ": " in line and not line.startswith(" "))
        if fields.get("Status") == "install ok installed":
            found.add(fields["Package"])
    return found


def _write(path: Path, text: str, mode: int = 0o644) -> None:
    """Write a file of the root, replacing whatever was there, with the given mode."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    path.write_text(text)
    path.chmod(mode)
