"""Two real web server processes (gunicorn) share one sign-in limit and one lock-out.

Each server is its own process with its own memory, on a loopback socket this
test opened (no fixed port), against the test database. The limit must hold
for the pair whether or not DCP has Redis: once with the Redis broker (the
cache is then shared) and once with an AMQP broker URL (no Redis: each
process's cache is its own memory). Nothing is mocked.
"""

import os
import signal
import socket
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from django.contrib.auth.hashers import PBKDF2PasswordHasher

from apps.accounts.models import User
from tests.conftest import wait_for

ROOT = Path(__file__).resolve().parent.parent.parent
PASSWORD = "correct horse battery"
RATE = 6
BROKERS = {
    "redis": os.environ.get("CELERY_BROKER_URL", ""),
    # Never connected to: the web processes only read it, and it leaves DCP without Redis.
    "no-redis": "amqp://guest:guest@127.0.0.1:5672//",
}


class Server:
    """One gunicorn process (one sync worker) serving DCP on a socket bound here."""

    def __init__(self, env: dict, log: Path):
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        fd = self.listener.fileno()
        self.log = log
        with open(log, "wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "dcp.wsgi:application", "--bind", f"fd://{fd}", "--workers", "1"],
                cwd=ROOT,
                env=env,
                pass_fds=(fd,),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def post(self, path: str, body: dict) -> tuple[int, dict]:
        """POST JSON; the status and the JSON answer."""
        answer = requests.post(self.url + path, json=body, timeout=30)
        return answer.status_code, answer.json()

    def ready(self) -> bool:
        """Whether it answers /healthz (any status means the process serves)."""
        try:
            requests.get(self.url + "/healthz", timeout=10)
        except (requests.ConnectionError, requests.Timeout):
            assert self.process.poll() is None, self.log.read_text()
            return False
        return True

    def stop(self) -> None:
        """Stop the process and close the socket."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=30)
        self.listener.close()


@pytest.fixture(params=list(BROKERS))
def servers(request, transactional_db, tmp_path):
    """Two gunicorn processes on the test database, with DCP_AUTH_RATE=6/min and a lock-out after 4 failures."""
    from django.db import connection

    if connection.vendor != "postgresql" or not BROKERS["redis"].startswith("redis"):
        pytest.fail("this test needs PostgreSQL and Redis: set DATABASE_URL and CELERY_BROKER_URL (see README)")
    params = connection.settings_dict
    env = dict(os.environ)
    env.update(
        DATABASE_URL=f"postgres://{params['USER']}:{params['PASSWORD'] or ''}@{params['HOST'] or 'localhost'}:"
        f"{params['PORT'] or 5432}/{params['NAME']}",
        CELERY_BROKER_URL=BROKERS[request.param],
        DCP_REDIS_URL="",
        DCP_AUTH_RATE=f"{RATE}/min",
        DCP_LOGIN_LOCKOUT_FAILURES="4",
        DCP_TRUSTED_PROXIES="0",
    )
    # Started per test: the database is emptied after each one, and a server's cached content types with it.
    pair = [Server(env, tmp_path / f"web-{n}.log") for n in (1, 2)]
    try:
        for server in pair:
            wait_for(server.ready, timeout=60, message="gunicorn to serve")
        yield pair
    finally:
        for server in pair:
            server.stop()


def test_two_processes_share_one_address_limit(servers):
    """Twenty guesses fired at once, half at each process: exactly DCP_AUTH_RATE are checked, the rest get 429."""
    bodies = [{"username": f"nobody-{n}", "password": "guess"} for n in range(20)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda n: servers[n % 2].post("/api/v1/auth/token/", bodies[n]), range(20)))
    statuses = sorted(status for status, _ in answers)
    assert statuses == [400] * RATE + [429] * (20 - RATE), answers


def test_two_processes_share_one_lockout(servers):
    """Failures on one process lock the username on the other, where the right password is then refused."""
    hashed = PBKDF2PasswordHasher().encode(PASSWORD, PBKDF2PasswordHasher().salt())
    User.objects.create(username="scripter", password=hashed)
    first, second = servers
    assert [first.post("/api/v1/auth/token/", {"username": "scripter", "password": "guess"})[0] for _ in range(4)] == [
        400
    ] * 4
    status, body = second.post("/api/v1/auth/token/", {"username": "scripter", "password": PASSWORD})
    assert status == 429 and "locked" in body["detail"]
