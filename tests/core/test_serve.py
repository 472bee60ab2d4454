"""`manage.py serve` as a real process on the embedded default (SQLite, filesystem broker) and free ports.

It must refuse to start when a port it needs is taken, naming the port; say it is ready only once the
worker consumes its queues; and stop, with its worker, beat and emulated clouds, within 5 s of SIGTERM
or SIGINT, leaving every port free and no process behind (nor a zombie).
"""

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import ROOT, wait_for

#: Settings that would take serve off the embedded default.
NOT_EMBEDDED = ("DATABASE_URL", "CELERY_BROKER_URL", "DCP_REDIS_URL", "DCP_ENV", "DCP_DATA_DIR", "DCP_EMULATOR_PORT")


def port_free(port: int) -> bool:
    """Whether a server could listen on 127.0.0.1:port now."""
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
            probe.listen(1)
        except OSError:
            return False
    return True


def free_ports(count: int) -> int:
    """The first of count consecutive free loopback ports."""
    for _ in range(100):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = probe.getsockname()[1]
        if base + count < 65536 and all(port_free(base + i) for i in range(count)):
            return base
    pytest.fail(f"no {count} consecutive free ports")


def process_table() -> dict[int, tuple[int, str, str]]:
    """Every process: pid -> (parent pid, state, start time), from /proc."""
    table = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                # The command name (field 2) may hold spaces and parentheses: split after its closing one.
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                table[int(entry.name)] = (int(fields[1]), fields[0], fields[19])
    return table


def descendants(pid: int) -> set[tuple[int, str]]:
    """The processes under pid, as (pid, start time): a pid reused later is another process."""
    table = process_table()
    found, parents = set(), {pid}
    while parents:
        children = {(child, info[2]) for child, info in table.items() if info[0] in parents}
        parents = {child for child, _ in children} - {child for child, _ in found}
        found |= children
    return found


def survivors(processes: set[tuple[int, str]]) -> list[str]:
    """Those of processes that still exist, running or as zombies (state Z), as "pid N (state)"."""
    table = process_table()
    return [f"pid {pid} ({table[pid][1]})" for pid, start in processes if pid in table and table[pid][2] == start]


@pytest.fixture(scope="module")
def embedded_env(tmp_path_factory) -> dict[str, str]:
    """The environment of `make run`: nothing set but a fresh data directory, migrated."""
    env = {key: value for key, value in os.environ.items() if key not in NOT_EMBEDDED}
    env["DCP_DATA_DIR"] = str(tmp_path_factory.mktemp("embedded") / "var")
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--verbosity", "0"], cwd=ROOT, env=env, check=True, timeout=300
    )
    return env


class Serve:
    """One `manage.py serve` process, its output in a file; whatever it leaves is killed at the end."""

    def __init__(self, env: dict[str, str], log_path: Path, *args: str):
        self.log_path = log_path
        with open(log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "manage.py", "serve", *args],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self.seen: set[tuple[int, str]] = set()

    def output(self) -> str:
        """What serve and its children printed so far."""
        return self.log_path.read_text(errors="replace")

    def watch(self) -> set[tuple[int, str]]:
        """Its processes now (remembered, for the clean-up)."""
        self.seen |= descendants(self.process.pid)
        return self.seen

    def kill_all(self) -> None:
        """Kill serve and every process it was seen with (a test that failed must not leave them)."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        table = process_table()
        for pid, start in self.seen:
            # Only a process still the one seen: its pid may belong to another one by now.
            if pid in table and table[pid][2] == start:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


@pytest.fixture
def start_serve(embedded_env, tmp_path):
    """Start serve with the given arguments and environment additions; clean up after the test."""
    started = []

    def start(*args: str, **env: str) -> Serve:
        serve = Serve({**embedded_env, **env}, tmp_path / f"serve-{len(started)}.log", *args)
        started.append(serve)
        return serve

    yield start
    for serve in started:
        serve.kill_all()


def get_json(url: str) -> dict:
    """GET a loopback URL's JSON body."""
    with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310 - loopback only
        return json.loads(answer.read())


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_serve_says_ready_then_stops_everything_within_seconds(start_serve, signum):
    """Ready only once the worker consumes every queue; on the signal, everything is gone within 5 s."""
    web, clouds = free_ports(1), free_ports(3)
    serve = start_serve("--addr", f"127.0.0.1:{web}", DCP_EMULATOR_PORT=str(clouds))
    wait_for(
        lambda: "DCP is ready" in serve.output() or serve.process.poll() is not None,
        timeout=120,
        message="serve to say it is ready",
    )
    assert serve.process.poll() is None, serve.output()
    # The line tells where the emulated clouds are, and they are there.
    assert f"aws on http://127.0.0.1:{clouds}" in serve.output()
    body = get_json(f"http://127.0.0.1:{web}/healthz")
    assert body["queues_without_worker"] == [] and body["workers"] >= 1, body
    assert get_json(f"http://127.0.0.1:{clouds}/_emulator/instances") is not None
    processes = serve.watch()
    # The emulators, the worker, its pool processes and beat, and the web server.
    assert len(processes) >= 7, processes

    serve.process.send_signal(signum)
    try:
        serve.process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pytest.fail(f"serve still runs 5 s after {signum.name}:\n{serve.output()[-3000:]}")
    assert serve.process.returncode == 0, serve.output()[-3000:]
    assert not survivors(processes), f"left behind after {signum.name}: {survivors(processes)}"
    taken = [port for port in (web, clouds, clouds + 1, clouds + 2) if not port_free(port)]
    assert not taken, f"ports still held after {signum.name}: {taken}"


@pytest.mark.parametrize("needed_by", ["DCP's web server", "the aws emulator", "the openstack emulator"])
def test_serve_refuses_a_taken_port(start_serve, needed_by):
    """A port another process holds stops serve before it starts anything, with a message naming it."""
    web, clouds = free_ports(1), free_ports(3)
    port = {"DCP's web server": web, "the aws emulator": clouds, "the openstack emulator": clouds + 2}[needed_by]
    with socket.socket() as other:
        other.bind(("127.0.0.1", port))
        other.listen(1)
        serve = start_serve("--addr", f"127.0.0.1:{web}", DCP_EMULATOR_PORT=str(clouds))
        serve.process.wait(timeout=120)
        output = serve.output()
    assert serve.process.returncode != 0, output
    assert f"Port {port} on 127.0.0.1 is in use, and {needed_by} needs it." in output
    assert "Starting DCP" not in output and "ready" not in output, output
    assert all(port_free(p) for p in (web, clouds, clouds + 1, clouds + 2) if p != port)


def test_serve_refuses_web_port_among_the_emulators(start_serve):
    """--addr on one of the emulated clouds' ports is refused too: two servers cannot share it."""
    clouds = free_ports(3)
    serve = start_serve("--addr", f"127.0.0.1:{clouds + 1}", DCP_EMULATOR_PORT=str(clouds))
    serve.process.wait(timeout=120)
    assert serve.process.returncode != 0
    assert f"Port {clouds + 1} on 127.0.0.1 is in use, and the aliyun emulator needs it." in serve.output()


def test_serve_names_a_bad_emulator_port(start_serve):
    """DCP_EMULATOR_PORT that is no port number is refused, naming the variable."""
    serve = start_serve("--addr", f"127.0.0.1:{free_ports(1)}", DCP_EMULATOR_PORT="fivethousand")
    serve.process.wait(timeout=120)
    assert serve.process.returncode != 0
    assert "DCP_EMULATOR_PORT='fivethousand' is not a port number" in serve.output()
