"""Chunked request bodies through real HTTP servers: read by gunicorn, refused clearly by Django's dev server.

Django's test client cannot send ``Transfer-Encoding: chunked``, so these tests
start the servers DCP runs under and write raw HTTP/1.1 to them on loopback:
gunicorn (the production server, a subprocess on the PostgreSQL test
database) and Django's own development server (pytest-django's live server,
the same WSGI handler as ``runserver``). The data they read is committed
(``transactional_db``), since the gunicorn process has its own connection.
"""

import json
import os
import socket

import pytest

from apps.accounts.models import Token
from apps.inventory.models import ServicePool
from tests.conftest import gunicorn as gunicorn_process
from tests.factories import ClusterFactory, PoolFactory, UserFactory

BODY_LIMIT = 4096


@pytest.fixture
def gunicorn(transactional_db, tmp_path):
    """A gunicorn process serving DCP on a free loopback port, on the test database; yields its port."""
    from django.db import connection

    params = connection.settings_dict
    env = dict(os.environ)
    env["DATABASE_URL"] = (
        f"postgres://{params['USER']}:{params['PASSWORD'] or ''}@{params['HOST'] or 'localhost'}:"
        f"{params['PORT'] or 5432}/{params['NAME']}"
    )
    env["DCP_MAX_BODY_BYTES"] = str(BODY_LIMIT)
    with gunicorn_process(env, tmp_path / "gunicorn.log") as port:
        yield port


@pytest.fixture
def pool_and_token(transactional_db):
    """A pool, and the token of a system administrator who may change it."""
    user = UserFactory(username="chunk-admin", is_superuser=True)
    _, key = Token.issue(user)
    return PoolFactory(cluster=ClusterFactory(name="chunked"), name="web", max_size=5), key


def chunked_request(port: int, method: str, path: str, token: str, body: bytes, chunk: int = 7) -> tuple[int, dict]:
    """Send body in chunks of `chunk` bytes, without a Content-Length; the answer's status and JSON."""
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Token {token}\r\n"
        "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    ).encode()
    pieces = [body[i : i + chunk] for i in range(0, len(body), chunk)]
    framed = b"".join(b"%x\r\n%s\r\n" % (len(piece), piece) for piece in pieces) + b"0\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.sendall(head + framed)
        answer = b""
        while data := conn.recv(65536):
            answer += data
    status_line, _, rest = answer.partition(b"\r\n")
    headers, _, content = rest.partition(b"\r\n\r\n")
    if b"transfer-encoding: chunked" in headers.lower():
        content = _dechunk(content)
    return int(status_line.split()[1]), json.loads(content)


def _dechunk(data: bytes) -> bytes:
    """The payload of a chunked response."""
    out = b""
    while True:
        size_line, _, data = data.partition(b"\r\n")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            return out
        out, data = out + data[:size], data[size + 2 :]


def test_gunicorn_chunked_patch_is_read(gunicorn, pool_and_token):
    """A chunked PATCH through gunicorn changes the pool (it used to answer 200 and change nothing)."""
    pool, token = pool_and_token
    body = json.dumps({"description": "sent in chunks", "max_size": 7}).encode()
    status, answer = chunked_request(gunicorn, "PATCH", f"/api/v1/pools/{pool.pk}/", token, body)
    assert status == 200, answer
    assert (answer["description"], answer["max_size"]) == ("sent in chunks", 7)
    pool.refresh_from_db()
    assert (pool.description, pool.max_size) == ("sent in chunks", 7)


def test_gunicorn_chunked_body_over_the_limit(gunicorn, pool_and_token):
    """The body limit holds for chunked bodies: past DCP_MAX_BODY_BYTES is a 413, and nothing changes."""
    pool, token = pool_and_token
    body = json.dumps({"description": "x" * BODY_LIMIT}).encode()
    status, answer = chunked_request(gunicorn, "PATCH", f"/api/v1/pools/{pool.pk}/", token, body, chunk=1000)
    assert status == 413, answer
    assert str(BODY_LIMIT) in answer["detail"]
    assert ServicePool.objects.get(pk=pool.pk).description == ""


def test_gunicorn_chunked_unknown_field_is_refused(gunicorn, pool_and_token):
    """What is read from chunks is checked like any body: a misspelt field is a 400 naming it."""
    pool, token = pool_and_token
    body = json.dumps({"desription": "typo"}).encode()
    status, answer = chunked_request(gunicorn, "PATCH", f"/api/v1/pools/{pool.pk}/", token, body)
    assert status == 400 and "desription" in answer, answer


def test_dev_server_refuses_chunked_body_with_411(live_server, pool_and_token):
    """Django's development server cannot hand a chunked body on: 411 saying to send a Content-Length."""
    pool, token = pool_and_token
    port = int(live_server.url.rsplit(":", 1)[1])
    body = json.dumps({"description": "lost"}).encode()
    status, answer = chunked_request(port, "PATCH", f"/api/v1/pools/{pool.pk}/", token, body)
    assert status == 411, answer
    assert "Content-Length" in answer["detail"]
    assert ServicePool.objects.get(pk=pool.pk).description == ""
