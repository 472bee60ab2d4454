"""SSH key pairs: made by DCP (Ed25519), one per provider account unless a pool has its own."""

from __future__ import annotations

import base64
import hashlib

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from django.db import IntegrityError, transaction

from apps.configuration.models import SSHKey


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
    pool_key = SSHKey.objects.filter(pool_id=host.pool_id).first()
    if pool_key is not None:
        return pool_key
    account_key = SSHKey.objects.filter(account_id=host.provider_id).first()
    if account_key is not None:
        return account_key
    try:
        with transaction.atomic():
            key = new_key(account=host.provider)
            key.save()
            return key
    except IntegrityError:
        # Another worker made the account's key at the same moment: use theirs.
        return SSHKey.objects.get(account_id=host.provider_id)
