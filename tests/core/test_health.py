"""/healthz: database and broker reachability, the workers and the queues none consumes, in bounded time."""

import socket
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.db.models.functions import Now
from rest_framework.test import APIClient

from apps.core import workers
from apps.core.models import WorkerHeartbeat
from dcp.celery import app

pytestmark = pytest.mark.django_db


def health() -> tuple[int, dict]:
    """GET /healthz as a load balancer does (no credentials): status and body."""
    answer = APIClient().get("/healthz")
    return answer.status_code, answer.json()


def unserved(queues: dict[str, int]) -> list[str]:
    """The queues of these counts that no worker consumes, in DCP's order."""
    return [name for name in ("engine", "provider", "init") if not queues[name]]


def test_healthz_says_which_queues_no_worker_consumes():
    """200 whatever the workers (the web process can still accept work); the queues no worker consumes are
    listed; a worker whose heartbeat is too old does not count, nor one that said it stopped.

    Counted on top of the workers already running (an end-to-end test's worker, in a whole-suite run).
    """
    status, before = health()
    assert status == 200, before
    assert set(before) == {"database", "broker", "workers", "queues", "queues_without_worker"}
    assert before["database"] == before["broker"] == "ok"
    base = before["queues"]
    assert set(base) == {"engine", "provider", "init"}
    assert before["queues_without_worker"] == unserved(base)

    workers.record("celery@web-1", 101, ["engine", "provider"])
    workers.record("celery@web-2", 102, ["engine"])
    status, body = health()
    assert status == 200
    assert body["workers"] == before["workers"] + 2
    expected = {"engine": base["engine"] + 2, "provider": base["provider"] + 1, "init": base["init"]}
    assert body["queues"] == expected
    assert body["queues_without_worker"] == unserved(expected)
    if not before["workers"]:
        assert body["queues_without_worker"] == ["init"]

    # A worker killed outright stops beating: ALIVE_SECONDS later it no longer counts.
    workers.record("celery@web-3", 103, ["init"])
    assert health()[1]["queues"]["init"] == base["init"] + 1
    WorkerHeartbeat.objects.filter(pid=103).update(seen_at=Now() - timedelta(seconds=workers.ALIVE_SECONDS + 1))
    assert health()[1]["queues"]["init"] == base["init"]

    # A worker that stops says so.
    workers.forget("celery@web-2", 102)
    assert health()[1]["queues"] == {**expected, "engine": base["engine"] + 1}


def test_healthz_answers_head_and_is_not_cached():
    """Load balancers may ask with HEAD; no proxy may keep an old answer."""
    client = APIClient()
    assert client.head("/healthz").status_code == 200
    assert "no-cache" in client.get("/healthz")["Cache-Control"]


@pytest.fixture
def silent_broker():
    """A loopback port that accepts connections and never says a word (a hung broker)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    accepted = []

    def accept():
        while True:
            try:
                accepted.append(server.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    yield server.getsockname()[1]
    server.close()
    for conn in accepted:
        conn.close()


@pytest.mark.parametrize("url", ["redis://127.0.0.1:{port}/0", "amqp://guest:guest@127.0.0.1:{port}//"])
def test_healthz_answers_when_the_broker_hangs(silent_broker, url, monkeypatch):
    """A broker that accepts the connection and never answers is reported down instead of hanging the check."""
    # Celery reads CELERY_BROKER_URL from the environment before its configuration.
    monkeypatch.setenv("CELERY_BROKER_URL", url.format(port=silent_broker))
    assert app.conf.broker_url == url.format(port=silent_broker)
    answers = []

    def check():
        try:
            answers.append(health())
        finally:
            connection.close()  # this thread's own connection, or the test database outlives the test

    checker = threading.Thread(target=check, daemon=True)
    checker.start()
    # Far beyond the check's own bound: this asserts an answer, not a speed.
    checker.join(timeout=30)
    assert answers, "/healthz did not answer while the broker hung"
    status, body = answers[0]
    assert status == 503
    assert body["broker"] == "down" and body["database"] == "ok"
