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
