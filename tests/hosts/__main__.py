"""Command line of the test-host harness: build the cache, bring a set up until Ctrl-C, remove a set, list sets.

python -m tests.hosts build [--force] [--refresh-repo]
python -m tests.hosts up --count 8 --name demo --pubkey ~/.ssh/id_ed25519.pub
python -m tests.hosts down --name demo [--force]
python -m tests.hosts status
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from pathlib import Path

from tests.hosts.config import HostsUnavailable, cache_dir
from tests.hosts.hostset import TestHostSet, list_sets, stop_set
from tests.hosts.image import current_image, ensure_built, read_stamp


def log(message: str) -> None:
    """Progress on stderr, so stdout carries only results."""
    print(message, file=sys.stderr, flush=True)


def build(args: argparse.Namespace) -> int:
    """Build or refresh the root file system and the package repository."""
    report = ensure_built(force=args.force, refresh_repo=args.refresh_repo, log=log)
    for action in report.actions:
        print(action)
    print(f"done in {report.seconds:.1f}s (cache: {cache_dir()})")
    return 0


def up(args: argparse.Namespace) -> int:
    """Start a set, print `name ip` per host, and keep it up until SIGINT or SIGTERM."""
    key = None
    if args.pubkey:
        path = Path(args.pubkey).expanduser()
        key = path.read_text().strip() if path.exists() else args.pubkey
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    started = time.monotonic()
    with TestHostSet(count=args.count, authorized_key=key, name=args.name, kind="cli") as hosts:
        log(
            f"{len(hosts)} hosts up in {time.monotonic() - started:.1f}s on {hosts.network}: gateway {hosts.gateway}, "
            f"repository {hosts.repo_url}, NTP {hosts.ntp_server}; Ctrl-C to stop"
        )
        for host in hosts:
            print(f"{host.name} {host.ip}", flush=True)
        stop.wait()
        log("stopping")
        stopping = time.monotonic()
    log(f"torn down in {time.monotonic() - stopping:.1f}s")
    return 0


def down(args: argparse.Namespace) -> int:
    """Remove a set: one left behind by a crash, or one an `up` still runs (it is told to stop)."""
    print(stop_set(args.name, force=args.force))
    return 0


def status(args: argparse.Namespace) -> int:
    """List the sets on this machine and the state of the cache."""
    found = list_sets()
    if not found:
        print("no test host sets")
    for item in found:
        state = "running" if item["running"] else "stale (run down to remove it)"
        where = f"gateway {item.get('gateway', '?')}, {item['hosts_up']}/{item.get('count', '?')} hosts up"
        owner = f"process {item.get('pid', '?')}, started {item.get('started')}"
        print(f"{item['name']}: {state}; {where}; {owner}; image {Path(item.get('image', '?')).name}")
    image = current_image()
    if image is None:
        print(f"image: not built (python -m tests.hosts build; cache {cache_dir()})")
        return 0
    root, packages = read_stamp(image / "root.json"), read_stamp(image / "repo.json")
    print(f"image: {image} (root built {root.get('built')} in {root.get('seconds')}s)")
    print(f"repository: {packages.get('debs')} packages for {' '.join(packages.get('packages', []))}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Parse the command line and run the command."""
    parser = argparse.ArgumentParser(prog="python -m tests.hosts", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    command = commands.add_parser("build", help="build or refresh the root file system and package repository")
    command.add_argument("--force", action="store_true", help="rebuild both from scratch")
    command.add_argument("--refresh-repo", action="store_true", help="download the repository again")
    command.set_defaults(run=build)
    command = commands.add_parser("up", help="start a set of hosts and keep it up until Ctrl-C or SIGTERM")
    command.add_argument("--count", type=int, default=1)
    command.add_argument("--name", default="demo")
    command.add_argument("--pubkey", help="public key file (or key text) root on the hosts accepts")
    command.set_defaults(run=up)
    command = commands.add_parser("down", help="remove a set (stopping it if `up` runs it)")
    command.add_argument("--name", required=True)
    command.add_argument("--force", action="store_true", help="remove it even if another process holds it")
    command.set_defaults(run=down)
    command = commands.add_parser("status", help="list sets and the cache")
    command.set_defaults(run=status)
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except HostsUnavailable as exc:
        print(f"test hosts unavailable: {exc}", file=sys.stderr)
        return 2
    except (RuntimeError, ValueError, TimeoutError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
