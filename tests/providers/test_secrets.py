"""Credentials are encrypted at rest and never appear in responses, audit entries or logs."""

import json
import logging

import pytest
from django.db import connection

from apps.core.models import AuditEntry
from apps.providers.models import CloudAccount
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

SECRET = "wJalrXUtnFEMI-K7MDENG-bPxRfiCYEXAMPLEKEY"


@pytest.fixture
def account():
    """An account holding a secret (made directly: its kind's driver arrives with the cloud drivers)."""
    return CloudAccount.objects.create(
        name="aws-prod",
        kind="aws",
        region="us-east-1",
        credentials={"access_key_id": "AKIDEXAMPLE", "secret_access_key": SECRET},
    )


def test_stored_encrypted(account):
    """The database column holds ciphertext, and reading it back gives the plaintext to the driver only."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT credentials FROM providers_cloudaccount WHERE id = %s", [account.pk])
        stored = cursor.fetchone()[0]
    assert SECRET not in stored
    assert "AKIDEXAMPLE" not in stored
    assert CloudAccount.objects.get(pk=account.pk).credentials["secret_access_key"] == SECRET


def test_repr_hides_values(account):
    """Printing the credentials (e.g. in a traceback or a log line) shows key names only."""
    loaded = CloudAccount.objects.get(pk=account.pk).credentials
    assert SECRET not in repr(loaded)
    assert SECRET not in str(loaded)
    assert SECRET not in f"{loaded}"


def test_never_in_responses_audit_or_logs(account, sysadmin, users, caplog):
    """List, detail, update and audit answers carry no credential value; nor does any log line."""
    caplog.set_level(logging.DEBUG)
    client = client_for(sysadmin)
    answers = [
        client.get("/api/v1/providers/"),
        client.get(f"/api/v1/providers/{account.pk}/"),
        client.patch(f"/api/v1/providers/{account.pk}/", {"region": "us-west-2"}, format="json"),
        client_for(users["guest"]).get(f"/api/v1/providers/{account.pk}/"),
    ]
    assert [a.status_code for a in answers] == [200, 200, 200, 200]
    for answer in answers:
        assert SECRET not in answer.content.decode()
        assert "credentials" not in answer.json().get("results", [answer.json()])[0]
    assert answers[1].json()["has_credentials"] is True
    entry = AuditEntry.objects.get(action="update", object_id=str(account.pk))
    assert entry.before["region"] == "us-east-1" and entry.after["region"] == "us-west-2"
    assert "credentials" not in entry.before and "credentials" not in entry.after
    audit = client.get("/api/v1/audit/").content.decode()
    assert SECRET not in audit and "AKIDEXAMPLE" not in audit
    assert SECRET not in json.dumps([record.getMessage() for record in caplog.records])
    assert SECRET not in caplog.text


def test_dumpdata_writes_ciphertext(account, capsys):
    """A database dump (manage.py dumpdata) carries the ciphertext, not the secret."""
    from django.core.management import call_command

    call_command("dumpdata", "providers.cloudaccount")
    out = capsys.readouterr().out
    assert "aws-prod" in out
    assert SECRET not in out


ENDPOINT_PASSWORD = "Hunter2-in-the-url"
DRIVER_SECRET = "driver-args-s3cret-value"


@pytest.fixture
def stored_the_old_way():
    """An account as it could be stored before: a password in its endpoint and a secret in its driver_args."""
    return CloudAccount.objects.create(
        name="legacy-cloud",
        kind="libcloud",
        region="r1",
        endpoint_url=f"https://dcp:{ENDPOINT_PASSWORD}@keystone.example.test/v3",
        credentials={"driver": "openstack", "key": "dcp"},
        options={"driver_args": {"secret": DRIVER_SECRET, "ex_tenant_name": "ops"}},
    )


@pytest.mark.parametrize("role", ["outsider", "guest", "developer", "admin"])
def test_only_system_administrators_read_options_and_endpoints(stored_the_old_way, clients, role):
    """Everyone else reads an account's name, kind and region only: no endpoint, no options, nothing secret."""
    account = stored_the_old_way
    listed = clients[role].get("/api/v1/providers/")
    detail = clients[role].get(f"/api/v1/providers/{account.pk}/")
    assert listed.status_code == detail.status_code == 200
    for item in (listed.json()["results"][0], detail.json()):
        assert item == {"id": account.pk, "name": "legacy-cloud", "kind": "libcloud", "region": "r1"}
    for answer in (listed, detail):
        assert ENDPOINT_PASSWORD not in answer.content.decode() and DRIVER_SECRET not in answer.content.decode()
    whole = clients["sysadmin"].get(f"/api/v1/providers/{account.pk}/").json()
    assert whole["endpoint_url"] == account.endpoint_url and whole["options"] == account.options


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("options", {"driver_args": {"secret": DRIVER_SECRET}}, "options.driver_args.secret"),
        ("options", {"driver_args": {"ex_force_auth_token": DRIVER_SECRET}}, "options.driver_args.ex_force_auth_token"),
        ("options", {"create_args": {"ex_admin_pass": DRIVER_SECRET}}, "options.create_args.ex_admin_pass"),
        ("options", {"proxy": f"http://ops:{DRIVER_SECRET}@proxy.example.test:3128"}, "options.proxy"),
        ("endpoint_url", f"https://dcp:{ENDPOINT_PASSWORD}@keystone.example.test/v3", "user name or password"),
    ],
)
def test_secrets_are_refused_outside_credentials(sysadmin, field, value, words):
    """A secret in options or in the endpoint URL is a 400 naming where it is; nothing is saved, nothing echoed."""
    body = {"name": "idc-leaky", "kind": "physical", field: value}
    answer = client_for(sysadmin).post("/api/v1/providers/", body, format="json")
    assert answer.status_code == 400, answer.content
    assert words in answer.json()[field][0]
    assert "credentials" in answer.json()[field][0]
    assert DRIVER_SECRET not in answer.content.decode() and ENDPOINT_PASSWORD not in answer.content.decode()
    assert not CloudAccount.objects.filter(name="idc-leaky").exists()
