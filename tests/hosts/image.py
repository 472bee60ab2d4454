"""The cache of built images and ensure_built().

An image is one build of the root file system with the package repository made for it:

    $DCP_TESTHOSTS_DIR/images/<built>-<fingerprint>/root/       every host's read-only lower layer
    $DCP_TESTHOSTS_DIR/images/<built>-<fingerprint>/repo/       the flat apt repository the hosts install from
    $DCP_TESTHOSTS_DIR/images/<built>-<fingerprint>/*.json      stamps: what was built, when, how long it took
    $DCP_TESTHOSTS_DIR/current -> images/<...>                  the image new sets use

A running set holds a shared lock on its image: a rebuild makes a new image and points `current` at it, and an
old image is deleted only once no set uses it, so rebuilding never disturbs hosts that are up.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from tests.hosts import repo
from tests.hosts.build import build_root, root_fingerprint
from tests.hosts.config import cache_dir, check_environment, repo_packages
from tests.hosts.util import FileLock, Log, quiet


@dataclass
class BuildReport:
    """What ensure_built() did: one line per step, and how long it all took."""

    actions: list[str] = field(default_factory=list)
    seconds: float = 0.0
    root_built: bool = False
    repo_built: bool = False
    image: Path | None = None


def images_dir() -> Path:
    """Where images are kept."""
    return cache_dir() / "images"


def current_image() -> Path | None:
    """The image new sets use (its real path), or None before the first build."""
    link = cache_dir() / "current"
    target = link.resolve() if link.is_symlink() else None
    return target if target is not None and (target / "root").is_dir() else None


def read_stamp(path: Path) -> dict:
    """A stamp written after a successful build step; {} when there is none or it is unreadable."""
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def write_stamp(path: Path, stamp: dict) -> None:
    """Write a stamp atomically: a crash leaves the old one or the new one, never half of one."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(stamp, indent=2) + "\n")
    tmp.replace(path)


def ensure_built(*, force: bool = False, refresh_repo: bool = False, log: Log = quiet) -> BuildReport:
    """Build the root file system and the package repository if they are missing or stale; idempotent, and fast
    (milliseconds) when both are up to date. Safe to call from several processes at once: one builds, the others
    wait for it. force builds a new image from scratch; refresh_repo downloads the current image's repository again.
    """
    check_environment()
    started = time.monotonic()
    report = BuildReport()
    cache_dir().mkdir(parents=True, exist_ok=True)
    with FileLock(cache_dir() / "build.lock"):
        image = current_image()
        root_stamp = read_stamp(image / "root.json") if image else {}
        fresh = force or image is None or root_stamp.get("fingerprint") != root_fingerprint()
        if fresh:
            check_environment(build=True)
            name = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{root_fingerprint()[:8]}"
            image = images_dir() / name
            if image.exists():
                shutil.rmtree(image)
            image.mkdir(parents=True)
            root_stamp = build_root(image / "root", log)
            write_stamp(image / "root.json", root_stamp)
            report.root_built = True
            report.actions.append(f"root file system: built in {root_stamp['seconds']:.1f}s ({image / 'root'})")
        else:
            report.actions.append(f"root file system: up to date (built {root_stamp['built']}, {image / 'root'})")
        assert image is not None
        repo_stamp = read_stamp(image / "repo.json")
        if fresh or refresh_repo or repo_stamp.get("packages") != sorted(repo_packages()):
            check_environment(build=True)
            repo_stamp = repo.build_repo(image / "root", image / "repo", log)
            write_stamp(image / "repo.json", repo_stamp)
            report.repo_built = True
            report.actions.append(
                f"package repository: {repo_stamp['debs']} packages downloaded in {repo_stamp['seconds']:.1f}s"
            )
        else:
            report.actions.append(f"package repository: up to date ({repo_stamp['debs']} packages)")
        if fresh:
            _point_current_at(image)
        for old in collect_garbage():
            report.actions.append(f"removed unused image {old}")
    report.image = image
    report.seconds = time.monotonic() - started
    return report


def use_image() -> tuple[Path, FileLock]:
    """The current image, with a shared lock that keeps it from being deleted until the caller releases it."""
    with FileLock(cache_dir() / "build.lock"):
        image = current_image()
        if image is None:
            raise RuntimeError("no test-host image is built: call ensure_built() (python -m tests.hosts build)")
        return image, FileLock(image / "in-use.lock", shared=True)


def collect_garbage() -> list[str]:
    """Delete the images that are not current and that no set uses (call with build.lock held)."""
    current = current_image()
    removed = []
    if not images_dir().is_dir():
        return removed
    for image in sorted(images_dir().iterdir()):
        if image == current or not image.is_dir():
            continue
        try:
            lock = FileLock(image / "in-use.lock", timeout=0)
        except TimeoutError:
            continue  # a running set still overlays this root
        with lock:
            shutil.rmtree(image)
        removed.append(image.name)
    return removed


def _point_current_at(image: Path) -> None:
    """Switch `current` to image in one rename, so that a reader sees the old image or the new one."""
    link = cache_dir() / "current"
    tmp = cache_dir() / "current.tmp"
    tmp.unlink(missing_ok=True)
    os.symlink(image.relative_to(cache_dir()), tmp)
    tmp.replace(link)
