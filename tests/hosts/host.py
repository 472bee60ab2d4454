"""One test host: start and stop it, run commands in it, read its files."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from tests.hosts import net
from tests.hosts.config import DROPPED_CAPABILITIES, HOST_ENV

PACKAGE_DIR = Path(__file__).resolve().parent
SSH_PORT = 22


def bounded(command: list[str]) -> list[str]:
    """command, run with DROPPED_CAPABILITIES removed from its capability bounding set: nothing it starts, however
    privileged, can get them back."""
    drop = ",".join(f"-{cap}" for cap in DROPPED_CAPABILITIES)
    return ["setpriv", "--bounding-set", drop, "--inh-caps", drop, *command]


class TestHost:
    """A Linux host of a TestHostSet: its own network, mount, UTS, IPC and PID namespaces, a copy-on-write copy of
    the shared root file system, and sshd on port 22 of its address."""

    __test__ = False  # not a pytest test class, whatever its name

    def __init__(self, set_name: str, index: int, octet: int, directory: Path, lower: Path, files: list[dict]):
        self.name = f"{set_name}-{index}"
        self.index = index
        self.ip = net.host_ip(octet, index)
        self.port = SSH_PORT
        self.netns = net.host_netns(set_name, index)
        self.directory = directory
        self.lower = lower
        self.files = files
        self.process: subprocess.Popen | None = None
        self.pid: int | None = None  # the host's PID 1, as this machine sees it

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<TestHost {self.name} {self.ip} {state}>"

    @property
    def hostname(self) -> str:
        """The host's hostname (in its own UTS namespace): its name."""
        return self.name

    @property
    def running(self) -> bool:
        """Whether the host's PID 1 is alive."""
        return self.process is not None and self.process.poll() is None and self.pid is not None

    def launch(self) -> None:
        """Start the host's boot without waiting for it (see wait_ready); the network must exist."""
        if self.running:
            return
        for part in ("upper", "work", "root", "seed"):
            (self.directory / part).mkdir(parents=True, exist_ok=True)
        seed = self.directory / "seed"
        shutil.copyfile(PACKAGE_DIR / "hostinit.py", seed / "init.py")
        files = [{"path": "/etc/hostname", "content": f"{self.name}\n", "mode": "644", "always": False}, *self.files]
        (seed / "seed.json").write_text(json.dumps({"hostname": self.name, "env": HOST_ENV, "files": files}))
        layers = [str(self.lower), *(str(self.directory / part) for part in ("upper", "work", "root", "seed"))]
        namespaces = ["unshare", "--mount", "--uts", "--ipc", "--pid", "--fork", "--kill-child"]
        command = bounded(
            ["nsenter", f"--net={net.NETNS_DIR / self.netns}", "--", *namespaces, "--propagation", "private", "--"]
            + ["sh", str(PACKAGE_DIR / "boot.sh"), *layers]
        )
        with open(self.directory / "console.log", "ab") as console:
            # A session of its own: Ctrl-C at the terminal reaches the harness, which then stops the host.
            self.process = subprocess.Popen(
                command, stdin=subprocess.DEVNULL, stdout=console, stderr=console, env=HOST_ENV, start_new_session=True
            )
        self.pid = None

    def wait_ready(self, timeout: float = 60) -> None:
        """Wait until sshd on the host greets on port 22; fail with the host's console output if it does not."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                raise RuntimeError(f"test host {self.name} did not boot:\n{self.console_tail()}")
            if self.pid is None:
                self.pid = _child_of(self.process.pid)
            if self.pid is not None and _ssh_banner(self.ip, self.port):
                return
            time.sleep(0.05)
        raise RuntimeError(
            f"test host {self.name} was not reachable on {self.ip}:22 in {timeout}s:\n{self.console_tail()}"
        )

    def start(self, timeout: float = 60) -> None:
        """Start the host again after stop() (its files are as it left them, as after a reboot) and wait for sshd."""
        self.launch()
        self.wait_ready(timeout)

    def stop(self, timeout: float = 5) -> None:
        """Take the host down: its processes get SIGTERM, and SIGKILL after timeout seconds (0: at once). Its address
        stays on the network, so a connection to it is refused at once; its files are kept for start()."""
        if self.process is None:
            return
        if timeout > 0 and self.process.poll() is None and self.pid is not None:
            try:
                os.kill(self.pid, signal.SIGTERM)
                self.process.wait(timeout=timeout)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                pass
        if self.process.poll() is None:
            self.kill()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)
        self.process = None
        self.pid = None

    def kill(self) -> None:
        """Pull the plug without waiting: SIGKILL to the host's PID 1 ends its PID namespace and every process in
        it; unshare, its parent, then reaps it and exits. (Killing unshare instead would orphan PID 1.)"""
        if self.process is None or self.process.poll() is not None:
            return
        if self.pid is None:
            self.process.kill()  # not booted far enough to have a PID 1; unshare --kill-child takes the child along
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)

    def console_tail(self, lines: int = 40) -> str:
        """The end of what the host's boot and init wrote."""
        try:
            text = (self.directory / "console.log").read_text(errors="replace")
        except OSError:
            return "(no console output)"
        return "\n".join(text.splitlines()[-lines:])

    def run(
        self,
        args: Sequence[str],
        *,
        input: str | None = None,  # noqa: A002 - the name subprocess.run uses
        timeout: float = 300,
        check: bool = False,
        env: dict[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run a command inside the host (in all its namespaces, at its root, as its root user, with a clean
        environment plus env), and return its text output."""
        if not self.running or self.pid is None:
            raise RuntimeError(f"test host {self.name} is not running")
        command = bounded(
            ["nsenter", "--target", str(self.pid), "--mount", "--uts", "--ipc", "--net", "--pid", "--root", "--wd"]
            + ["--", *args]
        )
        return subprocess.run(
            command,
            input=input,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
            check=check,
            env={**HOST_ENV, **(env or {})},
        )

    def read_file(self, path: str) -> str:
        """A file's text, read on the host's own file system (FileNotFoundError if it has no such file)."""
        result = self.run(["cat", "--", path])
        if result.returncode != 0:
            raise FileNotFoundError(f"{self.name}:{path}: {result.stderr.strip()}")
        return result.stdout

    def exists(self, path: str) -> bool:
        """Whether a path exists on the host."""
        return self.run(["test", "-e", path]).returncode == 0

    def host_keys(self) -> list[str]:
        """The host's public SSH host keys, one "type base64 comment" line each (for a known_hosts file)."""
        result = self.run(["sh", "-c", "cat /etc/ssh/ssh_host_*_key.pub"], check=True)
        return [line for line in result.stdout.splitlines() if line.strip()]

    def known_hosts_lines(self) -> list[str]:
        """known_hosts lines for this host: its address, then each public host key."""
        return [f"{self.ip} {' '.join(key.split()[:2])}" for key in self.host_keys()]


def _child_of(pid: int) -> int | None:
    """The child of unshare: the host's PID 1 as this machine sees it (None until it exists)."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return None
    return int(children[0]) if children else None


def _ssh_banner(address: str, port: int) -> bool:
    """Whether an SSH server answers with its banner on address:port."""
    try:
        with socket.create_connection((address, port), timeout=1) as conn:
            conn.settimeout(2)
            return conn.recv(4).startswith(b"SSH-")
    except OSError:
        return False
