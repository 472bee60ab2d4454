"""Child processes started together and stopped together within seconds, for ``manage.py serve``.

Each child runs in its own process group, so stopping it reaches what it started itself (a Celery
worker's pool processes and beat). On Linux each child also gets SIGTERM if serve dies without
stopping it (its parent-death signal), and serve adopts orphaned grandchildren (a child subreaper), so
it can reap them: nothing keeps running or lingers as a zombie after serve has stopped.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass

LINUX = sys.platform.startswith("linux")
# prctl(2) options.
PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36


def _prctl(option: int, value: int) -> None:
    ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)


def _die_with_parent() -> None:
    """In a new child, between fork and exec: receive SIGTERM when the parent dies."""
    _prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def adopt_orphans() -> None:
    """Make this process the reaper of its orphaned descendants (Linux; elsewhere nothing)."""
    if LINUX:
        _prctl(PR_SET_CHILD_SUBREAPER, 1)


def listening(host: str, port: int) -> bool:
    """Whether something accepts connections on host:port."""
    try:
        socket.create_connection((host, port), timeout=1).close()
    except OSError:
        return False
    return True


@contextlib.contextmanager
def reserved(host: str, port: int):
    """Listen on host:port for the duration (as a server will: SO_REUSEADDR); OSError if it is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((host, port))
        probe.listen(1)
        yield


def taken_port(addresses: list[tuple[str, int, str]]) -> tuple[str, int, str] | None:
    """The first (host, port, user) whose port another process holds, or that an earlier entry needs too."""
    with contextlib.ExitStack() as stack:
        for address in addresses:
            try:
                stack.enter_context(reserved(address[0], address[1]))
            except OSError:
                return address
    return None


@dataclass
class Child:
    """One child process and what it is, for messages."""

    name: str
    process: subprocess.Popen


class Children:
    """The child processes of one serve run."""

    def __init__(self) -> None:
        """No children yet."""
        self.children: list[Child] = []

    def start(self, name: str, argv: list[str], **popen_kwargs) -> subprocess.Popen:
        """Start argv in its own process group, to die with this process."""
        process = subprocess.Popen(
            argv, process_group=0, preexec_fn=_die_with_parent if LINUX else None, **popen_kwargs
        )
        self.children.append(Child(name, process))
        return process

    def exited(self) -> Child | None:
        """A child that has stopped by itself, if any."""
        return next((child for child in self.children if child.process.poll() is not None), None)

    def stop(self, grace: float) -> None:
        """SIGTERM every child, SIGKILL the process group of any still running grace seconds later, and
        reap all of them and their orphans."""
        for child in self.children:
            if child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for child in self.children:
            try:
                child.process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                _kill_group(child.process.pid)
                child.process.wait()
            # What the child left in its group (e.g. a pool process of a killed worker) goes too.
            _kill_group(child.process.pid)
        _reap_orphans(until=time.monotonic() + 1)


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


def _reap_orphans(until: float) -> None:
    """Wait for adopted grandchildren (killed above) until none is left or the time is up."""
    while time.monotonic() < until:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            time.sleep(0.05)
