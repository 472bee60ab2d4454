"""Small tools shared by the harness modules: a file lock and running a script in private namespaces."""

from __future__ import annotations

import fcntl
import os
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path

Log = Callable[[str], None]


def quiet(_message: str) -> None:
    """A Log that says nothing."""


def run_private(
    script: str, args: Sequence[str], *, timeout: float, log: Log = quiet, env: dict[str, str] | None = None
) -> None:
    """Run a sh script in new mount and PID namespaces: its mounts vanish and the daemons it may start (a package's
    postinst) die when it ends, whatever happens, so a build never leaves anything behind on this machine. Its output
    goes to log line by line, as it comes (a build takes a minute); on failure the error quotes its last lines."""
    command = ["unshare", "--mount", "--pid", "--fork", "--kill-child", "--propagation", "private", "--"]
    process = subprocess.Popen(
        [*command, "sh", "-euc", script, "sh", *args],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
        env=env,
    )
    watchdog = threading.Timer(timeout, process.kill)
    watchdog.start()
    tail: deque[str] = deque(maxlen=30)
    try:
        assert process.stdout is not None
        for line in process.stdout:
            tail.append(line.rstrip("\n"))
            log(tail[-1])
        returncode = process.wait()
    finally:
        watchdog.cancel()
    if returncode != 0:
        reason = f"killed after {timeout:.0f}s" if returncode == -9 else f"exit {returncode}"
        raise RuntimeError(f"build step failed ({reason}):\n" + "\n".join(tail))


class FileLock:
    """An flock on a file, taken at construction (waiting at most timeout seconds, None: forever, then TimeoutError)
    and given up by release() or at the end of a with block; the kernel drops it if the process dies."""

    def __init__(self, path: Path, *, shared: bool = False, timeout: float | None = None):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(self.fd, mode | (0 if deadline is None else fcntl.LOCK_NB))
                return
            except BlockingIOError:
                if time.monotonic() >= deadline:  # type: ignore[operator]
                    os.close(self.fd)
                    raise TimeoutError(f"{path} is locked by another process") from None
                time.sleep(0.1)

    def release(self) -> None:
        """Give the lock up (closing the descriptor releases the flock)."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> FileLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
