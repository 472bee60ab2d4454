"""SSH key pairs: made by DCP (Ed25519), one per provider account unless a pool has its own."""

from __future__ import annotations

import base64
import hashlib
import shlex

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.configuration.models import SSHKey
from apps.core import audit
from apps.core.models import AuditAction


def generate() -> tuple[str, str]:
    """A new key pair as (OpenSSH private key, public key line)."""
    key = ed25519.Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    ).decode()
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return private, public.decode()


def load(private_key: str) -> str:
    """The public key line of an OpenSSH or PEM private key; ValueError saying what is wrong otherwise."""
    try:
        key = serialization.load_ssh_private_key(private_key.encode(), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        try:
            key = serialization.load_pem_private_key(private_key.encode(), password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            raise ValueError(
                "Not an unencrypted OpenSSH or PEM private key (ed25519, ecdsa or rsa); "
                "remove the passphrase or let DCP generate the key."
            ) from None
    try:
        public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    except ValueError:
        raise ValueError("This key type cannot be used for SSH; use ed25519, ecdsa or rsa.") from None
    return public.decode()


def fingerprint(public_key: str) -> str:
    """The SHA256 fingerprint ssh-keygen -l prints."""
    blob = base64.b64decode(public_key.split()[1])
    return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")


def new_key(*, account=None, pool=None, private_key: str = "") -> SSHKey:
    """An SSHKey for an account or a pool, from an imported private key or a fresh one."""
    public = load(private_key) if private_key else ""
    if not private_key:
        private_key, public = generate()
    return SSHKey(
        account=account, pool=pool, private_key=private_key, public_key=public, fingerprint=fingerprint(public)
    )


def key_for(host) -> SSHKey:
    """The key DCP logs in to host with: the pool's own, else its provider account's (made on first need)."""
    return key_of(host.pool_id, host.provider_id)


def key_of(pool_id: int | None, account_id: int) -> SSHKey:
    """The key of a pool's hosts on an account: the pool's own, else the account's (made on first need)."""
    pool_key = SSHKey.objects.filter(pool_id=pool_id).first() if pool_id else None
    if pool_key is not None:
        return pool_key
    account_key = SSHKey.objects.filter(account_id=account_id).first()
    if account_key is not None:
        return account_key
    try:
        with transaction.atomic():
            key = new_key()
            key.account_id = account_id
            key.save()
            return key
    except IntegrityError:
        # Another worker made the account's key at the same moment: use theirs.
        return SSHKey.objects.get(account_id=account_id)


def rotate(key: SSHKey, user, private_key: str = "") -> SSHKey:
    """Give key a new pair (imported from private_key, else generated), keeping the current one as previous.

    New hosts get the new key (its key pair name in the clouds follows its fingerprint, so the next create
    imports it); existing hosts still trust the previous one, which DCP offers too until their next
    initialization puts the new key in authorized_keys and takes the previous one out. The pair before the
    previous one is forgotten. ValueError (saying what is wrong) for a private key DCP cannot use.
    """
    fresh = new_key(pool=key.pool, account=key.account, private_key=private_key)
    with transaction.atomic():
        key = SSHKey.objects.select_for_update().get(pk=key.pk)
        if fresh.fingerprint == key.fingerprint:
            raise ValueError("This is the key in use; give another one, or none to let DCP generate one.")
        before = audit.snapshot(key)
        key.previous_public_key, key.previous_private_key = key.public_key, key.private_key
        key.public_key, key.private_key, key.fingerprint = fresh.public_key, fresh.private_key, fresh.fingerprint
        key.rotated_at = timezone.now()
        key.save()
        audit.record(user, AuditAction.UPDATE, key, before, audit.snapshot(key))
    return key


def bootstrap_command(public_key: str) -> str:
    """The one line that lets DCP log in to a machine: run as the user DCP logs in as (root unless the template's
    dcp_ssh_user says otherwise), it adds the key to that user's authorized_keys once (running it again
    changes nothing)."""
    key = shlex.quote(public_key.strip())
    path = "~/.ssh/authorized_keys"
    return f"umask 077 && mkdir -p ~/.ssh && touch {path} && (grep -qxF {key} {path} || echo {key} >> {path})"
