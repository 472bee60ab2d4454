"""Log lines: JSON (DCP_LOG_FORMAT=json) or text, each with the ids of its request or task; X-Request-ID."""

import json
import logging
import uuid

import pytest
from rest_framework.test import APIClient

from apps.core.context import bind
from apps.monitoring.logs import ContextFilter, JsonFormatter
from apps.monitoring.tasks import task_fields
from tests.conftest import client_for
from tests.factories import PoolFactory, TemplateFactory, with_template
from tests.providers.harnesses.aliyun import ACCESS_KEY_ID, ACCESS_KEY_SECRET, REGION

pytestmark = pytest.mark.django_db


class Lines(logging.Handler):
    """Keeps every record it is given, formatted by the formatter under test."""

    def __init__(self, formatter: logging.Formatter):
        super().__init__()
        self.setFormatter(formatter)
        self.addFilter(ContextFilter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))


@pytest.fixture
def json_lines():
    """Every log line of the test, as DCP_LOG_FORMAT=json writes it."""
    handler = Lines(JsonFormatter())
    root = logging.getLogger()
    root.addHandler(handler)
    level = root.level
    root.setLevel(logging.INFO)
    yield handler.lines
    root.removeHandler(handler)
    root.setLevel(level)


def test_json_line_fields(json_lines):
    """time, level, logger and message, then the bound ids and those given in extra; a traceback when raised."""
    logger = logging.getLogger("dcp.test")
    with bind(job=7, pool=3):
        logger.info("made %d hosts", 2, extra={"host": 11})
    try:
        raise ValueError("boom")
    except ValueError:
        logger.exception("failed")
    first, second = (json.loads(line) for line in json_lines[-2:])
    assert first["message"] == "made 2 hosts"
    assert (first["level"], first["logger"]) == ("INFO", "dcp.test")
    assert first["time"].endswith("+00:00")
    assert (first["job"], first["pool"], first["host"]) == (7, 3, 11)
    assert "job" not in second and "ValueError: boom" in second["exception"]


def test_text_line_ends_with_ids():
    """The text format keeps its shape and appends the ids as key=value."""
    handler = Lines(logging.Formatter("%(levelname)s %(message)s%(context)s"))
    record = logging.LogRecord("dcp.test", logging.INFO, __file__, 1, "hello", (), None)
    with bind(job=5, batch="abc"):
        handler.handle(record)
    assert handler.lines == ["INFO hello job=5 batch=abc"]


def test_task_fields_from_arguments():
    """A task's lines carry its name, id and what its first argument names."""
    assert task_fields("apps.provisioning.tasks.reconcile_pool", "t-1", [42]) == {
        "task": "reconcile_pool",
        "task_id": "t-1",
        "pool": 42,
    }
    assert task_fields("apps.provisioning.tasks.terminate_hosts", "t-2", [[1, 2, 3]])["hosts"] == "1,2,3"
    fields = task_fields("apps.provisioning.tasks.reconcile_all", "t-3", [])
    assert fields == {"task": "reconcile_all", "task_id": "t-3"}


def test_request_id_round_trip(users, cluster, json_lines):
    """A plain X-Request-ID is kept, echoed and on the request's log lines and audit entry; anything else
    (too long, spaces, control characters) is replaced by a fresh UUID."""
    pool = with_template(PoolFactory(cluster=cluster, max_size=5), TemplateFactory())
    client = client_for(users["developer"])
    answer = client.post(f"/api/v1/pools/{pool.pk}/scale/", {"delta": 1}, format="json", HTTP_X_REQUEST_ID="rid-42.a")
    assert answer.status_code == 202, answer.content
    assert answer["X-Request-ID"] == "rid-42.a"
    scaled = [json.loads(line) for line in json_lines if "scaled from" in line]
    assert [(line["request_id"], line["user"], line["job"], line["pool"]) for line in scaled] == [
        ("rid-42.a", "developer-user", answer.json()["id"], pool.pk)
    ]
    from apps.core.models import AuditEntry

    assert AuditEntry.objects.filter(request_id="rid-42.a").exists()
    for bad in ("x" * 37, "has space", "new\nline", ""):
        echoed = APIClient().get("/healthz", HTTP_X_REQUEST_ID=bad)["X-Request-ID"]
        assert echoed != bad and uuid.UUID(echoed)


def test_lines_name_the_user_once_authenticated(users, cluster, json_lines):
    """A console scale (session) and an API scale (token) each log the user who made them; a refused token's
    request names nobody, and a line logged outside any request carries no user."""
    from django.test import Client

    pool = with_template(PoolFactory(cluster=cluster, max_size=5), TemplateFactory())
    console = Client()
    console.force_login(users["admin"])
    assert console.post(f"/pools/{pool.pk}/scale/", {"delta": 1}).status_code == 302
    assert (
        client_for(users["developer"]).post(f"/api/v1/pools/{pool.pk}/scale/", {"delta": 1}, format="json").status_code
        == 202
    )
    wrong = APIClient()
    wrong.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert wrong.get("/api/v1/pools/").status_code == 401
    logging.getLogger("dcp.test").info("outside any request")
    lines = [json.loads(line) for line in json_lines]
    scaled = [line.get("user") for line in lines if "scaled from" in line["message"]]
    assert scaled == ["admin-user", "developer-user"]
    refused = [line for line in lines if "Unauthorized" in line["message"]]
    assert refused and all("user" not in line for line in refused)
    assert "user" not in lines[-1] and lines[-1]["message"] == "outside any request"


def test_json_logs_of_create_and_scale_hold_no_secret(sysadmin, users, cluster, json_lines, ecs_emulator):
    """Creating a provider account with credentials (checked against the ECS emulator), a wrong secret refused,
    then scaling a pool: no secret or token in any line."""
    admin = client_for(sysadmin)
    body = {"name": "aliyun-logs", "kind": "aliyun", "region": REGION, "endpoint_url": ecs_emulator.url}
    secret = "never-logged-" + uuid.uuid4().hex
    refused = admin.post(
        "/api/v1/providers/",
        {**body, "credentials": {"access_key_id": ACCESS_KEY_ID, "access_key_secret": secret}},
        format="json",
    )
    assert refused.status_code == 400, refused.content
    created = admin.post(
        "/api/v1/providers/",
        {**body, "credentials": {"access_key_id": ACCESS_KEY_ID, "access_key_secret": ACCESS_KEY_SECRET}},
        format="json",
    )
    assert created.status_code == 201, created.content
    pool = with_template(PoolFactory(cluster=cluster, max_size=5), TemplateFactory())
    developer = client_for(users["developer"])
    assert developer.post(f"/api/v1/pools/{pool.pk}/scale/", {"delta": 2}, format="json").status_code == 202
    # A refused request is logged by Django: the token it sent must not be.
    wrong = APIClient()
    wrong.credentials(HTTP_AUTHORIZATION="Token not-a-real-token-" + secret)
    assert wrong.get("/api/v1/pools/").status_code == 401
    text = "\n".join(json_lines)
    assert json_lines and all(json.loads(line) for line in json_lines)
    tokens = [c._credentials["HTTP_AUTHORIZATION"].split()[1] for c in (admin, developer)]
    for value in (secret, ACCESS_KEY_SECRET, *tokens):
        assert value not in text
