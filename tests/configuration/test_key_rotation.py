"""Rotating DCP's key through the API, and the one-line bootstrap that lets DCP in to a physical machine."""

import os
import subprocess

import pytest

from apps.configuration import keys
from apps.configuration.ansible import AnsibleRunner
from apps.configuration.models import SSHKey
from apps.core.models import AuditEntry
from apps.inventory.models import Host
from tests.factories import PoolFactory, TemplateFactory

pytestmark = pytest.mark.django_db


def account_key() -> SSHKey:
    """A saved key of a new provider account."""
    key = keys.new_key(account=TemplateFactory().provider)
    key.save()
    return key


def test_a_rotation_keeps_the_previous_pair_and_shows_only_fingerprints(clients):
    """The new pair is generated, the old one kept (encrypted) for hosts not yet re-initialized; the answer and
    the audit entry carry no private key."""
    key = account_key()
    old_public, old_private = key.public_key, key.private_key

    answer = clients["sysadmin"].post(f"/api/v1/ssh-keys/{key.pk}/rotate/", {}, format="json")

    assert answer.status_code == 200, answer.content
    body = answer.json()
    key.refresh_from_db()
    assert body["public_key"] == key.public_key != old_public
    assert body["fingerprint"] == keys.fingerprint(key.public_key)
    assert body["previous_fingerprint"] == keys.fingerprint(old_public) and body["rotated_at"]
    assert (key.previous_public_key, key.previous_private_key) == (old_public, old_private)
    text = answer.content.decode() + str(AuditEntry.objects.filter(object_type__model="sshkey").values())
    assert "PRIVATE KEY" not in text and "previous_private_key" not in text


def test_a_rotation_to_an_imported_key_checks_it_first(clients):
    """An unusable private key, or the key already in use, is a 400 naming private_key; nothing changes."""
    key = account_key()
    for bad in ("not a key", key.private_key):
        answer = clients["sysadmin"].post(f"/api/v1/ssh-keys/{key.pk}/rotate/", {"private_key": bad}, format="json")
        assert answer.status_code == 400 and "private_key" in answer.json(), answer.content
    assert SSHKey.objects.get(pk=key.pk).public_key == key.public_key and not key.previous_public_key
    private, public = keys.generate()
    answer = clients["sysadmin"].post(f"/api/v1/ssh-keys/{key.pk}/rotate/", {"private_key": private}, format="json")
    assert answer.status_code == 200 and answer.json()["public_key"] == public


def test_only_sysadmins_rotate_and_outsiders_learn_nothing(clients, cluster):
    """Cluster roles may not rotate (403); for an outsider a pool key of another cluster answers exactly as a
    key that does not exist."""
    key = account_key()
    own = keys.new_key(pool=PoolFactory(cluster=cluster, name="own"))
    own.save()
    for role in ("admin", "developer", "guest"):
        assert clients[role].post(f"/api/v1/ssh-keys/{own.pk}/rotate/", {}, format="json").status_code == 403
    hidden = clients["outsider"].post(f"/api/v1/ssh-keys/{own.pk}/rotate/", {}, format="json")
    missing = clients["outsider"].post("/api/v1/ssh-keys/999999/rotate/", {}, format="json")
    assert hidden.status_code == missing.status_code and hidden.json() == missing.json()
    assert clients["anonymous"].post(f"/api/v1/ssh-keys/{key.pk}/rotate/", {}).status_code == 401
    assert not SSHKey.objects.exclude(previous_public_key="").exists()


def test_the_bootstrap_line_authorizes_the_key_once(clients, tmp_path):
    """The API's one-line command, run by a shell as a machine's user would, adds the key once however often
    it runs, to an authorized_keys only its user may read."""
    key = account_key()
    line = clients["guest"].get(f"/api/v1/ssh-keys/{key.pk}/").json()["bootstrap"]
    (tmp_path / ".ssh").mkdir(mode=0o700)
    (tmp_path / ".ssh" / "authorized_keys").write_text("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOther admin\n")
    for _ in range(2):
        subprocess.run(["sh", "-c", line], env={"HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}, check=True)
    lines = (tmp_path / ".ssh" / "authorized_keys").read_text().splitlines()
    assert lines == ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOther admin", key.public_key.strip()]


def test_after_a_rotation_a_run_offers_both_keys_and_retires_the_old(tmp_path):
    """The run's inventory logs in with the new key, offers the previous one too, and tells the play which key
    to put in authorized_keys and which to take out; the previous private key sits in a 0600 file."""
    key = account_key()
    old = key.public_key
    key = keys.rotate(key, None)
    template = TemplateFactory(provider=key.account, init_method="ansible", init_vars={"dcp_ntp_servers": ["ntp"]})
    host = Host.objects.create(
        hostname="h1", pool=PoolFactory(), provider=key.account, template=template, private_ip="10.0.0.5"
    )
    inventory, _ = AnsibleRunner()._inventory(tmp_path, {"h1": host})
    found = inventory["all"]["hosts"]["h1"]
    assert found["dcp_ssh_authorized_key"] == key.public_key.strip()
    assert found["dcp_ssh_retired_keys"] == [old.split()[1]]
    previous = found["ansible_ssh_extra_args"].split("IdentityFile=")[1]
    with open(previous) as handle:
        assert handle.read().strip() == key.previous_private_key.strip()
    assert os.stat(previous).st_mode & 0o777 == 0o600


def test_the_console_shows_the_bootstrap_line_in_chinese_too(sysadmin):
    """The console's SSH keys page shows each key's one-line bootstrap, its heading translated."""
    from django.test import Client

    key = account_key()
    client = Client()
    client.force_login(sysadmin)
    page = client.get("/ssh-keys/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "引导命令" in page
    assert key.public_key.split()[1] in page and "authorized_keys" in page
