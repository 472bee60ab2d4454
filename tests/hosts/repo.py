"""The local package repository: built once from the Debian mirror, then served over HTTP to a set's hosts."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.hosts.config import HOST_ENV, build_sources, repo_packages
from tests.hosts.util import Log, quiet, run_private

# Download in a throw-away overlay of the root, so the root itself (which running hosts overlay) never changes.
# Every package is resolved together and then alone: a role installing one of them alone gets the same
# dependencies (and recommended packages) a real host would, whichever alternatives apt picks then.
DOWNLOAD = """
root=$1 upper=$2 work=$3 merged=$4 archives=$5 sources=$6
shift 6
mount -t overlay overlay -o "lowerdir=$root,upperdir=$upper,workdir=$work" "$merged"
mount -t proc proc "$merged/proc"
mount --bind "$archives" "$merged/mnt"
printf '%s' "$sources" > "$merged/etc/apt/sources.list"
cat /etc/resolv.conf > "$merged/etc/resolv.conf"
printf '#!/bin/sh\\nexit 101\\n' > "$merged/usr/sbin/policy-rc.d"
chmod 755 "$merged/usr/sbin/policy-rc.d"
chroot "$merged" apt-get update -q
chroot "$merged" apt-get install --download-only -y -q -o Dir::Cache::archives=/mnt "$@"
for package in "$@"; do
    chroot "$merged" apt-get install --download-only -y -q -o Dir::Cache::archives=/mnt "$package"
done
"""


def build_repo(root: Path, target: Path, log: Log = quiet) -> dict:
    """Download repo_packages() and the dependencies root lacks into a flat repository at target (replacing what
    is there only once the new one is complete), and index it. Returns a stamp: how many packages, how long."""
    started = time.monotonic()
    new, old, work = (
        target.with_name(target.name + ".new"),
        target.with_name(target.name + ".old"),
        target.parent / "build",
    )
    for stale in (new, old, work):
        if stale.exists():
            shutil.rmtree(stale)
    (new / "partial").mkdir(parents=True)
    for part in ("upper", "work", "merged"):
        (work / part).mkdir(parents=True)
    packages = repo_packages()
    log(f"downloading {' '.join(packages)} and their dependencies")
    args = [str(root), str(work / "upper"), str(work / "work"), str(work / "merged"), str(new), build_sources()]
    env = {**HOST_ENV, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        run_private(DOWNLOAD, [*args, *packages], timeout=1800, log=log, env=env)
    except BaseException:
        shutil.rmtree(new)
        raise
    finally:
        shutil.rmtree(work)
    shutil.rmtree(new / "partial")
    (new / "lock").unlink(missing_ok=True)
    index(new)
    # Sets serving the old repository look its files up by path at each request: they serve the new one next.
    if target.exists():
        target.rename(old)
    new.rename(target)
    if old.exists():
        shutil.rmtree(old)
    return {
        "packages": sorted(packages),
        "debs": len(list(target.glob("*.deb"))),
        "seconds": round(time.monotonic() - started, 1),
    }


def index(directory: Path) -> None:
    """Write Packages and an (unsigned) Release for a flat repository: hosts trust it by [trusted=yes]."""
    packages = subprocess.run(
        ["apt-ftparchive", "packages", "."], cwd=directory, capture_output=True, check=True, timeout=300
    ).stdout
    (directory / "Packages").write_bytes(packages)
    fields = {
        "Origin": "dcp-testhosts",
        "Label": "dcp-testhosts",
        "Suite": "dcp-testhosts",
        "Codename": "dcp-testhosts",
    }
    options = [f"-oAPT::FTPArchive::Release::{name}={value}" for name, value in fields.items()]
    release = subprocess.run(
        ["apt-ftparchive", *options, "release", "."], cwd=directory, capture_output=True, check=True, timeout=300
    ).stdout
    (directory / "Release").write_bytes(release)


class _QuietHandler(SimpleHTTPRequestHandler):
    """Serve files without logging every request to stderr (apt fetches many)."""

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's signature
        """Drop the access log line."""


class RepoServer:
    """The repository over HTTP on the gateway of one set, in a thread of the harness's process."""

    def __init__(self, address: str, port: int, directory: Path):
        handler = partial(_QuietHandler, directory=str(directory))
        try:
            self.server = ThreadingHTTPServer((address, port), handler)
        except OSError as exc:
            raise RuntimeError(f"cannot serve the package repository on {address}:{port}: {exc}") from None
        self.server.daemon_threads = True
        self.url = f"http://{address}:{port}/"
        # A short poll interval: shutdown() waits for the next poll, and teardown should be quick.
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"repo {address}", daemon=True
        )

    def start(self) -> None:
        """Start answering."""
        self.thread.start()

    def stop(self) -> None:
        """Stop answering and close the socket."""
        if self.thread.is_alive():
            self.server.shutdown()
        self.server.server_close()
