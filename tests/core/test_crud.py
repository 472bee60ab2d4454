"""Create, read, update and delete through the API, resource by resource, by a role allowed to do it.

After each step the answer's fields are checked, and so is the audit entry the
change left: its action, who made it (user and username), the request it came
from, and its before/after snapshots. Hosts, jobs, audit entries and orphan
instances are read-only: their lists, details and filters are checked instead.
"""

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from apps.accounts.models import Membership, User
from apps.costs.services import month_hours
from apps.inventory.models import Host, PhysicalMachine, ServicePool
from apps.providers.models import CloudAccount
from apps.provisioning.models import Job, OrphanInstance
from tests.conftest import client_for
from tests.factories import (
    ClusterFactory,
    MachineFactory,
    MembershipFactory,
    PhysicalProviderFactory,
    PoolFactory,
    TemplateFactory,
    UserFactory,
    with_template,
)

pytestmark = pytest.mark.django_db


def audited(client, response, object_type, object_id, action, user):
    """The one audit entry the request behind response left on the object; checks who made it and how."""
    found = client.get(
        "/api/v1/audit/", {"object_type": object_type, "object_id": str(object_id), "action": action, "limit": 1000}
    )
    assert found.status_code == 200, found.content
    request_id = response["X-Request-ID"]
    entries = [e for e in found.json()["results"] if e["request_id"] == request_id]
    assert len(entries) == 1, f"no single {action} entry for {object_type} {object_id}: {found.json()['results']}"
    entry = entries[0]
    assert entry["object_type"] == object_type
    assert entry["object_id"] == str(object_id)
    assert entry["user"] == user.pk
    assert entry["username"] == user.username
    assert entry["via"] == "api"
    return entry


def deleted_and_audited(client, url, object_type, pk, user) -> dict:
    """Delete through the API: 204, then 404 on read, and a delete entry whose snapshot is the last state."""
    deleted = client.delete(url)
    assert deleted.status_code == 204, deleted.content
    assert client.get(url).status_code == 404
    entry = audited(client, deleted, object_type, pk, "delete", user)
    assert entry["after"] is None
    return entry["before"]


def no_secret_in(entry):
    """Snapshots in the audit log hold no secrets."""
    for snapshot in (entry["before"], entry["after"]):
        if snapshot is not None:
            assert not {"credentials", "password", "key_hash"} & set(snapshot)


# ---------------------------------------------------------------- providers


def test_provider_round_trip(clients, sysadmin):
    """A physical provider is created, read, updated, deleted; credentials never come back, has_credentials does."""
    client = clients["sysadmin"]
    created = client.post(
        "/api/v1/providers/",
        {"name": "idc-sh", "kind": "physical", "region": "sh", "options": {"rack_prefix": "sh-r"}},
        format="json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    pk = body["id"]
    assert {k: body[k] for k in ("name", "kind", "region", "endpoint_url", "options", "has_credentials")} == {
        "name": "idc-sh",
        "kind": "physical",
        "region": "sh",
        "endpoint_url": "",
        "options": {"rack_prefix": "sh-r"},
        "has_credentials": False,
    }
    assert "credentials" not in body
    entry = audited(client, created, "providers.cloudaccount", pk, "create", sysadmin)
    assert entry["before"] is None
    assert entry["after"]["name"] == "idc-sh"
    assert entry["after"]["region"] == "sh"
    assert entry["cluster"] is None
    no_secret_in(entry)

    read = client.get(f"/api/v1/providers/{pk}/")
    assert read.status_code == 200
    assert read.json() == body

    patched = client.patch(
        f"/api/v1/providers/{pk}/",
        {"region": "gz", "endpoint_url": "https://inventory.example.test/api"},
        format="json",
    )
    assert patched.status_code == 200, patched.content
    assert patched.json()["region"] == "gz"
    assert patched.json()["endpoint_url"] == "https://inventory.example.test/api"
    assert "credentials" not in patched.json()
    entry = audited(client, patched, "providers.cloudaccount", pk, "update", sysadmin)
    assert (entry["before"]["region"], entry["after"]["region"]) == ("sh", "gz")
    assert (entry["before"]["endpoint_url"], entry["after"]["endpoint_url"]) == (
        "",
        "https://inventory.example.test/api",
    )
    no_secret_in(entry)

    put = client.put(
        f"/api/v1/providers/{pk}/",
        {"name": "idc-sh2", "kind": "physical", "region": "gz", "credentials": {}},
        format="json",
    )
    assert put.status_code == 200, put.content
    assert put.json()["name"] == "idc-sh2"
    assert put.json()["has_credentials"] is False
    assert "credentials" not in put.json()
    entry = audited(client, put, "providers.cloudaccount", pk, "update", sysadmin)
    assert (entry["before"]["name"], entry["after"]["name"]) == ("idc-sh", "idc-sh2")

    listed = client.get("/api/v1/providers/?kind=physical")
    assert [item["name"] for item in listed.json()["results"]] == ["idc-sh2"]
    assert all("credentials" not in item for item in listed.json()["results"])

    before = deleted_and_audited(client, f"/api/v1/providers/{pk}/", "providers.cloudaccount", pk, sysadmin)
    assert before["name"] == "idc-sh2"


@pytest.mark.parametrize(
    "credentials",
    [{"access_key_id": "AKIA123", "secret_access_key": "hush"}, {"token": "x"}, ["not", "an", "object"]],
)
def test_physical_provider_refuses_credentials(clients, credentials):
    """A physical provider takes no credentials: any given are refused with a message on the credentials field."""
    response = clients["sysadmin"].post(
        "/api/v1/providers/", {"name": "idc-x", "kind": "physical", "credentials": credentials}, format="json"
    )
    assert response.status_code == 400
    assert "credentials" in response.json()
    assert not CloudAccount.objects.filter(name="idc-x").exists()


def test_provider_kind_cannot_change(clients):
    """The kind of an existing provider account is refused with a message on kind."""
    provider = PhysicalProviderFactory(name="idc-fixed")
    response = clients["sysadmin"].patch(f"/api/v1/providers/{provider.pk}/", {"kind": "aws"}, format="json")
    assert response.status_code == 400
    assert "kind" in response.json()
    provider.refresh_from_db()
    assert provider.kind == "physical"


@pytest.mark.parametrize("role", ["sysadmin", "guest", "outsider"])
def test_stored_credentials_never_shown(clients, sysadmin, role):
    """Credentials stored on an account are shown to nobody, in no answer; has_credentials tells administrators."""
    provider = PhysicalProviderFactory(name="idc-secret", credentials={"token": "s3cr3t-value-77"})
    client = clients[role]
    answers = [client.get("/api/v1/providers/"), client.get(f"/api/v1/providers/{provider.pk}/")]
    if role == "sysadmin":
        patched = client.patch(f"/api/v1/providers/{provider.pk}/", {"region": "gz"}, format="json")
        assert patched.status_code == 200
        answers.append(patched)
        answers.append(client.get("/api/v1/audit/?object_type=providers.cloudaccount"))
    for answer in answers:
        assert answer.status_code == 200
        assert b"s3cr3t-value-77" not in answer.content
        assert b'"credentials"' not in answer.content
    # Everyone else reads only the account's name, kind and region.
    assert answers[1].json().get("has_credentials") is (True if role == "sysadmin" else None)


# ---------------------------------------------------------------- physical machines


def machine_row(provider, n, **extra):
    """A valid physical machine as the API takes it."""
    return {
        "provider": provider.pk,
        "hostname": f"pm{n:03d}.bj.test",
        "ip": f"10.30.0.{n}",
        "cpu": 16,
        "memory_gb": "32",
        "machine_class": "c16",
        "idc": "bj-1",
        "monthly_cost": "420",
        **extra,
    }


def test_physical_machine_round_trip(clients, sysadmin):
    """A physical machine is registered, read, updated (rack, cost, maintenance), deleted, each step audited."""
    client = clients["sysadmin"]
    provider = PhysicalProviderFactory(name="idc-bj")
    created = client.post("/api/v1/physical-machines/", machine_row(provider, 1, rack="r-01"), format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    pk = body["id"]
    expected = {
        "provider": provider.pk,
        "hostname": "pm001.bj.test",
        "ip": "10.30.0.1",
        "cpu": 16,
        "memory_gb": "32.00",
        "machine_class": "c16",
        "idc": "bj-1",
        "rack": "r-01",
        "monthly_cost": "420.00",
        "state": "free",
        "tags": {},
        "allocated_at": None,
    }
    assert {k: body[k] for k in expected} == expected
    entry = audited(client, created, "inventory.physicalmachine", pk, "create", sysadmin)
    assert entry["before"] is None
    assert entry["after"]["hostname"] == "pm001.bj.test"

    read = client.get(f"/api/v1/physical-machines/{pk}/")
    assert read.status_code == 200
    assert read.json() == body

    patched = client.patch(
        f"/api/v1/physical-machines/{pk}/",
        {"state": "maintenance", "rack": "r-12", "monthly_cost": "399.50"},
        format="json",
    )
    assert patched.status_code == 200, patched.content
    assert (patched.json()["state"], patched.json()["rack"], patched.json()["monthly_cost"]) == (
        "maintenance",
        "r-12",
        "399.50",
    )
    entry = audited(client, patched, "inventory.physicalmachine", pk, "update", sysadmin)
    assert (entry["before"]["state"], entry["after"]["state"]) == ("free", "maintenance")
    assert (entry["before"]["rack"], entry["after"]["rack"]) == ("r-01", "r-12")

    refused = client.patch(f"/api/v1/physical-machines/{pk}/", {"state": "allocated"}, format="json")
    assert refused.status_code == 400
    assert "state" in refused.json()

    filtered = client.get(f"/api/v1/physical-machines/?provider={provider.pk}&state=maintenance&machine_class=c16")
    assert [m["id"] for m in filtered.json()["results"]] == [pk]
    assert client.get("/api/v1/physical-machines/?state=free").json()["count"] == 0

    before = deleted_and_audited(client, f"/api/v1/physical-machines/{pk}/", "inventory.physicalmachine", pk, sysadmin)
    assert before["hostname"] == "pm001.bj.test"


def test_physical_machine_needs_a_physical_provider(clients):
    """A machine on a cloud (non-physical) account is refused on the provider field."""
    cloud = CloudAccount.objects.create(name="aws-bj", kind="aws", region="cn-north-1")
    response = clients["sysadmin"].post("/api/v1/physical-machines/", machine_row(cloud, 1), format="json")
    assert response.status_code == 400
    assert "provider" in response.json()
    assert not PhysicalMachine.objects.exists()


def test_import_json_list(clients, sysadmin):
    """A JSON list of machines is imported at once (201, every machine returned and audited)."""
    client = clients["sysadmin"]
    provider = PhysicalProviderFactory(name="idc-bj")
    rows = [machine_row(provider, n) for n in (1, 2, 3)]
    rows[2].update(machine_class="c32", cpu=32, memory_gb="64")
    response = client.post("/api/v1/physical-machines/import/", rows, format="json")
    assert response.status_code == 201, response.content
    body = response.json()
    assert [m["hostname"] for m in body] == ["pm001.bj.test", "pm002.bj.test", "pm003.bj.test"]
    assert [(m["machine_class"], m["cpu"], m["memory_gb"], m["state"]) for m in body] == [
        ("c16", 16, "32.00", "free"),
        ("c16", 16, "32.00", "free"),
        ("c32", 32, "64.00", "free"),
    ]
    assert PhysicalMachine.objects.filter(provider=provider).count() == 3
    for machine in body:
        entry = audited(client, response, "inventory.physicalmachine", machine["id"], "create", sysadmin)
        assert entry["after"]["hostname"] == machine["hostname"]


def test_import_csv(clients):
    """A CSV body with a header row is imported; empty cells take their defaults."""
    client = clients["sysadmin"]
    provider = PhysicalProviderFactory(name="idc-bj")
    csv_body = (
        "provider,hostname,ip,cpu,memory_gb,machine_class,idc,rack,monthly_cost\n"
        f"{provider.pk},pm101.bj.test,10.30.1.1,12,16,c12,bj-1,r-01,150\n"
        f"{provider.pk},pm102.bj.test,10.30.1.2,32,64,c32,bj-2,,600.5\n"
    )
    response = client.post("/api/v1/physical-machines/import/", data=csv_body, content_type="text/csv")
    assert response.status_code == 201, response.content
    body = response.json()
    assert [(m["hostname"], m["cpu"], m["machine_class"], m["idc"], m["rack"], m["monthly_cost"]) for m in body] == [
        ("pm101.bj.test", 12, "c12", "bj-1", "r-01", "150.00"),
        ("pm102.bj.test", 32, "c32", "bj-2", "", "600.50"),
    ]
    listed = client.get(f"/api/v1/physical-machines/?provider={provider.pk}")
    assert listed.json()["count"] == 2


BAD_IMPORTS = {
    "cpu-zero": lambda p: [machine_row(p, 1), machine_row(p, 2, cpu=0), machine_row(p, 3)],
    "bad-ip": lambda p: [machine_row(p, 1), machine_row(p, 2, ip="10.30.0.2/24")],
    "missing-class": lambda p: [
        machine_row(p, 1),
        {k: v for k, v in machine_row(p, 2).items() if k != "machine_class"},
    ],
    "allocated-by-hand": lambda p: [machine_row(p, 1), machine_row(p, 2, state="allocated")],
    "unknown-provider": lambda p: [machine_row(p, 1), {**machine_row(p, 2), "provider": 999_999}],
    "same-hostname-twice": lambda p: [machine_row(p, 1), machine_row(p, 2, hostname="pm001.bj.test")],
    "same-ip-twice": lambda p: [machine_row(p, 1), machine_row(p, 2, ip="10.30.0.1")],
    "empty-list": lambda p: [],
    "not-objects": lambda p: [machine_row(p, 1), "pm002"],
}


@pytest.mark.parametrize("case", BAD_IMPORTS)
def test_import_is_all_or_nothing(clients, case):
    """One bad row refuses the whole import with 400 and a message; no machine is created."""
    provider = PhysicalProviderFactory(name="idc-bj")
    MachineFactory(provider=provider, hostname="pm900.bj.test", ip="10.30.9.0")
    response = clients["sysadmin"].post("/api/v1/physical-machines/import/", BAD_IMPORTS[case](provider), format="json")
    assert response.status_code == 400, response.content
    assert response.json()
    assert list(PhysicalMachine.objects.values_list("hostname", flat=True)) == ["pm900.bj.test"]


def test_import_reports_the_bad_row(clients):
    """The error of an import names the row (1-based) and the field at fault."""
    provider = PhysicalProviderFactory(name="idc-bj")
    rows = [machine_row(provider, 1), machine_row(provider, 2, cpu=0), machine_row(provider, 3)]
    response = clients["sysadmin"].post("/api/v1/physical-machines/import/", rows, format="json")
    assert response.status_code == 400
    assert list(response.json()["rows"]) == ["2"]
    assert "cpu" in response.json()["rows"]["2"]


def test_import_csv_bad_row(clients):
    """A CSV import with one bad row is refused whole."""
    provider = PhysicalProviderFactory(name="idc-bj")
    csv_body = (
        "provider,hostname,ip,cpu,memory_gb,machine_class,idc\n"
        f"{provider.pk},pm101.bj.test,10.30.1.1,12,16,c12,bj-1\n"
        f"{provider.pk},pm102.bj.test,10.30.1.2/24,32,64,c32,bj-2\n"
    )
    response = clients["sysadmin"].post("/api/v1/physical-machines/import/", data=csv_body, content_type="text/csv")
    assert response.status_code == 400
    assert "ip" in response.json()["rows"]["2"]
    assert not PhysicalMachine.objects.exists()


# ---------------------------------------------------------------- templates


def test_template_round_trip(clients, sysadmin):
    """A template is made for a class and IDC the provider's machines have, then changed and deleted."""
    client = clients["sysadmin"]
    provider = PhysicalProviderFactory(name="idc-bj")
    MachineFactory(provider=provider, machine_class="c16", cpu=16, idc="bj-1")
    MachineFactory(provider=provider, machine_class="c16", cpu=16, idc="bj-2")
    MachineFactory(provider=provider, machine_class="c32", cpu=32, idc="bj-2")
    payload = {
        "name": "tpl-light",
        "provider": provider.pk,
        "zone": "bj-2",
        "instance_type": "c16",
        "cpu": 16,
        "memory_gb": "32",
        "init_method": "none",
        "init_profile": "dcp_profile_example",
        "max_hosts": 4,
        "hourly_price": "0.5",
        "security_groups": ["web"],
    }
    created = client.post("/api/v1/templates/", payload, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    pk = body["id"]
    expected = {**payload, "memory_gb": "32.00", "hourly_price": "0.500000", "region": "", "image": ""}
    assert {k: body[k] for k in expected} == expected
    entry = audited(client, created, "providers.machinetemplate", pk, "create", sysadmin)
    assert entry["before"] is None
    assert (entry["after"]["name"], entry["after"]["instance_type"], entry["after"]["provider_id"]) == (
        "tpl-light",
        "c16",
        provider.pk,
    )

    read = client.get(f"/api/v1/templates/{pk}/")
    assert read.status_code == 200
    assert read.json() == body

    patched = client.patch(
        f"/api/v1/templates/{pk}/", {"instance_type": "c32", "cpu": 32, "max_hosts": 8}, format="json"
    )
    assert patched.status_code == 200, patched.content
    assert (patched.json()["instance_type"], patched.json()["cpu"], patched.json()["max_hosts"]) == ("c32", 32, 8)
    assert patched.json()["zone"] == "bj-2"
    entry = audited(client, patched, "providers.machinetemplate", pk, "update", sysadmin)
    assert (entry["before"]["instance_type"], entry["after"]["instance_type"]) == ("c16", "c32")
    assert (entry["before"]["max_hosts"], entry["after"]["max_hosts"]) == (4, 8)

    assert [
        t["id"] for t in client.get(f"/api/v1/templates/?provider={provider.pk}&instance_type=c32").json()["results"]
    ] == [pk]

    before = deleted_and_audited(client, f"/api/v1/templates/{pk}/", "providers.machinetemplate", pk, sysadmin)
    assert before["name"] == "tpl-light"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"instance_type": "c64"}, "instance_type"),
        ({"zone": "sh-9"}, "zone"),
        ({"init_method": "chef"}, "init_method"),
    ],
)
def test_template_checked_against_the_provider(clients, change, field):
    """A class or IDC the provider's machines lack, or an unknown init method, is refused on that field."""
    provider = PhysicalProviderFactory(name="idc-bj")
    MachineFactory(provider=provider, machine_class="c16", cpu=16, idc="bj-1")
    body = {"name": "tpl-x", "provider": provider.pk, "instance_type": "c16", **change}
    response = clients["sysadmin"].post("/api/v1/templates/", body, format="json")
    assert response.status_code == 400
    assert field in response.json()
    existing = TemplateFactory(provider=provider, instance_type="c16", cpu=16)
    response = clients["sysadmin"].patch(f"/api/v1/templates/{existing.pk}/", change, format="json")
    assert response.status_code == 400
    assert field in response.json()


def test_template_on_provider_without_machines_is_refused(clients):
    """A provider with no machines has no machine classes: a template on it is refused."""
    provider = PhysicalProviderFactory(name="idc-empty")
    response = clients["sysadmin"].post(
        "/api/v1/templates/", {"name": "tpl-x", "provider": provider.pk, "instance_type": "c32"}, format="json"
    )
    assert response.status_code == 400
    assert "instance_type" in response.json()


# ---------------------------------------------------------------- clusters and members


def test_cluster_round_trip(clients, users, sysadmin):
    """A system administrator creates a cluster and makes an admin; that admin updates and deletes it."""
    root = clients["sysadmin"]
    created = root.post("/api/v1/clusters/", {"name": "payments", "description": "Payments"}, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    pk = body["id"]
    assert (body["name"], body["description"]) == ("payments", "Payments")
    entry = audited(root, created, "inventory.cluster", pk, "create", sysadmin)
    assert entry["before"] is None
    assert entry["after"]["name"] == "payments"
    assert entry["cluster"] == pk

    admin = clients["admin"]
    assert admin.get(f"/api/v1/clusters/{pk}/").status_code == 404
    made_admin = root.post(
        f"/api/v1/clusters/{pk}/members/", {"username": "admin-user", "role": "admin"}, format="json"
    )
    assert made_admin.status_code == 201, made_admin.content
    read = admin.get(f"/api/v1/clusters/{pk}/")
    assert read.status_code == 200
    assert same_but_as_of(read.json(), body)
    assert pk in [c["id"] for c in admin.get("/api/v1/clusters/").json()["results"]]

    patched = admin.patch(f"/api/v1/clusters/{pk}/", {"description": "Payments and billing"}, format="json")
    assert patched.status_code == 200, patched.content
    assert patched.json()["description"] == "Payments and billing"
    entry = audited(root, patched, "inventory.cluster", pk, "update", users["admin"])
    assert (entry["before"]["description"], entry["after"]["description"]) == ("Payments", "Payments and billing")

    put = admin.put(f"/api/v1/clusters/{pk}/", {"name": "payments-cn", "description": "Billing"}, format="json")
    assert put.status_code == 200, put.content
    assert (put.json()["name"], put.json()["description"]) == ("payments-cn", "Billing")
    entry = audited(root, put, "inventory.cluster", pk, "update", users["admin"])
    assert (entry["before"]["name"], entry["after"]["name"]) == ("payments", "payments-cn")

    deleted = admin.delete(f"/api/v1/clusters/{pk}/")
    assert deleted.status_code == 204
    assert root.get(f"/api/v1/clusters/{pk}/").status_code == 404
    assert admin.get(f"/api/v1/clusters/{pk}/").status_code == 404
    entry = audited(root, deleted, "inventory.cluster", pk, "delete", users["admin"])
    assert entry["before"]["name"] == "payments-cn"
    assert entry["after"] is None


def test_cluster_with_pools_cannot_be_deleted(clients, cluster):
    """Deleting a cluster that still has pools answers 409 with a message, and the cluster stays."""
    PoolFactory(cluster=cluster, name="web")
    response = clients["admin"].delete(f"/api/v1/clusters/{cluster.pk}/")
    assert response.status_code == 409
    assert "web" in response.json()["detail"]
    assert clients["admin"].get(f"/api/v1/clusters/{cluster.pk}/").status_code == 200


def test_member_round_trip(clients, users, cluster):
    """A cluster admin adds a member, changes their role, removes them; the member's access follows."""
    admin = clients["admin"]
    newbie = UserFactory(username="newbie")
    newbie_client = client_for(newbie)
    pool = with_template(PoolFactory(cluster=cluster, name="web", max_size=3), TemplateFactory())
    base = f"/api/v1/clusters/{cluster.pk}/members/"
    assert newbie_client.get(f"/api/v1/clusters/{cluster.pk}/").status_code == 404

    created = admin.post(base, {"username": "newbie", "role": "guest"}, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    pk = body["id"]
    assert (body["username"], body["role"]) == ("newbie", "guest")
    entry = audited(admin, created, "accounts.membership", pk, "create", users["admin"])
    assert entry["cluster"] == cluster.pk
    assert entry["before"] is None
    assert (entry["after"]["user_id"], entry["after"]["role"]) == (newbie.pk, "guest")
    assert newbie_client.get(f"/api/v1/clusters/{cluster.pk}/").status_code == 200
    assert newbie_client.post(f"/api/v1/pools/{pool.pk}/scale/", {"delta": 1}, format="json").status_code == 403

    read = admin.get(f"{base}newbie/")
    assert read.status_code == 200
    assert read.json() == body
    assert "newbie" in [m["username"] for m in admin.get(base).json()["results"]]
    assert [m["username"] for m in admin.get(f"{base}?role=guest").json()["results"]] == ["guest-user", "newbie"]

    patched = admin.patch(f"{base}newbie/", {"role": "developer"}, format="json")
    assert patched.status_code == 200, patched.content
    assert patched.json()["role"] == "developer"
    entry = audited(admin, patched, "accounts.membership", pk, "update", users["admin"])
    assert (entry["before"]["role"], entry["after"]["role"]) == ("guest", "developer")
    assert newbie_client.post(f"/api/v1/pools/{pool.pk}/scale/", {"delta": 1}, format="json").status_code == 202

    put = admin.put(f"{base}newbie/", {"username": "newbie", "role": "admin"}, format="json")
    assert put.status_code == 200, put.content
    assert put.json()["role"] == "admin"
    entry = audited(admin, put, "accounts.membership", pk, "update", users["admin"])
    assert (entry["before"]["role"], entry["after"]["role"]) == ("developer", "admin")

    deleted = admin.delete(f"{base}newbie/")
    assert deleted.status_code == 204
    assert admin.get(f"{base}newbie/").status_code == 404
    entry = audited(admin, deleted, "accounts.membership", pk, "delete", users["admin"])
    assert entry["before"]["role"] == "admin"
    assert entry["after"] is None
    assert newbie_client.get(f"/api/v1/clusters/{cluster.pk}/").status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "field"),
    [
        ("POST", "", {"username": "guest-user", "role": "admin"}, 409, "detail"),
        ("POST", "", {"username": "nobody", "role": "guest"}, 400, "username"),
        ("POST", "", {"username": "loner", "role": "owner"}, 400, "role"),
        ("PUT", "guest-user/", {"username": "developer-user", "role": "guest"}, 400, "username"),
    ],
)
def test_member_bad_requests(clients, cluster, method, path, body, status, field):
    """Adding a member twice is a conflict; unknown users and roles, or changing whose membership it is, are refused."""
    UserFactory(username="loner")
    before = sorted(Membership.objects.filter(cluster=cluster).values_list("user__username", "role"))
    url = f"/api/v1/clusters/{cluster.pk}/members/{path}"
    response = getattr(clients["admin"], method.lower())(url, body, format="json")
    assert response.status_code == status, response.content
    assert field in response.json()
    assert sorted(Membership.objects.filter(cluster=cluster).values_list("user__username", "role")) == before


# ---------------------------------------------------------------- pools


def test_pool_round_trip(clients, users, cluster):
    """A cluster admin creates a pool (templates in order), reorders them, changes sizes, deletes it."""
    admin = clients["admin"]
    first, second = TemplateFactory(name="tpl-cheap"), TemplateFactory(name="tpl-burst")
    created = admin.post(
        "/api/v1/pools/",
        {
            "cluster": cluster.pk,
            "name": "api",
            "description": "API servers",
            "templates": [second.pk, first.pk],
            "min_size": 0,
            "max_size": 4,
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    pk = body["id"]
    expected = {
        "cluster": cluster.pk,
        "name": "api",
        "description": "API servers",
        "templates": [second.pk, first.pk],
        "min_size": 0,
        "max_size": 4,
        "desired_size": 0,
        "size": 0,
        "ready": 0,
    }
    assert {k: body[k] for k in expected} == expected
    entry = audited(admin, created, "inventory.servicepool", pk, "create", users["admin"])
    assert entry["cluster"] == cluster.pk
    assert entry["before"] is None
    assert (entry["after"]["name"], entry["after"]["max_size"]) == ("api", 4)
    assert sorted(entry["after"]["templates"]) == sorted([first.pk, second.pk])
    assert not Job.objects.filter(pool_id=pk).exists()

    read = admin.get(f"/api/v1/pools/{pk}/")
    assert read.status_code == 200
    assert same_but_as_of(read.json(), body)
    listed = admin.get(f"/api/v1/pools/?cluster={cluster.pk}&name=api").json()["results"]
    assert [(p["id"], p["templates"]) for p in listed] == [(pk, [second.pk, first.pk])]

    put = admin.put(
        f"/api/v1/pools/{pk}/",
        {
            "cluster": cluster.pk,
            "name": "api",
            "description": "API",
            "templates": [first.pk, second.pk],
            "min_size": 0,
            "max_size": 6,
            "desired_size": 5,
        },
        format="json",
    )
    assert put.status_code == 200, put.content
    assert put.json()["templates"] == [first.pk, second.pk]
    assert (put.json()["max_size"], put.json()["desired_size"], put.json()["description"]) == (6, 0, "API")
    assert admin.get(f"/api/v1/pools/{pk}/").json()["templates"] == [first.pk, second.pk]
    entry = audited(admin, put, "inventory.servicepool", pk, "update", users["admin"])
    assert (entry["before"]["max_size"], entry["after"]["max_size"]) == (4, 6)
    assert (entry["before"]["desired_size"], entry["after"]["desired_size"]) == (0, 0)

    patched = admin.patch(f"/api/v1/pools/{pk}/", {"templates": [second.pk], "desired_size": 3}, format="json")
    assert patched.status_code == 200, patched.content
    assert (patched.json()["templates"], patched.json()["desired_size"]) == ([second.pk], 0)
    entry = audited(admin, patched, "inventory.servicepool", pk, "update", users["admin"])
    assert (sorted(entry["before"]["templates"]), entry["after"]["templates"]) == (
        sorted([first.pk, second.pk]),
        [second.pk],
    )

    deleted = admin.delete(f"/api/v1/pools/{pk}/")
    assert deleted.status_code == 204
    assert admin.get(f"/api/v1/pools/{pk}/").status_code == 404
    entry = audited(admin, deleted, "inventory.servicepool", pk, "delete", users["admin"])
    assert entry["before"]["name"] == "api"
    assert entry["after"] is None


def test_pool_with_min_size_starts_filling(clients, users, cluster):
    """A pool created with min_size 2 starts at desired_size 2 with a pending scale_out job of 2."""
    admin = clients["admin"]
    template = TemplateFactory()
    created = admin.post(
        "/api/v1/pools/",
        {"cluster": cluster.pk, "name": "core", "templates": [template.pk], "min_size": 2, "max_size": 5},
        format="json",
    )
    assert created.status_code == 201, created.content
    assert (created.json()["min_size"], created.json()["desired_size"], created.json()["size"]) == (2, 2, 0)
    jobs = admin.get(f"/api/v1/jobs/?pool={created.json()['id']}").json()["results"]
    assert len(jobs) == 1
    job = jobs[0]
    assert (job["kind"], job["delta"], job["desired_before"], job["desired_after"], job["status"]) == (
        "scale_out",
        2,
        0,
        2,
        "pending",
    )
    assert job["requested_by"] == "admin-user"
    assert job["cluster"] == cluster.pk
    assert job["progress"] == {"total": 2, "ready": 0, "removed": 0, "failed": 0, "drifted": 0}


BAD_POOLS = {
    "min-size-without-templates": (lambda t: {"min_size": 2, "max_size": 5, "templates": []}, "templates"),
    "min-above-max": (lambda t: {"min_size": 6, "max_size": 5}, "min_size"),
    "unknown-template": (lambda t: {"templates": [999_999]}, "templates"),
    "template-twice": (lambda t: {"templates": [t.pk, t.pk]}, "templates"),
}


@pytest.mark.parametrize("case", BAD_POOLS)
def test_pool_bad_create(clients, cluster, case):
    """A pool needing templates without any, min above max, unknown or repeated templates: 400."""
    template = TemplateFactory()
    PoolFactory(cluster=cluster, name="taken")
    change, field = BAD_POOLS[case]
    payload = {"cluster": cluster.pk, "name": "fresh", "templates": [template.pk], "max_size": 5, **change(template)}
    response = clients["admin"].post("/api/v1/pools/", payload, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert ServicePool.objects.filter(cluster=cluster).count() == 1


def test_pool_cannot_move_cluster_or_shrink_below_desired(clients, cluster, users):
    """A pool stays in its cluster, and max_size cannot go below the current desired_size."""
    other = ClusterFactory(name="other")
    MembershipFactory(cluster=other, user=users["admin"], role="admin")
    pool = with_template(PoolFactory(cluster=cluster, name="web", desired_size=3, min_size=1), TemplateFactory())
    moved = clients["admin"].patch(f"/api/v1/pools/{pool.pk}/", {"cluster": other.pk}, format="json")
    assert moved.status_code == 400
    assert "cluster" in moved.json()
    shrunk = clients["admin"].patch(f"/api/v1/pools/{pool.pk}/", {"max_size": 2}, format="json")
    assert shrunk.status_code == 400
    assert "max_size" in shrunk.json()
    pool.refresh_from_db()
    assert (pool.cluster_id, pool.max_size, pool.desired_size) == (cluster.pk, 10, 3)


# ---------------------------------------------------------------- users


def token_for(username, password):
    """The answer to asking for a token with these credentials."""
    return APIClient().post("/api/v1/auth/token/", {"username": username, "password": password}, format="json")


def test_user_round_trip(clients, sysadmin):
    """A system administrator creates, reads, updates (password too) and deletes a user; no password is shown."""
    root = clients["sysadmin"]
    created = root.post(
        "/api/v1/users/",
        {
            "username": "newbie",
            "email": "newbie@example.test",
            "first_name": "New",
            "last_name": "Person",
            "password": "first-long-secret-42",
        },
        format="json",
    )
    assert created.status_code == 201, created.content
    body = created.json()
    pk = body["id"]
    assert "password" not in body
    expected = {
        "username": "newbie",
        "email": "newbie@example.test",
        "first_name": "New",
        "last_name": "Person",
        "is_system_admin": False,
        "is_active": True,
        "last_login": None,
    }
    assert {k: body[k] for k in expected} == expected
    entry = audited(root, created, "accounts.user", pk, "create", sysadmin)
    assert entry["before"] is None
    assert entry["after"]["username"] == "newbie"
    no_secret_in(entry)
    assert b"first-long-secret-42" not in json.dumps(entry).encode()
    assert token_for("newbie", "first-long-secret-42").status_code == 200

    read = root.get(f"/api/v1/users/{pk}/")
    assert read.status_code == 200
    assert read.json() == body
    assert [u["id"] for u in root.get("/api/v1/users/?username=newbie").json()["results"]] == [pk]

    patched = root.patch(
        f"/api/v1/users/{pk}/", {"first_name": "Renamed", "password": "second-long-secret-43"}, format="json"
    )
    assert patched.status_code == 200, patched.content
    assert patched.json()["first_name"] == "Renamed"
    assert "password" not in patched.json()
    entry = audited(root, patched, "accounts.user", pk, "update", sysadmin)
    assert (entry["before"]["first_name"], entry["after"]["first_name"]) == ("New", "Renamed")
    no_secret_in(entry)
    assert token_for("newbie", "first-long-secret-42").status_code == 400
    assert token_for("newbie", "second-long-secret-43").status_code == 200

    put = root.put(
        f"/api/v1/users/{pk}/",
        {"username": "newbie", "email": "nb@example.test", "is_system_admin": True, "is_active": True},
        format="json",
    )
    assert put.status_code == 200, put.content
    assert (put.json()["email"], put.json()["is_system_admin"]) == ("nb@example.test", True)
    assert token_for("newbie", "second-long-secret-43").status_code == 200
    entry = audited(root, put, "accounts.user", pk, "update", sysadmin)
    assert (entry["before"]["is_superuser"], entry["after"]["is_superuser"]) == (False, True)

    deleted = root.delete(f"/api/v1/users/{pk}/")
    assert deleted.status_code == 204
    assert root.get(f"/api/v1/users/{pk}/").status_code == 404
    entry = audited(root, deleted, "accounts.user", pk, "delete", sysadmin)
    assert entry["before"]["username"] == "newbie"
    assert entry["after"] is None
    assert token_for("newbie", "second-long-secret-43").status_code == 400


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"username": "nopass"}, "password"),
        ({"username": "shortpass", "password": "short"}, "password"),
        ({"username": "common", "password": "password123"}, "password"),
    ],
)
def test_user_bad_create(clients, body, field):
    """A new user needs a password that passes the rules (a taken username is a 409: tests/api/test_contract.py)."""
    before = sorted(User.objects.values_list("username", flat=True))
    response = clients["sysadmin"].post("/api/v1/users/", body, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()
    assert sorted(User.objects.values_list("username", flat=True)) == before


def test_user_reads_own_account(clients, users):
    """A user who is not a system administrator reads their own account, without a password field."""
    me = users["developer"]
    response = clients["developer"].get(f"/api/v1/users/{me.pk}/")
    assert response.status_code == 200
    body = response.json()
    assert (body["username"], body["email"], body["is_system_admin"]) == (me.username, me.email, False)
    assert "password" not in body


# ---------------------------------------------------------------- hosts (read-only)


@pytest.fixture
def fleet(cluster):
    """Two pools in the cluster and one in another, with hosts in several states."""
    provider = PhysicalProviderFactory(name="idc-bj")
    template = TemplateFactory(provider=provider, name="tpl-c32")
    web = with_template(PoolFactory(cluster=cluster, name="web"), template)
    db = with_template(PoolFactory(cluster=cluster, name="db"), template)
    other_cluster = ClusterFactory(name="other")
    other = with_template(PoolFactory(cluster=other_cluster, name="web"), template)
    job = Job.objects.create(pool=web, kind="scale_out", delta=2, desired_before=0, desired_after=2)

    def host(pool, name, status, **extra):
        """A host of pool on the fleet's provider and template."""
        return Host.objects.create(
            pool=pool, provider=provider, template=template, hostname=name, status=status, **extra
        )

    # web-1 runs on machine pm001, allocated to its batch: its price is the machine's monthly_cost per hour.
    MachineFactory(
        provider=provider, hostname="pm001.bj.test", state="allocated", client_token="tok-web", monthly_cost=500
    )
    hosts = {
        "web-1": host(
            web,
            "web-1.bj.test",
            "ready",
            job=job,
            instance_id="pm001.bj.test",
            private_ip="10.30.0.1",
            cpu=32,
            memory_gb="64",
            zone="bj-1",
            batch_token="tok-web",
        ),
        "web-2": host(web, "web-2.bj.test", "failed", job=job),
        "db-1": host(db, "db-1.bj.test", "ready"),
        "db-2": host(db, "db-2.bj.test", "terminated"),
        "other-1": host(other, "other-1.bj.test", "ready"),
    }
    return {
        "provider": provider,
        "template": template,
        "web": web,
        "db": db,
        "other": other,
        "other_cluster": other_cluster,
        "job": job,
        "hosts": hosts,
    }


def test_host_detail(clients, fleet, cluster):
    """A host's detail shows where it lives and what it is."""
    web1 = fleet["hosts"]["web-1"]
    response = clients["guest"].get(f"/api/v1/hosts/{web1.pk}/")
    assert response.status_code == 200
    body = response.json()
    expected = {
        "id": web1.pk,
        "hostname": "web-1.bj.test",
        "pool": fleet["web"].pk,
        "cluster": cluster.pk,
        "provider": fleet["provider"].pk,
        "template": fleet["template"].pk,
        "job": fleet["job"].pk,
        "instance_id": "pm001.bj.test",
        "private_ip": "10.30.0.1",
        "public_ip": None,
        "cpu": 32,
        "memory_gb": "64.00",
        "zone": "bj-1",
        "status": "ready",
        "hourly_price": str((Decimal(500) / month_hours(timezone.now())).quantize(Decimal("0.000001"))),
        "currency": "USD",
        "terminated_at": None,
    }
    assert {k: body[k] for k in expected} == expected
    assert body["created_at"]


@pytest.mark.parametrize(
    ("role", "query", "names"),
    [
        ("guest", "", ["db-1", "db-2", "web-1", "web-2"]),
        ("sysadmin", "", ["db-1", "db-2", "other-1", "web-1", "web-2"]),
        ("guest", "pool={web}", ["web-1", "web-2"]),
        ("guest", "status=ready", ["db-1", "web-1"]),
        ("guest", "status=ready&status=failed", ["db-1", "web-1", "web-2"]),
        ("guest", "pool={db}&status=terminated", ["db-2"]),
        ("sysadmin", "cluster={cluster}", ["db-1", "db-2", "web-1", "web-2"]),
        ("sysadmin", "cluster={other_cluster}", ["other-1"]),
        ("sysadmin", "job={job}", ["web-1", "web-2"]),
        ("guest", "hostname=db-1.bj.test", ["db-1"]),
    ],
)
def test_host_filters(clients, fleet, cluster, role, query, names):
    """Host lists filter by pool, cluster, job, status (one or several) and hostname."""
    ids = {
        "web": fleet["web"].pk,
        "db": fleet["db"].pk,
        "cluster": cluster.pk,
        "other_cluster": fleet["other_cluster"].pk,
        "job": fleet["job"].pk,
    }
    response = clients[role].get(f"/api/v1/hosts/?{query.format(**ids)}")
    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert sorted(h["hostname"].split(".")[0] for h in results) == names
    assert response.json()["count"] == len(names)


def test_host_status_filter_refuses_unknown_status(clients, fleet):
    """An unknown status in a filter is a 400 naming the field, not an empty list or a 500."""
    response = clients["guest"].get("/api/v1/hosts/?status=sleeping")
    assert response.status_code == 400
    assert "status" in response.json()


READ_ONLY_WRITES = [
    ("POST", "/api/v1/{kind}/"),
    ("PUT", "/api/v1/{kind}/{pk}/"),
    ("PATCH", "/api/v1/{kind}/{pk}/"),
    ("DELETE", "/api/v1/{kind}/{pk}/"),
]


@pytest.mark.parametrize("kind", ["hosts", "jobs", "audit"])
@pytest.mark.parametrize(("method", "url"), READ_ONLY_WRITES)
@pytest.mark.parametrize("role", ["admin", "sysadmin"])
def test_read_only_resources_refuse_writes(clients, fleet, sysadmin, kind, method, url, role):
    """Hosts, jobs and audit entries cannot be written through the API by anyone: 405, nothing changes."""
    from apps.core import audit
    from apps.core.models import AuditEntry

    entry = audit.record(sysadmin, "update", fleet["web"], {"max_size": 10}, {"max_size": 11})
    objects = {"hosts": fleet["hosts"]["web-1"], "jobs": fleet["job"], "audit": entry}
    model = {"hosts": Host, "jobs": Job, "audit": AuditEntry}[kind]
    before = sorted(map(str, model.objects.values_list()))
    body = {"status": "terminated", "username": "forged", "pool": fleet["web"].pk, "kind": "scale_in", "delta": -1}
    response = getattr(clients[role], method.lower())(url.format(kind=kind, pk=objects[kind].pk), body, format="json")
    assert response.status_code == 405, response.content
    assert method in response.json()["detail"]
    assert sorted(map(str, model.objects.values_list())) == before


# ---------------------------------------------------------------- jobs (read-only, plus scale and cancel)


def test_scale_and_cancel_job(clients, users, cluster):
    """A developer scales a pool (202 with the job), reads the job, and cancels it; each change is audited."""
    developer = clients["developer"]
    pool = with_template(PoolFactory(cluster=cluster, name="web", max_size=3), TemplateFactory())
    scaled = developer.post(f"/api/v1/pools/{pool.pk}/scale/", {"delta": 2}, format="json")
    assert scaled.status_code == 202, scaled.content
    job = scaled.json()
    assert scaled["Location"] == f"/api/v1/jobs/{job['id']}/"
    expected = {
        "pool": pool.pk,
        "cluster": cluster.pk,
        "kind": "scale_out",
        "delta": 2,
        "status": "pending",
        "progress": {"total": 2, "ready": 0, "removed": 0, "failed": 0, "drifted": 0},
        "desired_before": 0,
        "desired_after": 2,
        "requested_by": "developer-user",
        "finished_at": None,
    }
    assert {k: job[k] for k in expected} == expected
    assert [e["kind"] for e in job["events"]] == ["requested"]
    assert developer.get(f"/api/v1/pools/{pool.pk}/").json()["desired_size"] == 2
    entry = audited(developer, scaled, "inventory.servicepool", pool.pk, "scale", users["developer"])
    assert entry["before"] == {"desired_size": 0}
    assert entry["after"] == {"desired_size": 2, "job": job["id"]}
    assert entry["cluster"] == cluster.pk

    detail = developer.get(f"/api/v1/jobs/{job['id']}/")
    assert detail.status_code == 200
    assert {k: detail.json()[k] for k in expected} == expected
    assert [e["kind"] for e in detail.json()["events"]] == ["requested"]
    listed = developer.get(f"/api/v1/jobs/?pool={pool.pk}").json()["results"]
    assert [j["id"] for j in listed] == [job["id"]]
    assert "events" not in listed[0] and "hosts" not in listed[0]

    cancelled = developer.post(f"/api/v1/jobs/{job['id']}/cancel/")
    assert cancelled.status_code == 200, cancelled.content
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["message"] == "Cancelled by developer-user."
    assert cancelled.json()["finished_at"]
    assert developer.get(f"/api/v1/pools/{pool.pk}/").json()["desired_size"] == 0
    entry = audited(developer, cancelled, "provisioning.job", job["id"], "cancel", users["developer"])
    assert entry["before"] == {"desired_size": 2, "status": "pending"}
    assert entry["after"] == {"desired_size": 0, "status": "cancelled"}

    again = developer.post(f"/api/v1/jobs/{job['id']}/cancel/")
    assert again.status_code == 409
    assert "cancelled" in again.json()["detail"]


@pytest.fixture
def jobs(fleet):
    """Jobs of several kinds and states in the cluster's pools and in another cluster's pool."""
    made = {"web-out": fleet["job"]}
    made["web-in"] = Job.objects.create(
        pool=fleet["web"], kind="scale_in", delta=-1, desired_before=2, desired_after=1, status="succeeded"
    )
    made["db-out"] = Job.objects.create(
        pool=fleet["db"], kind="scale_out", delta=3, desired_before=0, desired_after=3, status="running"
    )
    made["other-out"] = Job.objects.create(
        pool=fleet["other"], kind="scale_out", delta=1, desired_before=0, desired_after=1
    )
    return made


@pytest.mark.parametrize(
    ("role", "query", "names"),
    [
        ("guest", "", ["db-out", "web-in", "web-out"]),
        ("sysadmin", "", ["db-out", "other-out", "web-in", "web-out"]),
        ("guest", "pool={web}", ["web-in", "web-out"]),
        ("guest", "status=running", ["db-out"]),
        ("guest", "kind=scale_in", ["web-in"]),
        ("guest", "kind=scale_out&status=pending", ["web-out"]),
        ("sysadmin", "cluster={other_cluster}", ["other-out"]),
        ("sysadmin", "cluster={cluster}", ["db-out", "web-in", "web-out"]),
    ],
)
def test_job_filters(clients, fleet, jobs, cluster, role, query, names):
    """Job lists filter by pool, cluster, kind and status."""
    ids = {"web": fleet["web"].pk, "cluster": cluster.pk, "other_cluster": fleet["other_cluster"].pk}
    response = clients[role].get(f"/api/v1/jobs/?{query.format(**ids)}")
    assert response.status_code == 200, response.content
    by_id = {job.pk: name for name, job in jobs.items()}
    assert sorted(by_id[j["id"]] for j in response.json()["results"]) == names


def test_job_progress_counts_hosts(clients, fleet, jobs):
    """A job's progress counts its hosts that became ready and those that failed."""
    Host.objects.filter(pk=fleet["hosts"]["web-1"].pk).update(ready_at="2026-01-01T00:00:00Z")
    Host.objects.filter(pk=fleet["hosts"]["web-2"].pk).update(failed_at="2026-01-01T00:00:00Z")
    body = clients["guest"].get(f"/api/v1/jobs/{jobs['web-out'].pk}/").json()
    assert body["progress"] == {"total": 2, "ready": 1, "removed": 0, "failed": 1, "drifted": 0}
    listed = clients["guest"].get(f"/api/v1/jobs/?pool={fleet['web'].pk}&kind=scale_out").json()["results"]
    assert [j["progress"] for j in listed] == [{"total": 2, "ready": 1, "removed": 0, "failed": 1, "drifted": 0}]


# ---------------------------------------------------------------- audit (read-only)


def test_audit_filters_and_fields(clients, users, cluster, sysadmin):
    """Audit entries carry who, what, when and where; lists filter by cluster, action, user and object."""
    admin = clients["admin"]
    template = TemplateFactory()
    pool_made = admin.post(
        "/api/v1/pools/",
        {"cluster": cluster.pk, "name": "web", "templates": [template.pk], "max_size": 3},
        format="json",
    )
    pool_id = pool_made.json()["id"]
    admin.patch(f"/api/v1/pools/{pool_id}/", {"max_size": 4}, format="json")
    clients["developer"].post(f"/api/v1/pools/{pool_id}/scale/", {"delta": 1}, format="json")
    other = clients["sysadmin"].post("/api/v1/clusters/", {"name": "other"}, format="json").json()

    root = clients["sysadmin"]
    entry = root.get(f"/api/v1/audit/?object_type=inventory.servicepool&object_id={pool_id}&action=create").json()[
        "results"
    ][0]
    assert set(entry) == {
        "id",
        "time",
        "user",
        "username",
        "action",
        "object_type",
        "object_id",
        "object_repr",
        "cluster",
        "before",
        "after",
        "request_id",
        "via",
    }
    assert entry["object_repr"] == f"{cluster.name}/web"
    assert entry["request_id"] == pool_made["X-Request-ID"]

    def actions(client, query):
        """(username, action, object_type) of the audit entries the query lists, newest first."""
        response = client.get(f"/api/v1/audit/?{query}")
        assert response.status_code == 200, response.content
        return [(e["username"], e["action"], e["object_type"]) for e in response.json()["results"]]

    assert actions(root, f"cluster={cluster.pk}") == [
        ("developer-user", "scale", "inventory.servicepool"),
        ("admin-user", "update", "inventory.servicepool"),
        ("admin-user", "create", "inventory.servicepool"),
    ]
    assert actions(root, f"cluster={other['id']}") == [("root-admin", "create", "inventory.cluster")]
    assert actions(root, "action=scale") == [("developer-user", "scale", "inventory.servicepool")]
    assert actions(root, f"user={users['admin'].pk}") == [
        ("admin-user", "update", "inventory.servicepool"),
        ("admin-user", "create", "inventory.servicepool"),
    ]
    assert actions(root, "object_type=inventory.cluster") == [("root-admin", "create", "inventory.cluster")]
    assert actions(clients["guest"], "") == actions(root, f"cluster={cluster.pk}")
    assert actions(clients["outsider"], "") == []
    detail = clients["guest"].get(f"/api/v1/audit/{entry['id']}/")
    assert detail.status_code == 200
    assert detail.json() == entry


# ---------------------------------------------------------------- orphan instances (read-only)


def test_orphan_fields_filters_and_paging(clients, fleet):
    """Orphans list newest sighting first, filter by provider and state, page, and refuse every write."""
    provider, dead = fleet["provider"], fleet["hosts"]["db-2"]
    other = PhysicalProviderFactory(name="idc-other")
    now = timezone.now()

    def orphan(account, instance_id, state, minutes_ago, **extra):
        seen = now - timedelta(minutes=minutes_ago)
        return OrphanInstance.objects.create(
            provider=account, instance_id=instance_id, state=state, first_seen=seen, last_seen=seen, **extra
        )

    reason = "its host db-2.bj.test is terminated but it still runs"
    lost_terminate = orphan(provider, "pm-a", "reported", 1, host=dead, reason=reason)
    orphan(provider, "pm-b", "terminated", 2, terminated_at=now)
    orphan(other, "pm-c", "gone", 3, tags={"dcp": "1", "dcp-batch": "b1"})
    root = clients["sysadmin"]

    def listed(query=""):
        response = root.get(f"/api/v1/orphans/?{query}")
        assert response.status_code == 200, response.content
        return [o["instance_id"] for o in response.json()["results"]]

    assert listed() == ["pm-a", "pm-b", "pm-c"]
    assert listed(f"provider={provider.pk}") == ["pm-a", "pm-b"]
    assert listed(f"provider={other.pk}&state=gone") == ["pm-c"]
    assert listed("state=reported&state=terminated") == ["pm-a", "pm-b"]
    assert listed("instance_id=pm-b") == ["pm-b"]
    assert listed("provider=999999") == []
    page = root.get("/api/v1/orphans/?limit=1&offset=1").json()
    assert page["count"] == 3 and [o["instance_id"] for o in page["results"]] == ["pm-b"]
    assert page["next"] and page["previous"]

    detail = root.get(f"/api/v1/orphans/{lost_terminate.pk}/").json()
    assert set(detail) == {
        "id",
        "provider",
        "provider_name",
        "instance_id",
        "name",
        "state",
        "reason",
        "host",
        "hostname",
        "tags",
        "first_seen",
        "last_seen",
        "terminated_at",
        "created_at",
        "updated_at",
    }
    assert (detail["provider"], detail["provider_name"]) == (provider.pk, provider.name)
    assert (detail["host"], detail["hostname"], detail["state"]) == (dead.pk, "db-2.bj.test", "reported")
    assert detail["reason"] == reason
    assert detail["terminated_at"] is None

    before = sorted(map(str, OrphanInstance.objects.values_list()))
    for method, url in READ_ONLY_WRITES:
        response = getattr(root, method.lower())(
            url.format(kind="orphans", pk=lost_terminate.pk), {"state": "gone"}, format="json"
        )
        assert response.status_code == 405, response.content
    assert sorted(map(str, OrphanInstance.objects.values_list())) == before


def same_but_as_of(shown: dict, expected: dict) -> bool:
    """Two answers of one pool or cluster are the same but for the moment each computed its cost figures."""
    first, second = dict(shown), dict(expected)
    assert first.get("costs", {}).get("as_of") and second.get("costs", {}).get("as_of")
    first["costs"] = {k: v for k, v in first["costs"].items() if k != "as_of"}
    second["costs"] = {k: v for k, v in second["costs"].items() if k != "as_of"}
    return first == second
