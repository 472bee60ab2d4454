"""The initialization API: SSH keys, registries, a template's init variables, init runs and re-runs."""

import pytest
from django.db import connection

from apps.configuration.models import InitRun, Registry, SSHKey
from apps.core.models import AuditEntry
from apps.inventory.choices import HostStatus
from tests.factories import MachineFactory, PoolFactory, TemplateFactory, ready_hosts, with_template

pytestmark = pytest.mark.django_db
PASSWORD = "registry-pass-5f2c9e"  # noqa: S105 - a test secret that must never be shown


def raw(table: str, column: str, pk: int) -> str:
    """A column as stored in the database, bypassing decryption."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [pk])  # noqa: S608 - test constants
        return cursor.fetchone()[0]


def test_sysadmin_makes_a_key_pair_and_only_the_public_half_is_shown(clients):
    """DCP generates an Ed25519 pair; the private key is encrypted at rest and never served."""
    account = TemplateFactory().provider
    answer = clients["sysadmin"].post("/api/v1/ssh-keys/", {"account": account.pk}, format="json")
    assert answer.status_code == 201, answer.content
    body = answer.json()
    assert body["public_key"].startswith("ssh-ed25519 ") and body["fingerprint"].startswith("SHA256:")
    assert "private_key" not in body
    key = SSHKey.objects.get(pk=body["id"])
    assert "OPENSSH PRIVATE KEY" in key.private_key
    stored = raw("configuration_sshkey", "private_key", key.pk)
    assert "PRIVATE KEY" not in stored and key.private_key not in stored
    listed = clients["guest"].get("/api/v1/ssh-keys/").json()["results"]
    assert [item["public_key"] for item in listed] == [body["public_key"]]
    assert all("private_key" not in item for item in listed)
    audit = AuditEntry.objects.filter(object_id=str(key.pk), object_type__model="sshkey").get()
    assert "private_key" not in audit.after and key.private_key not in str(audit.after)


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({}, "account", "either account or pool"),
        ({"private_key": "not a key"}, "private_key", "not an unencrypted openssh or pem private key"),
    ],
)
def test_bad_key_requests_say_what_to_fix(clients, body, field, words):
    """No owner, or a private key that isn't one: 400 naming the field."""
    account = TemplateFactory().provider
    if "private_key" in body:
        body = {**body, "account": account.pk}
    answer = clients["sysadmin"].post("/api/v1/ssh-keys/", body, format="json")
    assert answer.status_code == 400
    assert words in str(answer.json()[field]).lower()
    assert not SSHKey.objects.exists()


def test_only_sysadmins_manage_keys_and_registries(clients):
    """Cluster roles may read, not write, the global key pairs and registries."""
    account = TemplateFactory().provider
    for role in ("admin", "developer", "guest"):
        assert clients[role].post("/api/v1/ssh-keys/", {"account": account.pk}, format="json").status_code == 403
        assert clients[role].post("/api/v1/registries/", {"name": "r", "url": "r.test"}).status_code == 403
    assert clients["anonymous"].get("/api/v1/registries/").status_code == 401


def test_registry_password_is_write_only_and_encrypted(clients):
    """The password is accepted, stored encrypted, never returned or audited."""
    body = {
        "name": "main",
        "url": "registry.example.test:5000",
        "mirrors": {"bj-1": "https://mirror-bj.example.test:5000"},
        "username": "puller",
        "password": PASSWORD,
    }
    answer = clients["sysadmin"].post("/api/v1/registries/", body, format="json")
    assert answer.status_code == 201, answer.content
    assert answer.json()["has_password"] is True and PASSWORD not in answer.content.decode()
    registry = Registry.objects.get()
    assert registry.password == PASSWORD
    assert PASSWORD not in raw("configuration_registry", "password", registry.pk)
    assert not any(PASSWORD in str(entry.after) for entry in AuditEntry.objects.all())


def test_registry_mirrors_must_be_urls(clients):
    """A mirror that isn't a URL is refused with an example of the right shape."""
    body = {"name": "main", "url": "r.test", "mirrors": {"bj-1": "mirror-bj"}}
    answer = clients["sysadmin"].post("/api/v1/registries/", body, format="json")
    assert answer.status_code == 400 and "IDC" in str(answer.json()["mirrors"])


@pytest.mark.parametrize(
    ("init_vars", "words"),
    [
        ({"dcp_ntp_servers": "ntp.example.test"}, "dcp_ntp_servers must be a list"),
        ({"dcp_no_such_thing": 1}, "not a variable of the init roles"),
        ({"dcp_registry_password": "x"}, "set by dcp"),
        ({"dcp_ssh_via": "carrier-pigeon"}, "private or public"),
        ([1, 2], "object of variables"),
    ],
)
def test_template_init_vars_are_checked_against_the_roles(clients, init_vars, words):
    """A wrong value is refused before any host is touched, naming the variable."""
    template = TemplateFactory()
    answer = clients["sysadmin"].patch(f"/api/v1/templates/{template.pk}/", {"init_vars": init_vars}, format="json")
    assert answer.status_code == 400, answer.content
    assert words in str(answer.json()["init_vars"]).lower()
    template.refresh_from_db()
    assert template.init_vars == {}


def test_template_takes_valid_init_vars_a_profile_and_a_registry(clients):
    """Known variables of the right type, an existing profile role and a registry are kept."""
    template = TemplateFactory()
    MachineFactory(provider=template.provider)
    registry = Registry.objects.create(name="main", url="r.test")
    body = {
        "init_method": "ansible",
        "init_profile": "dcp_profile_example",
        "registry": registry.pk,
        "init_vars": {"dcp_ntp_servers": ["ntp1.example.test"], "dcp_sysctl_overrides": {"vm.swappiness": 1}},
    }
    answer = clients["sysadmin"].patch(f"/api/v1/templates/{template.pk}/", body, format="json")
    assert answer.status_code == 200, answer.content
    assert answer.json()["init_vars"]["dcp_ntp_servers"] == ["ntp1.example.test"]
    bad = clients["sysadmin"].patch(
        f"/api/v1/templates/{template.pk}/", {"init_profile": "profile_nope"}, format="json"
    )
    assert bad.status_code == 400 and "profile_nope" in str(bad.json()["init_profile"])


@pytest.fixture
def ready_ansible_host(cluster):
    """A ready host of a pool in `cluster`, on a template initialized with Ansible."""
    template = TemplateFactory(init_method="ansible")
    machine = MachineFactory(provider=template.provider)
    pool = with_template(PoolFactory(cluster=cluster), template)
    return ready_hosts(pool, template, [machine])[0]


def test_developers_rerun_initialization_guests_may_not(
    clients, ready_ansible_host, django_capture_on_commit_callbacks
):
    """202 with a running init run for a developer; 403 for a guest; a second ask while it runs is skipped."""
    host = ready_ansible_host
    assert clients["guest"].post(f"/api/v1/hosts/{host.pk}/initialize/").status_code == 403
    assert clients["outsider"].post(f"/api/v1/hosts/{host.pk}/initialize/").status_code == 404
    with django_capture_on_commit_callbacks(execute=False) as queued:
        answer = clients["developer"].post(f"/api/v1/hosts/{host.pk}/initialize/")
    assert answer.status_code == 202, answer.content
    assert [run["status"] for run in answer.json()["runs"]] == ["running"] and len(queued) == 1
    again = clients["admin"].post(f"/api/v1/pools/{host.pool_id}/initialize/").json()
    assert again["runs"] == [] and again["skipped"] == [{"host": host.pk, "reason": "initialization already running"}]
    assert InitRun.objects.get().rerun is True
    runs = clients["guest"].get("/api/v1/init-runs/", {"host": host.pk}).json()
    assert runs["count"] == 1 and runs["results"][0]["hostname"] == host.hostname
    assert clients["outsider"].get("/api/v1/init-runs/").json()["count"] == 0


def test_rerun_needs_a_ready_host_with_an_init_method(clients, ready_ansible_host):
    """A host that isn't ready, or has nothing to run, gets a 400 that says so."""
    host = ready_ansible_host
    host.status = HostStatus.FAILED
    host.save()
    answer = clients["developer"].post(f"/api/v1/hosts/{host.pk}/initialize/")
    assert answer.status_code == 400 and "ready hosts" in str(answer.json())
    assert not InitRun.objects.exists()


def test_pool_keys_are_hidden_from_other_clusters(clients, cluster):
    """A pool's key is its cluster's: an outsider's ?pool= and detail answer as for a pool that does not exist."""
    from apps.configuration import keys
    from tests.factories import ClusterFactory

    account_key = keys.new_key(account=TemplateFactory().provider)
    own_key = keys.new_key(pool=PoolFactory(cluster=cluster, name="own"))
    other_key = keys.new_key(pool=PoolFactory(cluster=ClusterFactory(), name="elsewhere"))
    for key in (account_key, own_key, other_key):
        key.save()
    other_pool = other_key.pool_id

    for role in ("outsider", "guest"):
        client = clients[role]
        hidden = client.get(f"/api/v1/ssh-keys/?pool={other_pool}")
        assert hidden.status_code == 200 and hidden.json() == client.get("/api/v1/ssh-keys/?pool=999999").json()
        missing = client.get("/api/v1/ssh-keys/999999/")
        detail = client.get(f"/api/v1/ssh-keys/{other_key.pk}/")
        assert detail.status_code == missing.status_code == 404 and detail.json() == missing.json()
        seen = {item["id"] for item in client.get("/api/v1/ssh-keys/").json()["results"]}
        assert seen == ({account_key.pk, own_key.pk} if role == "guest" else {account_key.pk})
    everything = {item["id"] for item in clients["sysadmin"].get("/api/v1/ssh-keys/").json()["results"]}
    assert everything == {account_key.pk, own_key.pk, other_key.pk}
