"""PID 1 of a DCP test host, run by the host's own python3 (boot.sh copies it to /run/dcp-testhost/init.py).

It names the host, writes the files the harness seeds (authorized_keys at every start; hostname, /etc/hosts and the
apt source at the first), makes the host's own SSH host keys at first start, starts sshd the way its init script
would, and then reaps orphans until it is told to stop. It imports nothing from the repository: it runs on the
host, against the host's file system.
"""

from __future__ import annotations

import ctypes
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

SEED = Path("/run/dcp-testhost/seed.json")
FIRST_BOOT_DONE = Path("/var/lib/dcp-testhost/first-boot-done")
PR_SET_NAME = 15
HOST_KEY_TYPES = ("ed25519", "ecdsa")  # what the root's sshd_config.d/dcp-testhost.conf names as HostKey


class Stop(Exception):
    """SIGTERM or SIGINT arrived: stop the host."""


def _stop(signum: int, frame: object) -> None:
    """Signal handler: leave the reaping loop."""
    raise Stop


def name_process() -> None:
    """Call this process "init" (/proc/1/comm), so that tools such as Ansible's service facts see a SysV-style init
    and manage services through /etc/init.d."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_NAME, b"init", 0, 0, 0)


def write(path: Path, content: str, mode: int) -> None:
    """Write a seeded file; missing parent directories are made private to root (as /root/.ssh must be)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.write_text(content)
    path.chmod(mode)


def seed(config: dict) -> None:
    """Write the files the harness asked for: always ones at every start, the others at the first start only."""
    first = not FIRST_BOOT_DONE.exists()
    for item in config["files"]:
        if item["always"] or first:
            write(Path(item["path"]), item["content"], int(item["mode"], 8))
    if first:
        FIRST_BOOT_DONE.parent.mkdir(parents=True, exist_ok=True)
        FIRST_BOOT_DONE.write_text(time.strftime("%Y-%m-%dT%H:%M:%S\n"))


def start_sshd() -> None:
    """Make this host's own host keys if it has none yet, then start sshd as its init script does (it daemonises
    and writes /run/sshd.pid, so `service ssh restart` manages it like any other service). Only ed25519 and ECDSA
    keys, which take milliseconds: an RSA key takes up to a second of CPU, which dominated starting many hosts."""
    for kind in HOST_KEY_TYPES:
        key = Path(f"/etc/ssh/ssh_host_{kind}_key")
        if not key.exists():
            subprocess.run(["ssh-keygen", "-q", "-t", kind, "-N", "", "-f", str(key)], check=True, timeout=60)
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    subprocess.run(["/usr/sbin/sshd", "-E", "/var/log/sshd.log"], check=True, timeout=60)


def reap_forever() -> None:
    """Wait for children (orphans of the host are re-parented to PID 1) until a stop signal arrives."""
    while True:
        try:
            os.wait()
        except ChildProcessError:
            time.sleep(1)


def shut_down() -> None:
    """Ask every process of the host to end, give them a moment, then kill the rest; exiting PID 1 ends the host."""
    for sig, grace in ((signal.SIGTERM, 3.0), (signal.SIGKILL, 2.0)):
        try:
            os.kill(-1, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            try:
                pid, _ = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                time.sleep(0.05)


def main() -> int:
    """Boot the host and stay its PID 1."""
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    name_process()
    config = json.loads(SEED.read_text())
    socket.sethostname(config["hostname"])
    os.environ.clear()
    os.environ.update(config["env"])
    os.chdir("/")
    try:
        seed(config)
        start_sshd()
        print(f"{config['hostname']}: up", flush=True)
        reap_forever()
    except Stop:
        print(f"{config['hostname']}: stopping", flush=True)
        shut_down()
    return 0


if __name__ == "__main__":
    sys.exit(main())
