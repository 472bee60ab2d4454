"""A set of test hosts on one network with its gateway services, and the clean-up of sets left behind."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import signal
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from tests.hosts import net
from tests.hosts.config import MAX_HOSTS, NTP_PORT, REPO_PORT, cache_dir, check_environment
from tests.hosts.host import TestHost
from tests.hosts.image import ensure_built, use_image
from tests.hosts.ntp import NtpServer
from tests.hosts.repo import RepoServer
from tests.hosts.util import FileLock

NAME = re.compile(r"[a-z]([a-z0-9-]{0,38}[a-z0-9])?")


def sets_dir() -> Path:
    """Where each set keeps its state and its hosts' upper layers."""
    return cache_dir() / "sets"


def read_state(name: str) -> dict:
    """The state a set wrote when it started ({} if none)."""
    try:
        return json.loads((sets_dir() / name / "state.json").read_text())
    except (OSError, ValueError):
        return {}


class TestHostSet:
    """count hosts named NAME-0 … NAME-(count-1) on 10.231.X.0/24, with the gateway (this machine, 10.231.X.1)
    serving the package repository over HTTP and time over NTP. Use it as a context manager; leaving the block
    removes every namespace, device, mount, process and file the set made. A set left behind by a crashed run of
    the same name is cleaned when a new one starts."""

    __test__ = False  # not a pytest test class, whatever its name

    def __init__(self, count: int = 1, authorized_key: str | None = None, name: str = "dcp", *, kind: str = "api"):
        if not NAME.fullmatch(name):
            raise ValueError(f"set name {name!r}: lower-case letters, digits and inner dashes, at most 40 characters")
        if not 1 <= count <= MAX_HOSTS:
            raise ValueError(f"count must be between 1 and {MAX_HOSTS}")
        self.name = name
        self.count = count
        self.authorized_key = authorized_key.strip() if authorized_key else None
        self.kind = kind  # "cli" sets may be stopped by `python -m tests.hosts down`
        self.hosts: list[TestHost] = []
        self.octet: int | None = None
        self.directory = sets_dir() / name
        self.image: Path | None = None  # the image the set runs on (root file system and repository)
        self._locks: list[FileLock] = []
        self._servers: list[RepoServer | NtpServer] = []

    def __enter__(self) -> TestHostSet:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __getitem__(self, index: int) -> TestHost:
        return self.hosts[index]

    def __len__(self) -> int:
        return len(self.hosts)

    def __iter__(self) -> Iterator[TestHost]:
        return iter(self.hosts)

    @property
    def gateway(self) -> str:
        """The gateway's address: this machine as the hosts see it."""
        return net.gateway_ip(self._octet())

    @property
    def network(self) -> str:
        """The set's network, e.g. "10.231.7.0/24"."""
        return str(net.subnet(self._octet()))

    @property
    def repo_url(self) -> str:
        """The package repository's URL (the hosts' only apt source)."""
        return f"http://{self.gateway}:{REPO_PORT}/"

    @property
    def ntp_server(self) -> str:
        """The NTP server's address (UDP 123)."""
        return self.gateway

    def _octet(self) -> int:
        if self.octet is None:
            raise RuntimeError(f"test host set {self.name} is not started")
        return self.octet

    def start(self, timeout: float = 60) -> None:
        """Build what is missing, clean a stale set of the same name, make the network, start the gateway services
        and boot every host; return once each host's sshd answers."""
        check_environment()
        ensure_built()
        try:
            self._locks.append(FileLock(sets_dir() / f"{self.name}.lock", timeout=0))
        except TimeoutError:
            owner = read_state(self.name).get("pid", "?")
            raise RuntimeError(
                f"test host set {self.name!r} is in use by process {owner}: pick another name, or stop it "
                f"(python -m tests.hosts down --name {self.name})"
            ) from None
        try:
            # Held while the set runs: the image (the hosts' lower layer, the repository) is never deleted under it.
            self.image, in_use = use_image()
            self._locks.append(in_use)
            remove_set(self.name)
            with FileLock(cache_dir() / "net.lock", timeout=60):
                self.octet = net.allocate_octet(self.name)
                net.create_switch(self.name, self.octet)
            self.directory.mkdir(parents=True)
            self._write_state()
            self._start_servers()
            files = self._seed_files()
            for index in range(self.count):
                net.create_host_network(self.name, self.octet, index)
                host_dir = self.directory / "hosts" / str(index)
                self.hosts.append(TestHost(self.name, index, self.octet, host_dir, self.image / "root", files))
            for host in self.hosts:
                host.launch()
            for host in self.hosts:
                host.wait_ready(timeout)
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Stop every host and remove everything the set made; safe to call more than once."""
        errors = []
        # Pull every plug at once: the set's files are discarded anyway, and a graceful stop would take longer.
        for host in self.hosts:
            host.kill()
        for host in self.hosts:
            try:
                host.stop(timeout=0)
            except Exception as exc:  # keep tearing down; report at the end
                errors.append(f"{host.name}: {exc}")
        for server in self._servers:
            server.stop()
        self._servers.clear()
        if self._locks:
            try:
                remove_set(self.name)
            except Exception as exc:  # keep tearing down; report at the end
                errors.append(str(exc))
        for lock in reversed(self._locks):
            lock.release()
        self._locks.clear()
        self.hosts.clear()
        if errors:
            raise RuntimeError(f"tearing down test host set {self.name}: " + "; ".join(errors))

    def _start_servers(self) -> None:
        """The repository over HTTP and NTP, both on the gateway address only."""
        self._servers.append(RepoServer(self.gateway, REPO_PORT, self.image / "repo"))
        self._servers.append(NtpServer(self.gateway, NTP_PORT))
        for server in self._servers:
            server.start()

    def _seed_files(self) -> list[dict]:
        """What each host's init writes: the caller's key at every start, names and the apt source at the first
        (each host adds its /etc/hostname)."""
        hosts = "".join(f"{net.host_ip(self._octet(), i)}\t{self.name}-{i}\n" for i in range(self.count))
        files = [
            {
                "path": "/etc/hosts",
                "content": f"127.0.0.1\tlocalhost\n{self.gateway}\tgateway\n{hosts}",
                "mode": "644",
                "always": False,
            },
            {
                "path": "/etc/apt/sources.list",
                "content": f"deb [trusted=yes] {self.repo_url} ./\n",
                "mode": "644",
                "always": False,
            },
        ]
        if self.authorized_key:
            files.append(
                {
                    "path": "/root/.ssh/authorized_keys",
                    "content": self.authorized_key + "\n",
                    "mode": "600",
                    "always": True,
                }
            )
        return files

    def _write_state(self) -> None:
        """Say who runs the set and where, for status and down."""
        state = {
            "name": self.name,
            "pid": os.getpid(),
            "kind": self.kind,
            "count": self.count,
            "octet": self.octet,
            "gateway": self.gateway,
            "image": str(self.image),
            "hosts": [[f"{self.name}-{i}", net.host_ip(self._octet(), i)] for i in range(self.count)],
            "started": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        (self.directory / "state.json").write_text(json.dumps(state, indent=2) + "\n")


def remove_set(name: str) -> None:
    """Kill a set's processes and remove its namespaces, devices and files (the caller holds the set's lock, or the
    set's owner is gone). The hosts' mounts live in their own mount namespaces and vanish with their processes."""
    netns = net.set_netns(name)
    # Kill the hosts' processes first, and the unshare processes (their parents) only then: each unshare reaps its
    # host's PID 1 and exits by itself, rather than leaving it to this machine's init to reap.
    pids = net.processes_in_netns(netns)
    parents = [pid for pid in pids if _comm(pid) == "unshare"]
    for batch in ([pid for pid in pids if pid not in parents], parents):
        for pid in batch:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 15
        while any(_alive(pid) for pid in batch):
            if time.monotonic() > deadline:
                raise RuntimeError(f"processes of test host set {name} did not die: {[p for p in batch if _alive(p)]}")
            time.sleep(0.02)
    net.remove_set_network(name)
    shutil.rmtree(sets_dir() / name, ignore_errors=True)


def _comm(pid: int) -> str:
    """A process's command name ("" if it is gone)."""
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    """Whether a process exists and is not a zombie (a zombie holds no namespace any more)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def stop_set(name: str, *, force: bool = False, timeout: float = 60) -> str:
    """Remove a set, running or left behind. A set run by `python -m tests.hosts up` is asked to stop (SIGTERM) and
    tears itself down; one held by another process is refused unless force. Returns what was done."""
    state = read_state(name)
    try:
        lock = FileLock(sets_dir() / f"{name}.lock", timeout=0)
    except TimeoutError:
        pid = state.get("pid")
        if state.get("kind") == "cli" and pid:
            os.kill(pid, signal.SIGTERM)
            lock = FileLock(sets_dir() / f"{name}.lock", timeout=timeout)
            lock.release()
            return f"{name}: stopped by its owner (process {pid})"
        if not force:
            raise RuntimeError(
                f"test host set {name!r} is in use by process {pid}: stop it there, or use --force"
            ) from None
        remove_set(name)
        return f"{name}: removed while process {pid} held it (--force)"
    with lock:
        if not net.set_netns(name) and not net.set_devices(name) and not (sets_dir() / name).exists():
            return f"{name}: nothing to remove"
        remove_set(name)
    return f"{name}: removed"


def list_sets() -> list[dict]:
    """Every set known here (from its state, or from devices a crash left behind), with whether it is running."""
    names = set(net.set_names_on_machine())
    if sets_dir().is_dir():
        names.update(path.name for path in sets_dir().iterdir() if path.is_dir())
    found = []
    for name in sorted(names):
        state = read_state(name)
        try:
            with FileLock(sets_dir() / f"{name}.lock", timeout=0):
                owned = False
        except TimeoutError:
            owned = True
        netns = net.set_netns(name)
        up = sum(1 for ns in netns if not ns.endswith("-sw") and net.processes_in_netns([ns]))
        found.append({**state, "name": name, "running": owned, "hosts_up": up, "stale": not owned})
    return found
