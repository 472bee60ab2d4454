"""Encryption of secrets at rest (Fernet, with key rotation) and a model field for it."""

import json
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.db import models


@lru_cache(maxsize=1)
def _fernet() -> MultiFernet:
    """The configured keys: the first encrypts, all of them decrypt."""
    return MultiFernet([Fernet(key.encode()) for key in settings.DCP_ENCRYPTION_KEYS])


def encrypt(plaintext: str) -> str:
    """Encrypt a string; the result is safe to store."""
    return _fernet().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    """Decrypt what encrypt() produced; raise ValueError if no key fits."""
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise ValueError("stored secret cannot be decrypted with DCP_ENCRYPTION_KEY") from None


class Secret(dict):
    """A decrypted secret mapping whose repr never shows the values."""

    def __repr__(self) -> str:
        return f"Secret(keys={sorted(self)})"

    __str__ = __repr__


class EncryptedJSONField(models.TextField):
    """A JSON object stored encrypted; reads back as a Secret (a dict that hides itself)."""

    description = "Encrypted JSON object"

    def from_db_value(self, value, expression, connection):
        """Decrypt on load."""
        if value is None or value == "":
            return Secret()
        return Secret(json.loads(decrypt(value)))

    def to_python(self, value):
        """Accept a dict as is."""
        if isinstance(value, dict):
            return Secret(value)
        if value in (None, ""):
            return Secret()
        return Secret(json.loads(decrypt(value)))

    def get_prep_value(self, value):
        """Encrypt on save."""
        return encrypt(json.dumps(dict(value or {}), sort_keys=True))

    def value_to_string(self, obj):
        """Serialization (dumpdata) never writes the plaintext."""
        return self.get_prep_value(self.value_from_object(obj))


class EncryptedTextField(models.TextField):
    """A string stored encrypted (a private key, a password); reads back as plaintext in memory only."""

    description = "Encrypted text"

    def from_db_value(self, value, expression, connection):
        """Decrypt on load."""
        if value is None or value == "":
            return ""
        return decrypt(value)

    def get_prep_value(self, value):
        """Encrypt on save; an empty value stays empty."""
        return encrypt(value) if value else ""

    def value_to_string(self, obj):
        """Serialization (dumpdata) never writes the plaintext."""
        return self.get_prep_value(self.value_from_object(obj))
