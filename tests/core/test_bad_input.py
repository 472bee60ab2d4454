"""Bad input to the REST API: every case gets a 4xx JSON answer naming what to fix, and changes nothing.

Each test sends one kind of wrong request to one endpoint and checks three
things: the status code, that the body is JSON whose message names the field
at fault (or says clearly what is wrong), and that every table a request could
touch holds exactly what it held before. No request may produce a 500.
"""

import json
from contextlib import contextmanager
from decimal import Decimal

import pytest
from django.apps import apps
from django.conf import settings
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from psycopg2.extensions import TRANSACTION_STATUS_INERROR

from apps.accounts.models import Token
from apps.inventory.choices import HostStatus
from apps.inventory.models import Host, PhysicalMachine, ServicePool
from apps.providers.models import CloudAccount
from apps.provisioning.choices import JobKind, JobStatus
from apps.provisioning.models import Job
from tests.factories import (
    ClusterFactory,
    MachineFactory,
    MembershipFactory,
    PhysicalProviderFactory,
    PoolFactory,
    TemplateFactory,
    ready_hosts,
    with_template,
)

pytestmark = pytest.mark.django_db

JSON = "application/json"
APP_LABELS = ("accounts", "core", "inventory", "providers", "provisioning")
# Bookkeeping that authentication itself writes; not a change the request asked for.
IGNORED_COLUMNS = {Token: {"last_used_at"}}


# ---------------------------------------------------------------- helpers


# Written by whatever worker runs meanwhile (an earlier module's live worker), never by a request.
IGNORED_MODELS = {"core.WorkerHeartbeat"}


def db_state() -> dict:
    """Every row of every DCP table, as plain values, ordered by primary key."""
    state = {}
    for model in apps.get_models():
        if model._meta.app_label not in APP_LABELS or model._meta.label in IGNORED_MODELS:
            continue
        ignored = IGNORED_COLUMNS.get(model, set())
        columns = [f.attname for f in model._meta.concrete_fields if f.attname not in ignored]
        state[model._meta.label] = list(model._base_manager.order_by("pk").values(*columns))
    return state


@contextmanager
def unchanged(*bookkeeping: str):
    """Assert that the block leaves the database exactly as it found it, but for the bookkeeping tables named."""
    before = db_state()
    yield
    after = db_state()
    changed = sorted(label for label in before if before[label] != after[label] and label not in bookkeeping)
    assert not changed, f"the request changed {', '.join(changed)}"


def _transaction_failed() -> bool:
    """Whether PostgreSQL refuses further statements in the current transaction."""
    if connection.vendor != "postgresql":
        return False
    return connection.connection.get_transaction_status() == TRANSACTION_STATUS_INERROR


def send(client, method: str, url: str, body=None, content_type: str = JSON, **extra):
    """Send one request inside a savepoint; ``body`` is JSON-encoded unless it is raw bytes.

    The savepoint is rolled back when the request failed with a 500, and when a
    query failed inside the request even though the answer was a 4xx: DRF's
    uniqueness check looks up a value the column type refuses (an ``inet``
    column given "not-an-ip"), PostgreSQL fails that query and DRF treats it
    as "no duplicate". Outside tests every statement commits on its own, so
    that is harmless there; here the test's enclosing transaction must be
    rescued to compare the tables afterwards.
    """
    if body is not None and not isinstance(body, bytes):
        body = json.dumps(body)
    with transaction.atomic():
        if body is None:
            response = getattr(client, method)(url, **extra)
        else:
            response = getattr(client, method)(url, body, content_type=content_type, **extra)
        if response.status_code >= 500 or _transaction_failed():
            transaction.set_rollback(True)
    return response


def error_text(data) -> str:
    """Keys and messages of an error body, flattened into one lower-case string."""
    if isinstance(data, dict):
        return " ".join(f"{key} {error_text(value)}" for key, value in data.items()).lower()
    if isinstance(data, list):
        return " ".join(error_text(item) for item in data)
    return str(data).lower()


def error_messages(data) -> list[str]:
    """Every message of an error body (the strings, not the keys that name fields)."""
    if isinstance(data, dict):
        return [message for value in data.values() for message in error_messages(value)]
    if isinstance(data, list):
        return [message for item in data for message in error_messages(item)]
    return [str(data)]


def assert_sentences(body) -> None:
    """Every message of an error body is a sentence: it does not start with a lower-case letter."""
    lower = [message for message in error_messages(body) if message[:1].islower()]
    assert not lower, f"error messages must start with a capital: {lower}"


def assert_error(response, status: int, *words: str) -> dict:
    """The response has this status, a JSON body whose messages are sentences, mentioning every one of words."""
    content = response.content.decode(errors="replace")[:500]
    assert response.status_code == status, f"expected {status}, got {response.status_code}: {content}"
    assert response["Content-Type"].startswith(JSON), f"not JSON: {response['Content-Type']}: {content}"
    body = json.loads(response.content)
    assert body, "the error body is empty"
    assert_sentences(body)
    text = error_text(body)
    for word in words:
        assert word.lower() in text, f"the message does not mention {word!r}: {body}"
    return body


@pytest.fixture
def api(clients):
    """The role clients, answering 500s as responses instead of raising, so tests can assert on them."""
    for client in clients.values():
        client.raise_request_exception = False
    return clients


@pytest.fixture
def world(cluster, users):
    """A physical provider with three c32 machines in bj-1, a template, and pools on `cluster`.

    ``pool`` (min 1, max 5, desired 2) has the template and two ready hosts;
    ``bare_pool`` has no templates; ``other_pool`` is in a cluster none of the
    role users belong to.
    """
    provider = PhysicalProviderFactory(name="idc-main")
    machines = MachineFactory.create_batch(3, provider=provider)
    template = TemplateFactory(provider=provider, name="tpl-main")
    pool = with_template(PoolFactory(cluster=cluster, name="web", min_size=1, max_size=5, desired_size=2), template)
    hosts = ready_hosts(pool, template, machines[:2])
    bare_pool = PoolFactory(cluster=cluster, name="bare", max_size=5)
    other_cluster = ClusterFactory(name="elsewhere")
    other_pool = with_template(PoolFactory(cluster=other_cluster, name="hidden", max_size=5), template)
    return {
        "provider": provider,
        "machines": machines,
        "template": template,
        "pool": pool,
        "hosts": hosts,
        "bare_pool": bare_pool,
        "other_cluster": other_cluster,
        "other_pool": other_pool,
    }


# ---------------------------------------------------------------- scale


SCALE_CASES = [
    # (id, body: JSON value or raw bytes, a word the message must contain)
    ("empty-body", b"", "delta"),
    ("empty-object", {}, "delta"),
    ("not-json", b"delta=5", "json"),
    ("nan", b'{"delta": NaN}', "json"),
    ("json-list", [{"delta": 1}], "dictionary"),
    ("json-string", "five", "dictionary"),
    ("delta-word", {"delta": "five"}, "delta"),
    ("delta-fraction", {"delta": 1.5}, "delta"),
    ("delta-zero", {"delta": 0}, "delta"),
    ("delta-huge", {"delta": 10**30}, "delta"),
    ("delta-5000-digits", b'{"delta": 1' + b"0" * 5000 + b"}", "json"),
    ("delta-boolean", {"delta": True}, "delta"),
    ("delta-and-desired", {"delta": 1, "desired_size": 3}, "exactly one"),
    ("desired-negative", {"desired_size": -1}, "desired_size"),
    ("desired-unchanged", {"desired_size": 2}, "already"),
    ("past-max", {"delta": 4}, "max_size"),
    ("below-min", {"delta": -2}, "min_size"),
    ("hosts-empty", {"hosts": []}, "hosts"),
    ("hosts-unknown", {"hosts": [999999]}, "hosts"),
    ("hosts-not-ids", {"hosts": ["x"]}, "hosts"),
    ("hosts-repeated", {"hosts": ["HOST0", "HOST0"]}, "hosts"),
    ("dry-run-maybe", {"delta": 1, "dry_run": "maybe"}, "dry_run"),
    ("dry-run-misspelt", {"delta": 2, "dryrun": True}, "dryrun"),
    ("unknown-and-wrong", {"delta": "x", "sizes": 3}, "sizes"),
]


def _encode(body, world) -> tuple[bytes, str]:
    """The scale body as bytes; "HOSTn" stands for the id of the pool's n-th host."""
    if isinstance(body, bytes):
        return body, JSON
    text = json.dumps(body)
    for i, host in enumerate(world["hosts"]):
        text = text.replace(f'"HOST{i}"', str(host.pk))
    return text.encode(), JSON


@pytest.mark.parametrize(("body", "word"), [case[1:] for case in SCALE_CASES], ids=[case[0] for case in SCALE_CASES])
def test_scale_bad_body(api, world, body, word):
    """Each malformed or out-of-bounds scale body is refused with 400 naming the problem; the pool keeps its size."""
    data, content_type = _encode(body, world)
    with unchanged():
        response = send(api["developer"], "post", f"/api/v1/pools/{world['pool'].pk}/scale/", data, content_type)
    assert_error(response, 400, word)


def test_scale_boolean_delta_does_not_scale(api, world):
    """`{"delta": true}` is not read as 1: it is refused and no job is made."""
    with unchanged():
        response = send(api["developer"], "post", f"/api/v1/pools/{world['pool'].pk}/scale/", {"delta": True})
    assert_error(response, 400, "delta", "integer")
    assert ServicePool.objects.get(pk=world["pool"].pk).desired_size == 2


def test_scale_misspelt_field_does_not_scale(api, world):
    """`{"delta": 2, "dryrun": true}` is refused naming dryrun and the fields the scale takes; no host is added."""
    with unchanged():
        response = send(api["developer"], "post", f"/api/v1/pools/{world['pool'].pk}/scale/", {"delta": 2, "dryrun": 1})
    body = assert_error(response, 400, "unknown field", "dry_run", "desired_size")
    assert list(body) == ["dryrun"]


def test_scale_unknown_host_on_an_empty_pool(api, world):
    """Removing a host id from a pool with no hosts says the id is not the pool's, not that the size would be -1."""
    with unchanged():
        response = send(api["developer"], "post", f"/api/v1/pools/{world['bare_pool'].pk}/scale/", {"hosts": [999999]})
    body = assert_error(response, 400, "hosts", "999999", "no live host")
    assert "desired_size" not in error_text(body)


def test_scale_host_of_another_pool(api, world):
    """A host id that exists but belongs to another pool is refused like an unknown one."""
    stranger = Host.objects.create(
        hostname="other-0",
        pool=world["bare_pool"],
        provider=world["provider"],
        template=world["template"],
        status=HostStatus.READY,
    )
    with unchanged():
        response = send(api["developer"], "post", f"/api/v1/pools/{world['pool'].pk}/scale/", {"hosts": [stranger.pk]})
    assert_error(response, 400, "hosts", str(stranger.pk))


def test_scale_past_max_names_max_size(api, world):
    """A delta past max_size says how many more hosts the pool may take."""
    with unchanged():
        response = send(api["developer"], "post", f"/api/v1/pools/{world['pool'].pk}/scale/", {"delta": 10})
    assert_error(response, 400, "delta", "max_size 5", "at most 3")


@pytest.mark.parametrize("pool_ref", ["999999", "99999999999999999999", "abc"])
def test_scale_unknown_pool(api, world, pool_ref):
    """A pool id that does not exist, or is not a number, is answered 404 JSON."""
    with unchanged():
        response = send(api["developer"], "post", f"/api/v1/pools/{pool_ref}/scale/", {"delta": 1})
    assert_error(response, 404, "detail")


def test_scale_pool_of_another_cluster(api, world):
    """A pool in a cluster the user does not belong to is answered 404, as if it did not exist."""
    with unchanged():
        response = send(api["developer"], "post", f"/api/v1/pools/{world['other_pool'].pk}/scale/", {"delta": 1})
    assert_error(response, 404, "detail")


def test_scale_out_pool_without_templates(api, world):
    """Scaling out a pool with no templates is refused with a message about templates."""
    with unchanged():
        response = send(api["developer"], "post", f"/api/v1/pools/{world['bare_pool'].pk}/scale/", {"delta": 1})
    assert_error(response, 400, "templates")


def test_scale_idempotency_key_too_long(api, world):
    """An Idempotency-Key over 255 characters is refused with 400 naming the header."""
    with unchanged():
        response = send(
            api["developer"],
            "post",
            f"/api/v1/pools/{world['pool'].pk}/scale/",
            {"delta": 1},
            HTTP_IDEMPOTENCY_KEY="k" * 256,
        )
    assert_error(response, 400, "idempotency-key", "255")


def test_scale_idempotency_key_reused_for_another_body(api, world):
    """The same Idempotency-Key with a different body is a 409 that says to use a new key; nothing more changes."""
    url = f"/api/v1/pools/{world['pool'].pk}/scale/"
    first = send(api["developer"], "post", url, {"delta": 1}, HTTP_IDEMPOTENCY_KEY="deploy-7")
    assert first.status_code == 202, first.content
    with unchanged():
        second = send(api["developer"], "post", url, {"delta": 2}, HTTP_IDEMPOTENCY_KEY="deploy-7")
    assert_error(second, 409, "idempotency-key", "new key")
    assert ServicePool.objects.get(pk=world["pool"].pk).desired_size == 3


# ---------------------------------------------------------------- pools


def _pool_body(in_cluster, **changes) -> dict:
    """A valid new pool in in_cluster, with changes applied."""
    return {"cluster": in_cluster.pk, "name": "api", "min_size": 0, "max_size": 10, **changes}


@pytest.mark.parametrize(
    ("changes", "word"),
    [
        ({"min_size": 5, "max_size": 2}, "min_size"),
        ({"max_size": 100_001}, "max_size"),
        ({"cluster": 999999}, "cluster"),
        ({"templates": [999999]}, "templates"),
        ({"templates": ["TPL", "TPL"]}, "templates"),
        ({"templates": "1,2"}, "templates"),
        ({"min_size": 1}, "templates"),
        ({"min_size": -1}, "min_size"),
        ({"name": "not a slug!"}, "name"),
    ],
    ids=[
        "min-above-max",
        "max-too-big",
        "unknown-cluster",
        "unknown-template",
        "repeated-template",
        "templates-string",
        "min-without-templates",
        "min-negative",
        "name-not-slug",
    ],
)
def test_pool_create_bad(api, world, cluster, changes, word):
    """Each invalid pool is refused with 400 naming the field; no pool, link or job is made."""
    body = json.loads(json.dumps(_pool_body(cluster, **changes)).replace('"TPL"', str(world["template"].pk)))
    with unchanged():
        response = send(api["admin"], "post", "/api/v1/pools/", body)
    assert_error(response, 400, word)


def test_pool_create_in_hidden_cluster_looks_like_missing(api, world):
    """A cluster the user cannot see is answered exactly like a cluster id that does not exist."""
    hidden = world["other_cluster"].pk
    missing = hidden + 1000
    with unchanged():
        seen = send(api["admin"], "post", "/api/v1/pools/", _pool_body(world["other_cluster"]))
        unseen = send(
            api["admin"], "post", "/api/v1/pools/", {**_pool_body(world["other_cluster"]), "cluster": missing}
        )
    body_seen = assert_error(seen, 400, "cluster")
    body_unseen = assert_error(unseen, 400, "cluster")
    assert json.dumps(body_seen).replace(str(hidden), "ID") == json.dumps(body_unseen).replace(str(missing), "ID")


def test_pool_lower_max_below_desired(api, world):
    """Lowering max_size under desired_size is refused with 400 saying to scale in first."""
    with unchanged():
        response = send(api["admin"], "patch", f"/api/v1/pools/{world['pool'].pk}/", {"max_size": 1})
    assert_error(response, 400, "max_size", "scale in first")


def test_pool_raise_min_above_desired(api, world):
    """Raising min_size above desired_size is refused with 400 saying to scale out first."""
    with unchanged():
        response = send(api["admin"], "patch", f"/api/v1/pools/{world['pool'].pk}/", {"min_size": 4})
    assert_error(response, 400, "min_size", "scale out first")


def test_pool_move_to_another_cluster(api, world, users):
    """A pool cannot move to another cluster, even one the user administers too."""
    second = ClusterFactory(name="second")
    MembershipFactory(cluster=second, user=users["admin"], role="admin")
    with unchanged():
        response = send(api["admin"], "patch", f"/api/v1/pools/{world['pool'].pk}/", {"cluster": second.pk})
    assert_error(response, 400, "cluster", "cannot move")


def test_pool_move_to_hidden_cluster(api, world):
    """Moving a pool to a cluster the user cannot see is refused like a cluster that does not exist."""
    with unchanged():
        response = send(
            api["admin"], "patch", f"/api/v1/pools/{world['pool'].pk}/", {"cluster": world["other_cluster"].pk}
        )
    assert_error(response, 400, "cluster", "does not exist")


def test_pool_delete_with_hosts(api, world):
    """Deleting a pool that still has hosts is a 409 that names what holds it; pool, links and hosts stay."""
    with unchanged():
        response = send(api["admin"], "delete", f"/api/v1/pools/{world['pool'].pk}/")
    assert_error(response, 409, "cannot delete", "host")


def test_pool_put_back_what_get_answered(api, world):
    """A client that PUTs back the pool it read, read-only fields and all, changes what it changed and nothing else."""
    url = f"/api/v1/pools/{world['pool'].pk}/"
    read = send(api["admin"], "get", url).json()
    response = send(api["admin"], "put", url, {**read, "description": "front end", "desired_size": 4, "size": 9})
    assert response.status_code == 200, response.content
    pool = ServicePool.objects.get(pk=world["pool"].pk)
    assert (pool.description, pool.desired_size) == ("front end", 2)


@pytest.mark.parametrize(
    ("method", "url", "body", "field"),
    [
        ("patch", "/api/v1/pools/POOL/", {"max_size": 6, "maxsize": 7}, "maxsize"),
        ("post", "/api/v1/clusters/", {"name": "new-one", "owner": "me"}, "owner"),
        ("patch", "/api/v1/physical-machines/MACHINE/", {"monthly_costs": "5"}, "monthly_costs"),
        ("post", "/api/v1/hosts/HOST/initialize/", {"forget_hostkeys": True}, "forget_hostkeys"),
        ("post", "/api/v1/auth/token/", {"username": "guest-user", "password": "x", "otp": "1"}, "otp"),
    ],
    ids=["pool", "cluster", "machine", "rerun", "token"],
)
def test_unknown_field_in_a_write(api, world, method, url, body, field):
    """Every write refuses a field its serializer does not have, naming it; nothing is written."""
    ids = {"POOL": world["pool"].pk, "MACHINE": world["machines"][2].pk, "HOST": world["hosts"][0].pk}
    for placeholder, pk in ids.items():
        url = url.replace(placeholder, str(pk))
    role = "anonymous" if "token" in url else "sysadmin"
    with unchanged():
        response = send(api[role], method, url, body)
    assert_error(response, 400, field, "unknown field")


# ---------------------------------------------------------------- nesting


DEEP = b"[" * 1000 + b"]" * 1000


@pytest.mark.parametrize(
    ("role", "method", "url", "body"),
    [
        ("anonymous", "post", "/api/v1/auth/token/", DEEP),
        ("sysadmin", "patch", "/api/v1/pools/POOL/", b'{"description": ' + DEEP + b"}"),
        ("sysadmin", "patch", "/api/v1/providers/PROVIDER/", b'{"options": {"a": ' + DEEP + b"}}"),
        ("sysadmin", "post", "/api/v1/physical-machines/import/", DEEP),
        ("developer", "post", "/api/v1/pools/POOL/scale/", b'{"hosts": ' + b"[" * 33 + b"]" * 33 + b"}"),
    ],
    ids=["token", "pool", "provider", "import", "scale-33-levels"],
)
def test_json_nested_too_deep(api, world, role, method, url, body):
    """JSON nested past 32 levels is a 400 saying so, before it is parsed (1,000 levels was a RecursionError 500)."""
    url = url.replace("POOL", str(world["pool"].pk)).replace("PROVIDER", str(world["provider"].pk))
    with unchanged():
        response = send(api[role], method, url, body)
    assert_error(response, 400, "32 levels")


def test_json_nested_within_the_limit_and_brackets_in_strings(api, world):
    """32 levels pass; brackets inside strings, escaped quotes included, do not count as nesting."""
    body = b'{"options": {"note": "' + b"[{" * 200 + b'\\" [[["' + b', "deep": ' + b"[" * 30 + b"]" * 30 + b"}}"
    response = send(api["sysadmin"], "patch", f"/api/v1/providers/{world['provider'].pk}/", body)
    assert response.status_code == 200, response.content
    assert CloudAccount.objects.get(pk=world["provider"].pk).options["deep"] == json.loads(b"[" * 30 + b"]" * 30)


# ---------------------------------------------------------------- providers


def _provider_body(**changes) -> dict:
    """A valid new physical provider account, with changes applied."""
    return {"name": "idc-new", "kind": "physical", "region": "bj", **changes}


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"kind": "gcp"}, ("kind",)),
        ({"kind": "libcloud"}, ("credentials", "missing for libcloud", "driver", "key")),
        ({"kind": "aws"}, ("credentials", "missing for aws", "access_key_id", "secret_access_key")),
        ({"credentials": "secret"}, ("credentials", "object")),
        ({"credentials": ["a", "b"]}, ("credentials", "object")),
        ({"credentials": {"access_key_id": "x"}}, ("credentials", "access_key_id", "not known for physical")),
        ({"options": ["a"]}, ("options", "object")),
        ({"options": "a=1"}, ("options", "object")),
        ({"endpoint_url": "not a url"}, ("endpoint_url",)),
        ({"options": {"note": "a\u0000b"}}, ("options",)),
    ],
    ids=[
        "unknown-kind",
        "libcloud-without-credentials",
        "cloud-without-credentials",
        "credentials-string",
        "credentials-list",
        "credentials-unknown-keys",
        "options-list",
        "options-string",
        "endpoint-not-url",
        "options-nul-character",
    ],
)
def test_provider_create_bad(api, world, changes, words):
    """Each invalid provider account is refused with 400 naming the field; no account is made."""
    with unchanged():
        response = send(api["sysadmin"], "post", "/api/v1/providers/", _provider_body(**changes))
    assert_error(response, 400, *words)


def test_provider_change_kind(api, world):
    """The kind of an existing provider account cannot change: 400 saying to create a new account."""
    with unchanged():
        response = send(api["sysadmin"], "patch", f"/api/v1/providers/{world['provider'].pk}/", {"kind": "aws"})
    assert_error(response, 400, "kind", "cannot change")


# ---------------------------------------------------------------- templates


def _template_body(world, **changes) -> dict:
    """A valid new template on the shared provider, with changes applied."""
    return {"name": "tpl-new", "provider": world["provider"].pk, "instance_type": "c32", **changes}


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"provider": 999999}, ("provider",)),
        ({"instance_type": "c96"}, ("instance_type", "c96", "known: c32")),
        ({"zone": "mars-1"}, ("zone", "mars-1", "known: bj-1")),
        ({"init_method": "chef"}, ("init_method", "chef", "ansible")),
        ({"init_method": "ansible"}, ("init_vars", "dcp_ntp_servers is required")),
        ({"security_groups": "default"}, ("security_groups",)),
        ({"security_groups": [1, 2]}, ("security_groups",)),
        ({"security_groups": [["web"]]}, ("security_groups",)),
        ({"max_hosts": -1}, ("max_hosts",)),
        ({"cpu": "lots"}, ("cpu",)),
        ({"security_groups": ["web\u0000"]}, ("security_groups",)),
        ({"hourly_price": "-0.01"}, ("hourly_price", "greater than or equal to 0")),
    ],
    ids=[
        "unknown-provider",
        "unknown-instance-type",
        "unknown-zone",
        "init-method-unknown",
        "init-ansible-without-ntp-servers",
        "security-groups-string",
        "security-groups-numbers",
        "security-groups-nested",
        "max-hosts-negative",
        "cpu-word",
        "security-group-nul-character",
        "price-negative",
    ],
)
def test_template_create_bad(api, world, changes, words):
    """Each invalid template is refused with 400 naming the field (and the known values); none is made."""
    with unchanged():
        response = send(api["sysadmin"], "post", "/api/v1/templates/", _template_body(world, **changes))
    assert_error(response, 400, *words)


# ---------------------------------------------------------------- physical machines


def _machine_body(world, **changes) -> dict:
    """A valid new physical machine, with changes applied."""
    return {
        "provider": world["provider"].pk,
        "hostname": "pm-new.idc.test",
        "ip": "10.99.0.1",
        "cpu": 32,
        "memory_gb": "64",
        "machine_class": "c32",
        "idc": "bj-1",
        **changes,
    }


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"ip": "10.0.0.300"}, ("ip",)),
        ({"ip": "not-an-ip"}, ("ip",)),
        ({"cpu": 0}, ("cpu",)),
        ({"memory_gb": "x"}, ("memory_gb",)),
        ({"state": "allocated"}, ("state", "scaling")),
        ({"provider": "NON-PHYSICAL"}, ("provider",)),
        ({"monthly_cost": "-500"}, ("monthly_cost", "greater than or equal to 0")),
    ],
    ids=[
        "ip-out-of-range",
        "ip-word",
        "cpu-zero",
        "memory-word",
        "state-allocated-by-hand",
        "provider-not-physical",
        "cost-negative",
    ],
)
def test_machine_create_bad(api, world, changes, words):
    """Each invalid physical machine is refused with 400 naming the field; none is made."""
    aws = CloudAccount.objects.create(name="aws-legacy", kind="aws", region="us-east-1")
    substitutes = {"NON-PHYSICAL": aws.pk}
    changes = {
        key: substitutes.get(value, value) if isinstance(value, str) else value for key, value in changes.items()
    }
    with unchanged():
        response = send(api["sysadmin"], "post", "/api/v1/physical-machines/", _machine_body(world, **changes))
    assert_error(response, 400, *words)


def test_machine_set_allocated_by_hand_on_update(api, world):
    """A free machine cannot be marked allocated by an update either."""
    machine = world["machines"][2]
    with unchanged():
        response = send(api["sysadmin"], "patch", f"/api/v1/physical-machines/{machine.pk}/", {"state": "allocated"})
    assert_error(response, 400, "state", "scaling")


def test_machine_delete_allocated(api, world):
    """Deleting an allocated machine is a conflict with its state (409) saying to scale the host in first."""
    machine = world["machines"][0]
    with unchanged():
        response = send(api["sysadmin"], "delete", f"/api/v1/physical-machines/{machine.pk}/")
    assert_error(response, 409, "state", "scale that host in")


IMPORT_URL = "/api/v1/physical-machines/import/"


def _row(world, n: int, **changes) -> dict:
    """Import row n: a valid machine with its own hostname and IP, with changes applied."""
    return {**_machine_body(world, hostname=f"imp-{n}.idc.test", ip=f"10.98.0.{n}"), **changes}


@pytest.mark.parametrize(
    ("body", "content_type", "words"),
    [
        ([], JSON, ("non-empty",)),
        ({"hostname": "a"}, JSON, ("list",)),
        ("machines", JSON, ("list",)),
        ([1, 2], JSON, ("object",)),
        ([["pm1", "10.0.0.1"]], JSON, ("object",)),
        (b"\r\n", "text/csv", ("header",)),
        (b"hostname,ip\npm1,10.0.0.1,extra\n", "text/csv", ("more cells than the header",)),
        (b"hostname,ip\n\xff\xfepm1,10.0.0.1\n", "text/csv", ("utf-8",)),
        (b"hostname,ip\n", "text/csv", ("non-empty",)),
        (b"hostname,ip\npm\r1,10.0.0.1\n", "text/csv", ("csv", "malformed")),
        (b"host\rname,ip\npm1,10.0.0.1\n", "text/csv", ("csv", "malformed")),
    ],
    ids=[
        "empty-list",
        "object-not-list",
        "string-not-list",
        "list-of-numbers",
        "list-of-lists",
        "csv-no-header",
        "csv-extra-cells",
        "csv-not-utf8",
        "csv-header-only",
        "csv-carriage-return-in-row",
        "csv-carriage-return-in-header",
    ],
)
def test_import_bad_shape(api, world, body, content_type, words):
    """An import body of the wrong shape is refused with 400 saying what shape is wanted; nothing is created."""
    with unchanged():
        response = send(api["sysadmin"], "post", IMPORT_URL, body, content_type)
    assert_error(response, 400, *words)


def test_import_one_bad_row(api, world):
    """One bad row among good ones: 400 naming the row and field, and none of the rows is created."""
    rows = [_row(world, 1), _row(world, 2, cpu=0), _row(world, 3)]
    with unchanged():
        response = send(api["sysadmin"], "post", IMPORT_URL, rows)
    body = assert_error(response, 400, "rows", "cpu")
    assert list(body["rows"]) == ["2"]


def test_import_negative_cost(api, world):
    """A negative monthly cost in an import is refused naming the row; nothing is created."""
    rows = [_row(world, 1), _row(world, 2, monthly_cost="-1")]
    with unchanged():
        response = send(api["sysadmin"], "post", IMPORT_URL, rows)
    body = assert_error(response, 400, "rows", "monthly_cost")
    assert list(body["rows"]) == ["2"]


def test_import_unknown_column(api, world):
    """A CSV column that is no field of a machine is refused naming it, not dropped; nothing is created."""
    header = "provider,hostname,ip,cpu,memory_gb,machine_class,idc,rakc"
    csv = f"{header}\n{world['provider'].pk},i1,10.98.0.1,32,64,c32,bj-1,r1\n"
    with unchanged():
        response = send(api["sysadmin"], "post", IMPORT_URL, csv.encode(), "text/csv")
    assert_error(response, 400, "rows", "rakc", "unknown field")


def test_import_one_bad_csv_row(api, world):
    """The same through CSV: the bad row is named and nothing is created."""
    pk = world["provider"].pk
    csv = (
        "provider,hostname,ip,cpu,memory_gb,machine_class,idc\n"
        f"{pk},imp-1.idc.test,10.98.0.1,32,64,c32,bj-1\n"
        f"{pk},imp-2.idc.test,10.98.0.999,32,64,c32,bj-1\n"
    )
    with unchanged():
        response = send(api["sysadmin"], "post", IMPORT_URL, csv.encode(), "text/csv")
    body = assert_error(response, 400, "rows", "ip")
    assert list(body["rows"]) == ["2"]


def test_import_same_hostname_twice(api, world):
    """The same hostname twice in one import is refused with 400 naming it; nothing is created."""
    rows = [_row(world, 1), _row(world, 2, hostname="imp-1.idc.test")]
    with unchanged():
        response = send(api["sysadmin"], "post", IMPORT_URL, rows)
    assert_error(response, 400, "hostname", "imp-1.idc.test")


def test_import_same_ip_twice(api, world):
    """The same IP twice in one import is refused with 400 naming the ip (not a vague conflict); nothing is created."""
    rows = [_row(world, 1), _row(world, 2, ip="10.98.0.1")]
    with unchanged():
        response = send(api["sysadmin"], "post", IMPORT_URL, rows)
    assert_error(response, 400, "ip", "10.98.0.1")


@pytest.mark.parametrize("column", ["hostname", "ip"])
def test_import_value_already_in_the_inventory(api, world, column):
    """A hostname or IP a registered machine has is refused naming the row, the field and the value."""
    existing = world["machines"][2]
    rows = [_row(world, 1), _row(world, 2), _row(world, 3, **{column: getattr(existing, column)})]
    with unchanged():
        response = send(api["sysadmin"], "post", IMPORT_URL, rows)
    body = assert_error(response, 400, "rows", column, str(getattr(existing, column)), "already exists")
    assert list(body["rows"]) == ["3"] and list(body["rows"]["3"]) == [column]


def test_import_queries_do_not_grow_with_its_rows(api, world):
    """Importing 40 machines runs as many queries as importing 2: rows are checked and written together."""

    def queries_for(count: int, first: int) -> int:
        rows = [_row(world, n) for n in range(first, first + count)]
        with CaptureQueriesContext(connection) as queries:
            response = send(api["sysadmin"], "post", IMPORT_URL, rows)
        assert response.status_code == 201, response.content
        assert len(response.json()) == count
        return len(queries.captured_queries)

    queries_for(1, 90)  # the first request also fills caches (content types)
    assert queries_for(40, 10) == queries_for(2, 60)
    assert PhysicalMachine.objects.filter(hostname__startswith="imp-").count() == 43


@pytest.mark.parametrize(
    "hostnames",
    [[["a"], ["a"]], [{"h": 1}, {"h": 1}], [1, 1, "a", "a"]],
    ids=["lists", "objects", "mixed-types"],
)
def test_import_repeated_odd_hostnames(api, world, hostnames):
    """Repeated hostnames that are not strings are refused with 400 naming hostname, not a 500."""
    rows = [_row(world, i, hostname=name) for i, name in enumerate(hostnames, start=1)]
    with unchanged():
        response = send(api["sysadmin"], "post", IMPORT_URL, rows)
    assert_error(response, 400, "hostname")


# ---------------------------------------------------------------- members


def test_member_unknown_username(api, world, cluster):
    """Adding a username that does not exist is refused with 400 naming it."""
    with unchanged():
        response = send(
            api["admin"], "post", f"/api/v1/clusters/{cluster.pk}/members/", {"username": "nobody", "role": "guest"}
        )
    assert_error(response, 400, "username", "nobody")


def test_member_unknown_role(api, world, cluster):
    """Role "owner" is not a role: 400 naming role."""
    with unchanged():
        response = send(
            api["admin"], "post", f"/api/v1/clusters/{cluster.pk}/members/", {"username": "outsider", "role": "owner"}
        )
    assert_error(response, 400, "role", "owner")


def test_member_added_twice(api, world, cluster):
    """Adding someone who is already a member is a 409 naming them."""
    with unchanged():
        response = send(
            api["admin"],
            "post",
            f"/api/v1/clusters/{cluster.pk}/members/",
            {"username": "guest-user", "role": "developer"},
        )
    assert_error(response, 409, "guest-user", "already a member")


def test_member_change_username(api, world, cluster):
    """A membership's username cannot change: 400 saying to remove it and add a new one."""
    with unchanged():
        response = send(
            api["admin"], "patch", f"/api/v1/clusters/{cluster.pk}/members/guest-user/", {"username": "outsider"}
        )
    assert_error(response, 400, "username", "remove it")


# ---------------------------------------------------------------- users


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"username": "newbie", "password": "short"}, ("password", "too short")),
        ({"username": "newbie", "password": "password123"}, ("password", "common")),
        ({"username": "newbie"}, ("password",)),
        ({"username": "newbie", "password": ""}, ("password",)),
        ({"username": "new bie!", "password": "correct horse battery"}, ("username",)),
        ({"username": "newbie", "password": "correct horse battery", "email": "nope"}, ("email",)),
    ],
    ids=["too-short", "common", "no-password", "blank-password", "bad-username", "bad-email"],
)
def test_user_create_bad(api, world, body, words):
    """Each invalid new user is refused with 400 naming the field; no user is made."""
    with unchanged():
        response = send(api["sysadmin"], "post", "/api/v1/users/", body)
    assert_error(response, 400, *words)


def test_user_update_weak_password(api, world, users):
    """Changing a password to a weak one is refused too."""
    with unchanged():
        response = send(api["sysadmin"], "patch", f"/api/v1/users/{users['guest'].pk}/", {"password": "short"})
    assert_error(response, 400, "password", "too short")


# ---------------------------------------------------------------- jobs


@pytest.mark.parametrize("ended", JobStatus.TERMINAL)
def test_cancel_ended_job(api, world, ended):
    """Cancelling a job that already ended is a 409 that says so; job and pool stay as they are."""
    job = Job.objects.create(
        pool=world["pool"],
        kind=JobKind.SCALE_OUT,
        status=ended,
        delta=1,
        desired_before=1,
        desired_after=2,
    )
    with unchanged():
        response = send(api["developer"], "post", f"/api/v1/jobs/{job.pk}/cancel/")
    assert_error(response, 409, "already ended", ended)


def test_cancel_with_a_body_is_refused_naming_its_fields(api, world):
    """Cancel takes no body: one with a field (a reason, say) is a 400 naming it, and the job runs on."""
    job = Job.objects.create(pool=world["pool"], kind=JobKind.SCALE_OUT, delta=1, desired_before=2, desired_after=3)
    with unchanged():
        response = send(api["developer"], "post", f"/api/v1/jobs/{job.pk}/cancel/", {"reason": "wrong pool"})
    assert_error(response, 400, "reason", "unknown field", "no fields")
    assert Job.objects.get(pk=job.pk).status == JobStatus.PENDING
    assert send(api["developer"], "post", f"/api/v1/jobs/{job.pk}/cancel/", {}).status_code == 200


def test_cancel_unknown_job(api, world):
    """Cancelling a job id that does not exist is a 404 JSON."""
    with unchanged():
        response = send(api["developer"], "post", "/api/v1/jobs/99999999999999999999/cancel/")
    assert_error(response, 404, "detail")


# ---------------------------------------------------------------- token


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({}, ("username", "password", "required")),
        ({"username": "guest-user"}, ("password", "required")),
        ({"password": "correct horse battery"}, ("username", "required")),
        ({"username": "guest-user", "password": "wrong horse battery"}, ("wrong username or password",)),
        ({"username": "nobody", "password": "correct horse battery"}, ("wrong username or password",)),
        ([{"username": "guest-user"}], ("dictionary",)),
    ],
    ids=["nothing", "no-password", "no-username", "wrong-password", "unknown-user", "list"],
)
def test_token_bad(api, world, body, words):
    """A token request with missing fields or wrong credentials is a 400 and issues no token."""
    # A checked password counts against the sign-in limits and a refusal is audited; nothing else may change.
    with unchanged("accounts.Lockout", "core.AuditEntry"):
        response = send(api["anonymous"], "post", "/api/v1/auth/token/", body)
    assert_error(response, 400, *words)


# ---------------------------------------------------------------- query strings


LIST_PATHS = ["pools", "hosts", "jobs", "physical-machines", "providers", "audit", "orphans"]


@pytest.mark.parametrize("path", LIST_PATHS)
@pytest.mark.parametrize(
    ("query", "word"),
    [
        ("limit=abc", "limit"),
        ("limit=-1", "limit"),
        ("limit=0", "limit"),
        ("limit=1.5", "limit"),
        ("limit=1001", "limit"),
        ("limit=1000000000", "limit"),
        ("offset=zzz", "offset"),
        ("offset=-5", "offset"),
        ("offset=99999999999999999999", "offset"),
        ("ordering=zzz", "ordering"),
        ("ordering=-", "ordering"),
        ("ordering=id,zzz", "zzz"),
    ],
)
def test_list_bad_paging(api, world, path, query, word):
    """A limit, offset or ordering that makes no sense is a 400 naming it, not a page the client did not ask for."""
    with unchanged():
        response = send(api["sysadmin"], "get", f"/api/v1/{path}/?{query}")
    assert_error(response, 400, word)


@pytest.mark.parametrize("path", LIST_PATHS)
@pytest.mark.parametrize("query", ["limit=1000", "limit=1&offset=0", "offset=5", "limit=", "ordering=id", "ordering="])
def test_list_good_paging(api, world, path, query):
    """Limits from 1 to 1000, any offset from 0, known orderings and empty values answer a normal page."""
    response = send(api["sysadmin"], "get", f"/api/v1/{path}/?{query}")
    assert response.status_code == 200, response.content
    assert set(response.json()) == {"count", "next", "previous", "results"}


def test_ordering_by_the_names_a_list_shows(api, world):
    """?ordering= takes the field names the client reads (cluster, not pool__cluster_id), - for descending."""
    hosts = sorted(world["hosts"], key=lambda host: host.hostname, reverse=True)
    response = send(api["developer"], "get", "/api/v1/hosts/?ordering=-hostname")
    assert [host["id"] for host in response.json()["results"]] == [host.pk for host in hosts]
    response = send(api["developer"], "get", "/api/v1/pools/?ordering=cluster,-name")
    assert [pool["name"] for pool in response.json()["results"]] == ["web", "bare"]


@pytest.mark.parametrize(
    "url",
    [
        "/api/v1/pools/?ordering=templates",
        "/api/v1/providers/?ordering=credentials",
        "/api/v1/jobs/?ordering=progress",
        "/api/v1/audit/?ordering=object_type",
    ],
)
def test_ordering_by_a_field_no_query_can_sort(api, world, url):
    """A field computed in Python, write-only or holding many values cannot order a list: 400 listing what can."""
    response = send(api["sysadmin"], "get", url)
    assert_error(response, 400, "ordering", "cannot order by", "id")


HUGE = "99999999999999999999"


@pytest.mark.parametrize(
    "url",
    [
        f"/api/v1/jobs/?pool={HUGE}",
        f"/api/v1/jobs/?cluster={HUGE}",
        f"/api/v1/hosts/?pool={HUGE}",
        f"/api/v1/hosts/?job={HUGE}",
        f"/api/v1/hosts/?cluster={HUGE}",
        f"/api/v1/pools/?cluster={HUGE}",
        f"/api/v1/init-runs/?host={HUGE}",
        f"/api/v1/init-runs/?pool={HUGE}",
        f"/api/v1/audit/?user={HUGE}",
        f"/api/v1/templates/?provider=-{HUGE}",
    ],
)
def test_list_filter_id_past_bigint_never_reaches_the_database(api, world, url):
    """An id no column can hold answers an empty page without being sent to the database.

    PostgreSQL compares such a number as numeric and finds nothing; SQLite
    (the embedded default) cannot even take it as a parameter, which was a
    500. Whatever the database, no query carries the number.
    """
    with CaptureQueriesContext(connection) as queries:
        response = send(api["sysadmin"], "get", url)
    assert response.status_code == 200, response.content
    assert response.json()["count"] == 0
    sent = [query["sql"] for query in queries.captured_queries if HUGE in query["sql"]]
    assert not sent, f"the database was asked about {HUGE}: {sent}"


def test_list_filter_id_fraction(api, world):
    """An id filter takes whole numbers only: pool=7.5 is a 400, not the hosts of pool 7."""
    response = send(api["developer"], "get", f"/api/v1/hosts/?pool={world['pool'].pk}.5")
    assert_error(response, 400, "pool", "whole number")


@pytest.mark.parametrize(
    ("since", "equal_utc"),
    [
        ("2026-01-01T00:00:00%2B16:00", "2025-12-31T08:00:00Z"),
        ("2026-01-01T00:00:00-23:59", "2026-01-01T23:59:00Z"),
        ("2026-01-01T00:00:00%2B15:59", "2025-12-31T08:01:00Z"),
    ],
)
def test_audit_since_with_any_offset_python_takes(api, world, sysadmin, since, equal_utc):
    """Offsets PostgreSQL refuses (past ±15:59) are read as the instant they name: the same answer as in UTC."""
    from apps.core.models import AuditEntry

    AuditEntry.objects.update(time="2025-12-31T12:00:00Z")
    response = send(api["sysadmin"], "get", f"/api/v1/audit/?since={since}")
    assert response.status_code == 200, response.content
    assert response.json() == send(api["sysadmin"], "get", f"/api/v1/audit/?since={equal_utc}").json()


@pytest.mark.parametrize(
    "since",
    ["0001-01-01T00:00:00%2B01:00", "9999-12-31T23:00:00-05:00", "2026-01-01T00:00:00%2B24:00", "2026-13-01"],
)
def test_audit_since_out_of_range(api, world, since):
    """A time that leaves years 1..9999 in UTC, or is no time at all, is a 400 naming since."""
    response = send(api["sysadmin"], "get", f"/api/v1/audit/?since={since}")
    assert_error(response, 400, "since")


@pytest.mark.parametrize(
    ("url", "word"),
    [
        ("/api/v1/hosts/?pool=abc", "pool"),
        ("/api/v1/jobs/?pool=abc", "pool"),
        ("/api/v1/hosts/?status=bogus", "status"),
        ("/api/v1/jobs/?status=bogus", "status"),
        ("/api/v1/physical-machines/?state=bogus", "state"),
        ("/api/v1/hosts/?cluster=abc", "cluster"),
        ("/api/v1/audit/?since=yesterday", "since"),
        ("/api/v1/hosts/?hostname=%00", "hostname"),
        # An id is digits: Django would strip a zero fraction, the schema calls it a number, not an integer.
        ("/api/v1/ssh-keys/?pool=2074394580035535.0", "pool"),
        ("/api/v1/hosts/?pool=1.0", "pool"),
        ("/api/v1/costs/?pool=1.0", "pool"),
        ("/api/v1/costs/?cluster=1e3", "cluster"),
    ],
)
def test_list_bad_filter(api, world, url, word):
    """A filter value of the wrong type is a 400 naming the filter, never a 500."""
    with unchanged():
        response = send(api["developer"], "get", url)
    assert_error(response, 400, word)


@pytest.mark.parametrize(
    ("url", "word"),
    [
        ("/api/v1/orphans/?state=bogus", "state"),
        ("/api/v1/orphans/?provider=abc", "provider"),
    ],
)
def test_orphan_list_bad_filter(api, world, url, word):
    """The orphan list (system administrators only) answers a filter value of the wrong type with a 400 too."""
    with unchanged():
        response = send(api["sysadmin"], "get", url)
    assert_error(response, 400, word)


def test_list_filter_out_of_range_is_empty(api, world):
    """A numeric filter too large for the database gives an empty page, not a 500."""
    response = send(api["developer"], "get", "/api/v1/hosts/?cluster=99999999999999999999")
    assert response.status_code == 200, response.content
    assert response.json()["count"] == 0


# ---------------------------------------------------------------- transport


def test_body_over_the_limit(api, world):
    """A body over DATA_UPLOAD_MAX_MEMORY_SIZE is refused with 413 JSON before anything reads it."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    prefix, suffix = b'{"delta": 1, "pad": "', b'"}'
    body = prefix + b"x" * (limit + 1 - len(prefix) - len(suffix)) + suffix
    assert len(body) == limit + 1
    with unchanged():
        response = send(api["developer"], "post", f"/api/v1/pools/{world['pool'].pk}/scale/", body)
    assert_error(response, 413, "limit", str(limit))


def test_content_length_not_a_number(api, world):
    """A Content-Length header that is not a number is a 400 JSON."""
    with unchanged():
        response = send(
            api["developer"], "post", f"/api/v1/pools/{world['pool'].pk}/scale/", {"delta": 1}, CONTENT_LENGTH="abc"
        )
    assert_error(response, 400, "content-length")


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"])
def test_wrong_content_type(api, world, content_type):
    """A body that is not JSON by its Content-Type is a 415 naming the media type."""
    with unchanged():
        response = send(api["developer"], "post", f"/api/v1/pools/{world['pool'].pk}/scale/", b"delta=1", content_type)
    assert_error(response, 415, content_type)


def test_csv_only_where_imports_take_it(api, world):
    """CSV is accepted by the import only; elsewhere it is a 415."""
    with unchanged():
        response = send(api["sysadmin"], "post", "/api/v1/providers/", b"name,kind\nx,physical\n", "text/csv")
    assert_error(response, 415, "text/csv")


def test_machine_unchanged_after_refused_update(api, world):
    """A refused update leaves every field of the machine as it was (a partial save would show here)."""
    machine = world["machines"][2]
    with unchanged():
        response = send(
            api["sysadmin"],
            "patch",
            f"/api/v1/physical-machines/{machine.pk}/",
            {"hostname": "renamed.idc.test", "cpu": 0},
        )
    assert_error(response, 400, "cpu")
    machine.refresh_from_db()
    assert machine.hostname != "renamed.idc.test"
    assert PhysicalMachine.objects.get(pk=machine.pk).memory_gb == Decimal("64")
