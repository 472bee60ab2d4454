"""The API against its own OpenAPI schema: schemathesis fuzzes a live server as three different callers.

A real gunicorn process serves DCP on a free loopback port against the
PostgreSQL test database, seeded with two clusters (tests/api/seed.py).
Schemathesis (its CLI, in a subprocess) loads /api/schema/ from that server
and runs every check, stateful phase included, once per caller: a guest of
cluster 1, an outsider (admin of cluster 2 only) and a system administrator.
Both processes run under tests/api/offline.py, so neither can reach anything
but this machine. Slow (minutes): marked ``slow``; deselect with ``-m "not slow"``.

Bounds: DCP_SCHEMATHESIS_EXAMPLES cases per operation and phase (default 25),
DCP_SCHEMATHESIS_SECONDS for each caller's run (default 150; schemathesis keeps
fuzzing until it is spent), so the three runs together stay under 10 minutes.
"""

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.api.seed import CALLERS, seed
from tests.conftest import ROOT, child_process_env, stop_group, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

EXAMPLES = int(os.environ.get("DCP_SCHEMATHESIS_EXAMPLES", "25"))
SECONDS = int(os.environ.get("DCP_SCHEMATHESIS_SECONDS", "150"))
MAX_SHOWN = 200_000  # characters of schemathesis output shown in a failure; the rest is in the file

# Known harmless findings, each turned off for one check on one operation only, with the reason.
# (check, method, path as in the schema, reason)
EXCLUSIONS: list[tuple[str, str, str, str]] = []


def _toml_string(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid TOML basic string for the text used here


def write_config(path: Path, token: str) -> Path:
    """The schemathesis.toml of one run: bounds, the caller's token, and EXCLUSIONS."""
    lines = [
        f"max-time = {SECONDS}",
        "max-redirects = 0",
        "request-timeout = 30",
        "workers = 2",
        "[headers]",
        f"Authorization = {_toml_string('Token ' + token)}",
        "[generation]",
        f"max-examples = {EXAMPLES}",
        'database = "none"',
        "[phases.stateful]",
        "max-steps = 20",
    ]
    for check, method, operation, _reason in EXCLUSIONS:
        lines += [
            "[[operations]]",
            f"include-method = {_toml_string(method)}",
            f"include-path = {_toml_string(operation)}",
            f"checks.{check}.enabled = false",
        ]
    path.write_text("\n".join(lines) + "\n")
    return path


class Server:
    """gunicorn serving DCP on a loopback socket this process opened, so the port is free and ours."""

    def __init__(self, env: dict, log_path: Path):
        self.env = env
        self.log_path = log_path
        self.listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.listener.set_inheritable(True)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        """Start gunicorn on the socket and wait until /healthz answers."""
        fd = self.listener.fileno()
        log = open(self.log_path, "ab")  # noqa: SIM115 - the process keeps it open
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.api.offline",
                "gunicorn",
                "--bind",
                f"fd://{fd}",
                "--workers",
                "2",
                "--timeout",
                "60",
                "--access-logfile",
                "-",
                "dcp.wsgi:application",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            pass_fds=(fd,),
            start_new_session=True,
        )
        wait_for(self._answers, timeout=60, message=f"gunicorn to serve (its log: {self.log_path})")

    def _answers(self) -> bool:
        if self.process.poll() is not None:
            pytest.fail(f"gunicorn exited; its log:\n{self.log_path.read_text()[-5000:]}")
        try:
            return requests.get(f"{self.url}/healthz", timeout=2).status_code == 200
        except requests.RequestException:  # the socket accepts connections before a worker is up
            return False

    def stop(self) -> None:
        """Stop gunicorn and its workers."""
        stop_group(self.process)
        self.listener.close()

    def errors(self, since: int) -> str:
        """The tracebacks the server logged since byte offset `since` of its log."""
        text = self.log_path.read_bytes()[since:].decode("utf-8", "replace")
        return text if "Traceback" in text else ""


@pytest.fixture(scope="module")
def server(django_db_setup, django_db_blocker, tmp_path_factory):
    """DCP under gunicorn on the PostgreSQL test database, reachable on loopback only."""
    process = Server(child_process_env("schemathesis runs"), tmp_path_factory.mktemp("server") / "gunicorn.log")
    process.start()
    yield process
    process.stop()
    sys.stdout.write(f"\nserver log: {process.log_path}\n")


def run_schemathesis(server: Server, token: str, workdir: Path) -> subprocess.CompletedProcess:
    """Every check and phase against the server's own schema, as the caller token belongs to."""
    config = write_config(workdir / "schemathesis.toml", token)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.api.offline",
            "st",
            "--config-file",
            str(config),
            "run",
            f"{server.url}/api/schema/?format=json",
            "--url",
            server.url,
            "--checks",
            "all",
            "--phases",
            "examples,coverage,fuzzing,stateful",
            "--no-color",
            "--report",
            "junit",
            "--report-dir",
            str(workdir / "report"),
        ],
        cwd=workdir,
        env={**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "160"},
        capture_output=True,
        text=True,
        timeout=SECONDS + 240,
    )


@pytest.mark.parametrize("caller", CALLERS)
def test_api_keeps_to_its_schema(server, caller, tmp_path):
    """No check fails: statuses, bodies and headers are what the schema says, for valid and invalid input."""
    tokens = seed().tokens
    log_start = server.log_path.stat().st_size
    started = time.monotonic()
    result = run_schemathesis(server, tokens[caller], tmp_path)
    took = time.monotonic() - started
    output = tmp_path / "schemathesis.txt"
    output.write_text(result.stdout + result.stderr)
    summary = next((line for line in reversed(result.stdout.splitlines()) if line.strip()), "")
    sys.stdout.write(f"\nschemathesis as {caller}: {took:.0f}s, {summary} (full output: {output})\n")
    if result.returncode != 0:
        pytest.fail(
            f"schemathesis as {caller} failed (exit {result.returncode}) after {took:.0f}s; each failure names "
            f"the operation, the check and the curl that reproduces it (full output: {output}):\n"
            f"{result.stdout[:MAX_SHOWN]}\n{result.stderr[-5000:]}\n"
            f"server tracebacks:\n{server.errors(log_start)[-20000:]}",
            pytrace=False,
        )
