"""The dcp command line against a real DCP: gunicorn on the PostgreSQL test database, a real worker, EC2 emulated.

Each test gets its own server (the database is emptied between tests, and a
server that lived on would keep stale content types) and its own home
directory, so the profiles file the CLI writes is the test's alone. The CLI
runs as a subprocess (`python -m dcp_cli`) and the tests read what it printed
and what the API then shows.
"""

import json
import os
import pty
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

from apps.accounts.models import Token
from apps.core.choices import Role
from tests.conftest import Server, child_process_env
from tests.e2e.test_cloud_scale import template_for
from tests.factories import ClusterFactory, MembershipFactory, PoolFactory, UserFactory, with_template

ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.fixture
def server(transactional_db, tmp_path):
    """DCP under gunicorn, serving this test's database."""
    process = Server(child_process_env("CLI tests"), tmp_path / "gunicorn.log")
    process.start()
    yield process
    process.stop()


class Dcp:
    """Runs `python -m dcp_cli` with its own HOME and XDG_CONFIG_HOME, and DCP_URL/DCP_TOKEN when set."""

    def __init__(self, home: Path, url: str | None = None, token: str | None = None):
        self.home = home
        self.url = url
        self.token = token

    @property
    def config(self) -> Path:
        """The profiles file the CLI writes."""
        return self.home / "config" / "dcp" / "config.toml"

    def __call__(
        self, *args: str, stdin: str | None = None, env: dict | None = None, timeout: float = 180, tty: bool = False
    ):
        """Run dcp with args; the finished process (returncode, stdout, stderr as text). With tty, stderr is a
        terminal (a pseudo-terminal read here), as when a person runs dcp by hand."""
        environment = {
            key: value for key, value in os.environ.items() if not key.startswith("DCP_") and key != "XDG_CONFIG_HOME"
        }
        environment.update(HOME=str(self.home), XDG_CONFIG_HOME=str(self.home / "config"), COLUMNS="200")
        if self.url:
            environment["DCP_URL"] = self.url
        if self.token:
            environment["DCP_TOKEN"] = self.token
        environment.update(env or {})
        if tty:
            return on_terminal([sys.executable, "-m", "dcp_cli", *args], environment, self.home, timeout)
        return subprocess.run(
            [sys.executable, "-m", "dcp_cli", *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=environment,
            cwd=self.home,
            timeout=timeout,
        )

    def json(self, *args: str, **kwargs):
        """Run dcp with -o json; its parsed output (the run must succeed)."""
        done = self(*args, "-o", "json", **kwargs)
        assert done.returncode == 0, (done.returncode, done.stdout, done.stderr)
        return json.loads(done.stdout)


def on_terminal(argv: list[str], env: dict, cwd: Path, timeout: float) -> subprocess.CompletedProcess:
    """Run argv with stdout a pipe and stderr a pseudo-terminal; what each received, as text."""
    master, slave = pty.openpty()
    received = bytearray()

    def read() -> None:
        while True:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # the terminal's other end closed: the process has ended
                return
            if not chunk:
                return
            received.extend(chunk)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    process = subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=slave, env={**env, "TERM": "xterm"}, cwd=cwd
    )
    os.close(slave)
    stdout, _ = process.communicate(timeout=timeout)
    reader.join(timeout=10)
    os.close(master)
    return subprocess.CompletedProcess(argv, process.returncode, stdout.decode(), received.decode(errors="replace"))


@dataclass
class Demo:
    """A cluster `demo` with a pool `web` on the EC2 emulator, and a developer's token."""

    cluster: object
    pool: object
    template: object
    developer: object
    token: str


@pytest.fixture
def demo(transactional_db, aws_emulator):
    """Cluster demo, pool web (0..10 hosts) whose template makes t3.micro instances on the EC2 emulator."""
    aws_emulator.reset()
    cluster = ClusterFactory(name="demo")
    developer = UserFactory(username="scripter")
    MembershipFactory(cluster=cluster, user=developer, role=Role.DEVELOPER)
    template = template_for(aws_emulator, aws_emulator.account())
    pool = with_template(PoolFactory(cluster=cluster, name="web", min_size=0, max_size=10), template)
    _, key = Token.issue(developer, "cli tests")
    return Demo(cluster=cluster, pool=pool, template=template, developer=developer, token=key)


@pytest.fixture
def dcp(server, demo, tmp_path):
    """The CLI pointed at the server with the developer's token (DCP_URL and DCP_TOKEN)."""
    home = tmp_path / "home"
    home.mkdir()
    return Dcp(home, server.url, demo.token)
