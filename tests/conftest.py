"""Shared fixtures: users by role, API clients with tokens, and a real Celery worker process."""

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from rest_framework.test import APIClient

from apps.accounts.models import Token
from apps.core.choices import Role
from tests.factories import ClusterFactory, MembershipFactory, UserFactory

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Hash passwords at test speed: role fixtures make several users per test; no test depends on the hasher."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _clear_throttles():
    """Throttle counters live in the cache; tests start from zero."""
    from django.core.cache import cache

    cache.clear()


def client_for(user) -> APIClient:
    """An API client that sends a fresh token for user (anonymous if None)."""
    client = APIClient()
    if user is not None:
        _, key = Token.issue(user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


def serving(harness_class):
    """Start a harness's emulator, give the harness, and stop the emulator after (for fixtures: ``yield from``)."""
    harness = harness_class()
    harness.start()
    try:
        yield harness
    finally:
        harness.stop()


@pytest.fixture(scope="module")
def aws_emulator():
    """One AWS EC2 emulator (moto behind its signature-checking front) for the module that asks for it."""
    from tests.providers.harnesses.aws import AwsHarness

    yield from serving(AwsHarness)


@pytest.fixture(scope="module")
def ecs_emulator():
    """One Aliyun ECS emulator for the module that asks for it: its RunInstances answers instance ids only."""
    from tests.providers.harnesses.aliyun import AliyunHarness

    yield from serving(AliyunHarness)


@pytest.fixture
def cluster(db):
    """A cluster."""
    return ClusterFactory()


@pytest.fixture
def sysadmin(db):
    """A system administrator."""
    return UserFactory(username="root-admin", is_superuser=True)


@pytest.fixture
def users(db, cluster):
    """One user per role on `cluster`, plus one who is not a member."""
    made = {}
    for role in Role.values():
        user = UserFactory(username=f"{role}-user")
        MembershipFactory(cluster=cluster, user=user, role=role)
        made[role] = user
    made["outsider"] = UserFactory(username="outsider")
    return made


@pytest.fixture
def clients(users, sysadmin):
    """API clients by role: admin, developer, guest, outsider, sysadmin, anonymous."""
    found = {role: client_for(user) for role, user in users.items()}
    found["sysadmin"] = client_for(sysadmin)
    found["anonymous"] = client_for(None)
    return found


def wait_for(predicate, timeout: float = 60, interval: float = 0.2, message: str = "condition"):
    """Poll until predicate() is truthy; fail the test with message after timeout seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail(f"timed out after {timeout}s waiting for {message}")


def _gunicorn_port(log_path: Path) -> int | None:
    """The port gunicorn says it listens on, once it has said so."""
    found = re.search(rb"Listening at: http://127\.0\.0\.1:(\d+)", log_path.read_bytes())
    return int(found.group(1)) if found else None


@contextlib.contextmanager
def gunicorn(env: dict, log_path: Path, workers: int = 1):
    """gunicorn serving DCP on a free loopback port with env, logging to log_path; yields the port once its
    workers have booted, and stops it (its whole process group) afterwards."""
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "dcp.wsgi:application", "--bind", "127.0.0.1:0"]
            + ["--workers", str(workers)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        wait_for(
            lambda: _gunicorn_port(log_path) or process.poll() is not None, timeout=60, message="gunicorn to listen"
        )
        assert process.poll() is None, log_path.read_text()
        wait_for(lambda: log_path.read_bytes().count(b"Booting worker") >= workers, timeout=60, message="its workers")
        yield _gunicorn_port(log_path)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


class Worker:
    """A real Celery worker process consuming DCP's queues against the test database.

    queues is the worker's --queues; None starts it the plain way, without --queues.
    """

    def __init__(self, env: dict, log_path: Path, queues: str | None = "engine,provider,init"):
        self.env = env
        self.log_path = log_path
        self.queues = queues
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        """Start the worker and wait until it says it is ready."""
        # A restarted worker appends to its old log: only what it writes from now on says it is ready.
        start = self.log_path.stat().st_size if self.log_path.exists() else 0
        log = open(self.log_path, "ab")  # noqa: SIM115 - the process keeps it open
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "dcp",
                "worker",
                "--loglevel",
                "INFO",
                *(["--queues", self.queues] if self.queues else []),
                "--concurrency",
                "2",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "--pool",
                "prefork",
            ],
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for(
            lambda: b"ready." in self.log_path.read_bytes()[start:], timeout=60, message="the Celery worker to start"
        )

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop the worker (and its pool processes)."""
        stop_group(self.process, sig)
        self.process = None


def stop_group(process: subprocess.Popen | None, sig: int = signal.SIGTERM) -> None:
    """Stop a process started with start_new_session and everything in its group; SIGKILL after 30 s."""
    if process and process.poll() is None:
        os.killpg(process.pid, sig)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def child_process_env(who: str) -> dict:
    """This process's environment, with DATABASE_URL naming the PostgreSQL test database: for child processes."""
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.fail(f"{who} need PostgreSQL: set DATABASE_URL (see README)")
    params = connection.settings_dict
    env = dict(os.environ)
    env["DATABASE_URL"] = (
        f"postgres://{params['USER']}:{params['PASSWORD'] or ''}@{params['HOST'] or 'localhost'}:"
        f"{params['PORT'] or 5432}/{params['NAME']}"
    )
    return env


@pytest.fixture(scope="session")
def worker(django_db_setup, django_db_blocker, tmp_path_factory):
    """A real worker process on a real broker (CELERY_BROKER_URL) and the PostgreSQL test database."""
    from django.conf import settings

    if not settings.CELERY_BROKER_URL.startswith(("redis", "amqp", "pyamqp")):
        pytest.fail("worker tests need a real broker: set CELERY_BROKER_URL (see README)")
    env = child_process_env("worker tests")
    env["DCP_STUCK_AFTER_SECONDS"] = env.get("DCP_STUCK_AFTER_SECONDS", "30")
    # Retried provider calls wait at most 4 s, not 30: the fault tests' clouds fail 40% of calls on purpose.
    env["DCP_PROVIDER_RETRY_MAX_DELAY"] = env.get("DCP_PROVIDER_RETRY_MAX_DELAY", "4")
    subprocess.run(
        [sys.executable, "-m", "celery", "-A", "dcp", "purge", "-f", "-Q", "engine,provider,init"],
        cwd=ROOT,
        env=env,
        check=True,
        capture_output=True,
    )
    process = Worker(env, tmp_path_factory.mktemp("worker") / "worker.log")
    process.start()
    yield process
    process.stop()
    sys.stdout.write(f"\nworker log: {process.log_path}\n")


@pytest.fixture(scope="module")
def only_our_workers(worker, tmp_path_factory):
    """Stop the session's worker for this module (it would do the work the module's own workers must do)."""
    worker.stop()
    yield worker.env
    # A fresh log: Worker.start waits for "ready." in its log, which the old log already holds.
    worker.log_path = tmp_path_factory.mktemp("worker-restarted") / "worker.log"
    worker.start()


class Server:
    """gunicorn serving DCP on a loopback socket this process opened, so the port is free and ours.

    launcher is what runs gunicorn after the interpreter (a wrapper module may come first).
    """

    def __init__(self, env: dict, log_path: Path, launcher: tuple[str, ...] = ("-m", "gunicorn")):
        self.env = env
        self.launcher = launcher
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
                *self.launcher,
                "--bind",
                f"fd://{fd}",
                "--workers",
                "2",
                "--timeout",
                "60",
                # A URL past gunicorn's default 4 KB line is refused with its own 414 page before DCP sees
                # it: that limit belongs to the web server in front, and this run tests DCP.
                "--limit-request-line",
                "0",
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

    def requests(self, since: int) -> int:
        """How many requests the server answered since byte offset `since` of its log (one access line each)."""
        return len(re.findall(rb'" [1-5][0-9][0-9] ', self.log_path.read_bytes()[since:]))

    def errors(self, since: int) -> str:
        """The tracebacks the server logged since byte offset `since` of its log."""
        text = self.log_path.read_bytes()[since:].decode("utf-8", "replace")
        return text if "Traceback" in text else ""
