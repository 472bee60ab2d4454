"""What counts as a secret in a provider account, so that it lives only in the encrypted credentials.

An account's ``options`` and ``endpoint_url`` are stored in plain text, shown
to system administrators and copied into audit entries; ``credentials`` are
encrypted at rest and never shown. These checks keep secrets out of the
former: the API refuses them there (naming the field), and a data migration
moved those already stored into the credentials.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

# Argument names that carry a credential: passwords, tokens, secrets, private keys, API keys.
SECRET_NAME = re.compile(
    r"token|passw|passphrase|(^|_)pass($|_)|secret|private|key_?data|api_?key|access_?key|credential",
    re.IGNORECASE,
)
# Names the pattern catches that hold no credential (Libcloud OpenStack: "project" or "domain").
NOT_SECRET = {"ex_token_scope"}
MASK = "***"


def looks_secret(name: Any) -> bool:
    """Whether an option or driver argument of this name holds a credential."""
    return isinstance(name, str) and name not in NOT_SECRET and bool(SECRET_NAME.search(name))


def url_has_credentials(value: Any) -> bool:
    """Whether a string is a URL with credentials in it (``https://user:password@host``, ``https://token@host``)."""
    if not isinstance(value, str) or "@" not in value or "://" not in value:
        return False
    parts = urlsplit(value.strip())
    return bool(parts.username or parts.password)


def with_userinfo(url: str, userinfo: str = "") -> str:
    """The URL with its credentials taken out, or replaced by userinfo."""
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return parts._replace(netloc=f"{userinfo}@{host}" if userinfo else host).geturl()


def secret_paths(value: Any, path: str) -> list[str]:
    """Dotted paths inside a JSON value whose key looks secret or whose text is a URL with credentials."""
    if isinstance(value, dict):
        found = []
        for key, item in value.items():
            where = f"{path}.{key}"
            found.extend([where] if looks_secret(key) else secret_paths(item, where))
        return found
    if isinstance(value, list):
        return [found for index, item in enumerate(value) for found in secret_paths(item, f"{path}[{index}]")]
    return [path] if url_has_credentials(value) else []


def masked(value: Any) -> Any:
    """A copy of a JSON value with every secret-looking key's value and every URL's credentials replaced by ***."""
    if isinstance(value, dict):
        return {key: MASK if looks_secret(key) else masked(item) for key, item in value.items()}
    if isinstance(value, list):
        return [masked(item) for item in value]
    return with_userinfo(value, MASK) if url_has_credentials(value) else value
