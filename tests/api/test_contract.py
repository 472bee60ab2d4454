"""The schema is the truth: real answers validate against /api/schema/, and what it forbids is refused.

Each test sends one request through the Django test client and checks the
answer with schemathesis' own response validation against the generated
schema (status documented, headers and body of the documented shape), plus
what the user sees (status, message, nothing changed). These are the
findings of the schemathesis run (tests/api/test_schemathesis.py), each
pinned down quickly here.
"""

import json

import pytest
from django.utils import timezone

from apps.accounts.models import User
from apps.core import audit
from apps.core.models import AuditAction
from apps.inventory.models import Cluster, PhysicalMachine, ServicePool
from apps.provisioning import services
from apps.provisioning.models import OrphanInstance
from tests.api.contract import assert_conforms, load_schema
from tests.factories import (
    MachineFactory,
    PhysicalProviderFactory,
    PoolFactory,
    TemplateFactory,
    UserFactory,
    ready_hosts,
    with_template,
)

pytestmark = pytest.mark.django_db
JSON = "application/json"


@pytest.fixture(scope="module")
def schema():
    """The generated OpenAPI schema, loaded by schemathesis."""
    return load_schema()


@pytest.fixture
def world(cluster):
    """A pool in `cluster` with two ready hosts on physical machines, and a third machine free."""
    template = TemplateFactory(name="tpl-main", init_method="ansible")
    machines = MachineFactory.create_batch(3, provider=template.provider)
    pool = with_template(PoolFactory(cluster=cluster, name="web", desired_size=2), template)
    hosts = ready_hosts(pool, template, machines[:2])
    return {"template": template, "provider": template.provider, "machines": machines, "pool": pool, "hosts": hosts}


def send(client, method: str, url: str, body=None, **extra):
    """One request with a JSON body (bytes are sent as they are)."""
    if body is not None and not isinstance(body, bytes):
        body = json.dumps(body)
    return getattr(client, method)(url, body, content_type=extra.pop("content_type", JSON), **extra)


# ---------------------------------------------------------------- nullable fields


def test_job_of_a_deleted_user_says_null(schema, clients, world, sysadmin):
    """requested_by is null once its user is deleted, and an event of no host has a null hostname: both documented."""
    gone = UserFactory(username="gone")
    job = services.scale(world["pool"].pk, gone, services.ScaleRequest(delta=1)).job
    gone.delete()
    answer = clients["sysadmin"].get(f"/api/v1/jobs/{job.pk}/")
    assert answer.status_code == 200
    assert answer.json()["requested_by"] is None
    assert answer.json()["events"][0]["hostname"] is None
    assert_conforms(schema, "get", "/api/v1/jobs/{id}/", answer)
    assert_conforms(schema, "get", "/api/v1/jobs/", clients["sysadmin"].get("/api/v1/jobs/"))


def test_orphan_without_host_says_null(schema, clients):
    """An orphan no host ever claimed has a null hostname; its tags are an object of strings."""
    now = timezone.now()
    orphan = OrphanInstance.objects.create(
        provider=PhysicalProviderFactory(), instance_id="i-1", tags={"dcp-pool": "7"}, first_seen=now, last_seen=now
    )
    answer = clients["sysadmin"].get(f"/api/v1/orphans/{orphan.pk}/")
    assert answer.json()["hostname"] is None
    assert_conforms(schema, "get", "/api/v1/orphans/{id}/", answer)


def test_audit_of_a_create_says_before_is_null(schema, clients, world, sysadmin):
    """before is null for a create, after is an object."""
    audit.record(sysadmin, AuditAction.CREATE, world["pool"], None, audit.snapshot(world["pool"]))
    answer = clients["sysadmin"].get("/api/v1/audit/")
    assert answer.json()["results"][0]["before"] is None
    assert_conforms(schema, "get", "/api/v1/audit/", answer)


TYPED_JSON_FIELDS = [
    ("Job", "plan"),
    ("Job", "requested_by"),
    ("JobEvent", "hostname"),
    ("OrphanInstance", "hostname"),
    ("OrphanInstance", "tags"),
    ("PhysicalMachine", "tags"),
    ("CloudAccount", "options"),
    ("MachineTemplate", "zones"),
    ("MachineTemplate", "security_groups"),
    ("MachineTemplate", "init_vars"),
    ("Registry", "mirrors"),
    ("AuditEntry", "before"),
    ("InitJob", "skipped"),
    ("InitJob", "runs"),
    ("InitRun", "changes"),
    ("Host", "drift"),
]


@pytest.mark.parametrize(("component", "field"), TYPED_JSON_FIELDS)
def test_json_fields_say_their_type(schema, component, field):
    """Each JSON field documents what it holds (a free-form {} would let any answer pass)."""
    documented = schema.raw_schema["components"]["schemas"][component]["properties"][field]
    assert {"type", "$ref", "oneOf", "allOf"} & set(documented), documented


NULLABLE = [("Job", "requested_by"), ("JobEvent", "hostname"), ("OrphanInstance", "hostname"), ("AuditEntry", "before")]


@pytest.mark.parametrize(("component", "field"), NULLABLE)
def test_fields_that_can_be_null_say_so(schema, component, field):
    """A field the API answers null for is documented nullable."""
    assert schema.raw_schema["components"]["schemas"][component]["properties"][field].get("nullable") is True


def test_json_fields_have_their_types(schema, clients, world):
    """A job's plan, a dry run's plan, a re-run's skipped hosts: each answer matches its documented shape."""
    pool = world["pool"]
    dry = send(clients["developer"], "post", f"/api/v1/pools/{pool.pk}/scale/", {"delta": 1, "dry_run": True})
    assert dry.status_code == 200 and dry.json()["plan"]["placements"][0]["count"] == 1
    assert_conforms(schema, "post", "/api/v1/pools/{id}/scale/", dry)
    dry_in = send(clients["developer"], "post", f"/api/v1/pools/{pool.pk}/scale/", {"delta": -1, "dry_run": True})
    assert dry_in.status_code == 200 and len(dry_in.json()["plan"]["remove"]) == 1
    assert_conforms(schema, "post", "/api/v1/pools/{id}/scale/", dry_in)
    first = send(clients["developer"], "post", f"/api/v1/pools/{pool.pk}/initialize/", {})
    again = send(clients["developer"], "post", f"/api/v1/pools/{pool.pk}/initialize/", {})
    assert again.status_code == 202 and again.json()["skipped"][0]["reason"] == "initialization already running"
    assert_conforms(schema, "post", "/api/v1/pools/{id}/initialize/", first)
    assert_conforms(schema, "post", "/api/v1/pools/{id}/initialize/", again)
    for url, path in (
        ("/api/v1/physical-machines/", "/api/v1/physical-machines/"),
        ("/api/v1/templates/", "/api/v1/templates/"),
        ("/api/v1/providers/", "/api/v1/providers/"),
    ):
        assert_conforms(schema, "get", path, clients["sysadmin"].get(url))
    public = clients["guest"].get("/api/v1/providers/")  # a provider's name, kind and region only
    assert set(public.json()["results"][0]) == {"id", "name", "kind", "region"}
    assert_conforms(schema, "get", "/api/v1/providers/", public)


# ---------------------------------------------------------------- error answers


def _error_cases(world) -> dict:
    """(caller, method, url, body, extra headers, status) of requests that each meet one kind of error."""
    pool, machine = world["pool"], world["machines"][0]
    return {
        "401-no-token": ("anonymous", "get", "/api/v1/pools/", None, {}, 401),
        "403-guest-writes": ("guest", "patch", f"/api/v1/pools/{pool.pk}/", {"max_size": 8}, {}, 403),
        "404-unknown-id": ("guest", "get", "/api/v1/pools/999999/", None, {}, 404),
        "404-id-not-a-number": ("guest", "get", "/api/v1/pools/0.5/", None, {}, 404),
        "400-field-errors": ("admin", "post", "/api/v1/pools/", {"cluster": pool.cluster_id}, {}, 400),
        "400-not-json": ("admin", "post", "/api/v1/pools/", b"{not json", {}, 400),
        "409-still-used": ("admin", "delete", f"/api/v1/pools/{pool.pk}/", None, {}, 409),
        "409-allocated-machine": ("sysadmin", "delete", f"/api/v1/physical-machines/{machine.pk}/", None, {}, 409),
        "415-not-json": ("admin", "post", "/api/v1/pools/", b"name=x", {"content_type": "text/plain"}, 415),
    }


ERROR_PATHS = {
    "401-no-token": "/api/v1/pools/",
    "403-guest-writes": "/api/v1/pools/{id}/",
    "404-unknown-id": "/api/v1/pools/{id}/",
    "404-id-not-a-number": "/api/v1/pools/{id}/",
    "400-field-errors": "/api/v1/pools/",
    "400-not-json": "/api/v1/pools/",
    "409-still-used": "/api/v1/pools/{id}/",
    "409-allocated-machine": "/api/v1/physical-machines/{id}/",
    "415-not-json": "/api/v1/pools/",
}


@pytest.mark.parametrize("case", ERROR_PATHS)
def test_error_answers_are_documented(schema, clients, world, case):
    """Each error status is listed for its operation, with the body DCP really sends (JSON, never a page)."""
    caller, method, url, body, extra, status = _error_cases(world)[case]
    answer = send(clients[caller], method, url, body, **extra)
    assert answer.status_code == status, answer.content
    assert answer["Content-Type"].startswith(JSON)
    assert_conforms(schema, method, ERROR_PATHS[case], answer)


def test_oversized_body_is_a_documented_413(schema, clients, world, settings):
    """A body past DCP_MAX_BODY_BYTES is refused with 413 JSON, as the schema says for every body."""
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    body = {"cluster": world["pool"].cluster_id, "name": "big", "description": "x" * 2048}
    answer = send(clients["admin"], "post", "/api/v1/pools/", body)
    assert answer.status_code == 413
    assert_conforms(schema, "post", "/api/v1/pools/", answer)


def test_throttled_token_requests_are_a_documented_429(schema, clients):
    """The token endpoint is throttled: the 429 and its Retry-After header are in the schema."""
    body = {"username": "nobody", "password": "not the password"}
    answers = [send(clients["anonymous"], "post", "/api/v1/auth/token/", body) for _ in range(40)]
    assert answers[0].status_code == 400
    assert_conforms(schema, "post", "/api/v1/auth/token/", answers[0])
    throttled = answers[-1]
    assert throttled.status_code == 429 and int(throttled["Retry-After"]) > 0
    assert_conforms(schema, "post", "/api/v1/auth/token/", throttled)


def test_unknown_api_url_is_json(client):
    """A URL no route matches under /api/ answers JSON like every other API error; the console keeps its page."""
    answer = client.get("/api/v1/no-such-thing/")
    assert answer.status_code == 404 and answer.json() == {"detail": "Not found."}
    assert not client.get("/no-such-page/")["Content-Type"].startswith(JSON)


@pytest.mark.parametrize(
    ("url", "body", "detail"),
    [
        ("/api/v1/registries/", {"name": "corp", "url": "registry.example.test"}, "/api/v1/registries/{id}/"),
        ("/api/v1/clusters/", {"name": "line-new"}, "/api/v1/clusters/{id}/"),
    ],
)
def test_create_answers_the_new_objects_location(schema, clients, url, body, detail):
    """201 with Location: the new object's URL (a registry's own "url" field used to be copied there)."""
    answer = send(clients["sysadmin"], "post", url, body)
    assert answer.status_code == 201
    assert answer["Location"] == detail.format(id=answer.json()["id"])
    assert clients["sysadmin"].get(answer["Location"]).status_code == 200
    assert_conforms(schema, "post", url, answer)


def test_member_location_names_the_user(clients, cluster, users):
    """A new membership's Location is its URL under the cluster, by username."""
    newcomer = UserFactory(username="newcomer")
    answer = send(clients["admin"], "post", f"/api/v1/clusters/{cluster.pk}/members/", {"username": "newcomer"})
    assert answer.status_code == 201, answer.content
    assert answer["Location"] == f"/api/v1/clusters/{cluster.pk}/members/{newcomer.username}/"


# ---------------------------------------------------------------- duplicates are conflicts


def _duplicates(world) -> dict:
    """(caller, url, body, field) that each repeat a unique value another object already holds."""
    provider, pool = world["provider"], world["pool"]
    machine = world["machines"][2]
    return {
        "cluster-name": ("sysadmin", "/api/v1/clusters/", {"name": pool.cluster.name}, "name"),
        "pool-name": ("admin", "/api/v1/pools/", {"cluster": pool.cluster_id, "name": pool.name}, "name"),
        "provider-name": ("sysadmin", "/api/v1/providers/", {"name": provider.name, "kind": "physical"}, "name"),
        "template-name": (
            "sysadmin",
            "/api/v1/templates/",
            {"name": "tpl-main", "provider": provider.pk, "instance_type": "c32"},
            "name",
        ),
        "machine-hostname": (
            "sysadmin",
            "/api/v1/physical-machines/",
            {
                "provider": provider.pk,
                "hostname": machine.hostname,
                "ip": "10.99.0.1",
                "cpu": 32,
                "memory_gb": "64",
                "machine_class": "c32",
                "idc": "bj-1",
            },
            "hostname",
        ),
        "username": ("sysadmin", "/api/v1/users/", {"username": "guest-user", "password": "long-pass-1x"}, "username"),
        "registry-name": ("sysadmin", "/api/v1/registries/", {"name": "corp", "url": "r.test"}, "name"),
        "second-pool-key": ("sysadmin", "/api/v1/ssh-keys/", {"pool": pool.pk}, "pool"),
    }


@pytest.mark.parametrize(
    "case",
    [
        "cluster-name",
        "pool-name",
        "provider-name",
        "template-name",
        "machine-hostname",
        "username",
        "registry-name",
        "second-pool-key",
    ],
)
def test_duplicate_is_a_conflict(schema, clients, world, case):
    """A value another object already holds is a 409 naming the field, as the database's unique index answers."""
    send(clients["sysadmin"], "post", "/api/v1/registries/", {"name": "corp", "url": "r.test"})
    send(clients["sysadmin"], "post", "/api/v1/ssh-keys/", {"pool": world["pool"].pk})
    caller, url, body, field = _duplicates(world)[case]
    models = (Cluster, ServicePool, PhysicalMachine, User)
    counts = [model.objects.count() for model in models]
    answer = send(clients[caller], "post", url, body)
    assert answer.status_code == 409, answer.content
    assert field in answer.json()
    assert_conforms(schema, "post", url, answer)
    assert counts == [model.objects.count() for model in models]


def test_duplicate_with_other_errors_stays_400(clients, world):
    """A taken hostname next to an invalid field is bad input first: 400 naming both."""
    _, url, body, _ = _duplicates(world)["machine-hostname"]
    answer = send(clients["sysadmin"], "post", url, {**body, "cpu": 0})
    assert answer.status_code == 400 and {"hostname", "cpu"} <= set(answer.json())


# ---------------------------------------------------------------- what the schema forbids is refused


WRONG_TYPES = {
    "text-given-a-number": ("sysadmin", "patch", "clusters", {"description": 0}, "description"),
    "integer-given-text": ("admin", "patch", "pools", {"max_size": "8"}, "max_size"),
    "integer-given-a-fraction": ("admin", "patch", "pools", {"max_size": 8.0}, "max_size"),
    "boolean-given-text": ("sysadmin", "patch", "users", {"is_active": "false"}, "is_active"),
    "decimal-given-a-number": ("sysadmin", "patch", "physical-machines", {"monthly_cost": 12.5}, "monthly_cost"),
    "decimal-in-exponent-form": ("sysadmin", "patch", "physical-machines", {"monthly_cost": "1e2"}, "monthly_cost"),
    "decimal-in-other-digits": ("sysadmin", "patch", "physical-machines", {"monthly_cost": "\u0663"}, "monthly_cost"),
    "id-given-text": ("admin", "post", "pools", {"cluster": "CLUSTER", "name": "new"}, "cluster"),
    "list-item-given-text": ("admin", "patch", "pools", {"templates": ["TEMPLATE"]}, "templates"),
    "scale-delta-given-text": ("developer", "scale", "pools", {"delta": "1"}, "delta"),
    "object-given-a-list": ("sysadmin", "patch", "providers", {"options": []}, "options"),
    "names-given-numbers": ("sysadmin", "patch", "templates", {"security_groups": [1]}, "security_groups"),
    "mirror-not-a-url": (
        "sysadmin",
        "post",
        "registries",
        {"name": "r", "url": "r", "default_mirror": "ftp://m"},
        "default_mirror",
    ),
    "mirror-with-a-newline": (
        "sysadmin",
        "post",
        "registries",
        {"name": "r", "url": "r", "default_mirror": "https://m\n"},
        "default_mirror",
    ),
}


def _target(world, resource: str, users: dict) -> int:
    return {
        "clusters": world["pool"].cluster_id,
        "pools": world["pool"].pk,
        "users": users["guest"].pk,
        "physical-machines": world["machines"][2].pk,
        "providers": world["provider"].pk,
        "templates": world["template"].pk,
    }[resource]


@pytest.mark.parametrize("case", WRONG_TYPES)
def test_wrong_json_type_is_refused(clients, world, users, case):
    """A value of another JSON type than the schema gives is a 400 naming the field, not quietly converted."""
    caller, method, resource, body, field = WRONG_TYPES[case]
    body = json.loads(
        json.dumps(body)
        .replace('"CLUSTER"', json.dumps(str(world["pool"].cluster_id)))
        .replace('"TEMPLATE"', json.dumps(str(world["template"].pk)))
    )
    if method == "post":
        url = f"/api/v1/{resource}/"
    elif method == "scale":
        method, url = "post", f"/api/v1/pools/{world['pool'].pk}/scale/"
    else:
        url = f"/api/v1/{resource}/{_target(world, resource, users)}/"
    before = stored(clients["sysadmin"], url) if method == "patch" else None
    answer = send(clients[caller], method, url, body)
    assert answer.status_code == 400, answer.content
    assert field in answer.json(), answer.json()
    if before is not None:
        assert stored(clients["sysadmin"], url) == before


def stored(client, url: str) -> dict:
    """What GET url shows of the object, less the moment its cost figures were computed (each read's own)."""
    shown = send(client, "get", url).json()
    shown.get("costs", {}).pop("as_of", None)
    return shown


@pytest.mark.parametrize("value", ["7", "yes", "null"])
def test_boolean_filter_refuses_what_is_neither_true_nor_false(clients, value):
    """?is_active=7 is a 400 naming the parameter, not a list that quietly ignored it."""
    answer = clients["sysadmin"].get("/api/v1/users/", {"is_active": value})
    assert answer.status_code == 400 and "is_active" in answer.json()


def test_boolean_filter_reads_true_and_false(clients, users):
    """true and false (any case) filter as they say."""
    users["guest"].is_active = False
    users["guest"].save()
    inactive = clients["sysadmin"].get("/api/v1/users/", {"is_active": "false"}).json()["results"]
    active = clients["sysadmin"].get("/api/v1/users/", {"is_active": "True"}).json()["results"]
    assert [user["username"] for user in inactive] == ["guest-user"]
    assert "guest-user" not in [user["username"] for user in active] and active


def test_csv_import_cells_are_still_text(clients, world):
    """The import's CSV cells are all text: the same serializer reads them with its conversions."""
    provider = world["provider"]
    body = f"provider,hostname,ip,cpu,memory_gb,machine_class,idc\n{provider.pk},pm-csv.test,10.31.0.1,12,16,c12,bj-1\n"
    answer = clients["sysadmin"].post("/api/v1/physical-machines/import/", data=body, content_type="text/csv")
    assert answer.status_code == 201, answer.content
    assert answer.json()[0]["cpu"] == 12


def test_password_keeps_its_spaces(clients):
    """A password is stored as typed, spaces included, so the same text signs in (it used to be trimmed)."""
    body = {"username": "spaced", "password": "  correct horse battery  "}
    assert send(clients["sysadmin"], "post", "/api/v1/users/", body).status_code == 201
    token = send(clients["anonymous"], "post", "/api/v1/auth/token/", body)
    assert token.status_code == 200, token.content


# ---------------------------------------------------------------- a system administrator keeps their access


@pytest.mark.parametrize(
    ("method", "body"),
    [("delete", None), ("patch", {"is_active": False}), ("patch", {"is_system_admin": False})],
    ids=["delete", "deactivate", "demote"],
)
def test_sysadmin_cannot_lock_themselves_out(schema, clients, sysadmin, method, body):
    """Deleting, deactivating or demoting one's own account is refused (403), and the account stays as it was."""
    answer = send(clients["sysadmin"], method, f"/api/v1/users/{sysadmin.pk}/", body)
    assert answer.status_code == 403, answer.content
    assert "your own account" in answer.json()["detail"]
    assert_conforms(schema, method, "/api/v1/users/{id}/", answer)
    sysadmin.refresh_from_db()
    assert sysadmin.is_active and sysadmin.is_superuser


def test_another_sysadmin_may_remove_one(clients, sysadmin):
    """The refusal is only for one's own account: another system administrator deletes it."""
    other = UserFactory(username="second-root", is_superuser=True)
    answer = clients["sysadmin"].delete(f"/api/v1/users/{other.pk}/")
    assert answer.status_code == 204
    assert not User.objects.filter(pk=other.pk).exists()


@pytest.mark.parametrize(
    "query",
    ["pool=1&pool=2", "limit=5&limit=6", "offset=0&offset=1", "ordering=id&ordering=-id"],
)
def test_a_single_valued_parameter_given_twice_is_refused(clients, query):
    """?pool=1&pool=2 cannot say which pool is meant: a 400 naming it, not the last value silently."""
    answer = clients["guest"].get(f"/api/v1/hosts/?{query}")
    name = query.split("=")[0]
    assert answer.status_code == 400 and answer.json() == {name: [f"Give {name} once."]}


def test_a_repeatable_filter_still_takes_many_values(clients):
    """?status=ready&status=failed is a list filter: both values apply."""
    assert clients["guest"].get("/api/v1/hosts/?status=ready&status=failed").status_code == 200


def test_empty_paging_values_are_the_defaults(schema, clients):
    """?limit=&offset= as a form leaves them: the first page of 50, as the schema allows."""
    answer = clients["guest"].get("/api/v1/hosts/?limit=&offset=")
    assert answer.status_code == 200
    assert_conforms(schema, "get", "/api/v1/hosts/", answer)


def test_an_unserved_method_is_a_405_whatever_the_format(clients, world):
    """TRACE with ?format=csv names a method the view does not serve: 405, not a 400 about the format."""
    answer = clients["guest"].generic("TRACE", "/api/v1/costs/?format=csv")
    assert answer.status_code == 405


def test_an_empty_format_is_the_default(clients):
    """?format= is JSON, as the schema allows."""
    answer = clients["guest"].get("/api/v1/costs/?format=")
    assert answer.status_code == 200 and answer["Content-Type"].startswith("application/json")
