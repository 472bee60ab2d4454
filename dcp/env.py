"""Reading settings from environment variables, failing fast with the variable's name.

Every error names the variable and what a valid value looks like, so a
misconfigured deployment stops at start instead of failing on the first request.
"""

import base64
import binascii
import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

TRUE = {"1", "true", "yes", "on"}
FALSE = {"0", "false", "no", "off", ""}


def get(name: str, default: str | None = None, *, required: bool = False) -> str | None:
    """Return the variable's value, or default; raise if required and unset."""
    value = os.environ.get(name)
    if value is None or value == "":
        if required:
            raise ImproperlyConfigured(f"{name} must be set (DCP_ENV=production requires it).")
        return default
    return value


def get_bool(name: str, default: bool) -> bool:
    """Parse a boolean variable; anything but yes/no words is an error."""
    value = os.environ.get(name)
    if value is None:
        return default
    if value.strip().lower() in TRUE:
        return True
    if value.strip().lower() in FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean: use 1/0, true/false, yes/no.")


def get_int(name: str, default: int, *, minimum: int = 0) -> int:
    """Parse an integer variable no smaller than minimum."""
    return _number(name, default, minimum, int, "a whole number")


def get_float(name: str, default: float, *, minimum: float = 0.0) -> float:
    """Parse a finite decimal number variable no smaller than minimum."""
    return _number(name, default, minimum, float, "a finite number")


def _number(name: str, default, minimum, parse, what: str):
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        number = parse(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not {what}.") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise ImproperlyConfigured(f"{name}={value!r} is not {what}.")
    if number < minimum:
        raise ImproperlyConfigured(f"{name}={number} must be at least {minimum}.")
    return number


RATE_PERIODS = {
    **dict.fromkeys(("s", "sec", "second", "seconds"), 1),
    **dict.fromkeys(("m", "min", "minute", "minutes"), 60),
    **dict.fromkeys(("h", "hour", "hours"), 3600),
    **dict.fromkeys(("d", "day", "days"), 86400),
}


def get_rate(name: str, default: str) -> tuple[int, int]:
    """Parse a rate such as "30/min" into (count, seconds); the period is a second, minute, hour or day."""
    value = os.environ.get(name) or default
    count, _, period = value.replace(" ", "").partition("/")
    seconds = RATE_PERIODS.get(period.lower())
    if not count.isdigit() or int(count) < 1 or seconds is None:
        raise ImproperlyConfigured(f"{name}={value!r} is not a rate: give attempts per period, e.g. 30/min or 5/s.")
    return int(count), seconds


def get_list(name: str, default: list[str]) -> list[str]:
    """Parse a comma-separated list variable."""
    value = os.environ.get(name)
    if value is None:
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def get_networks(name: str, default: list[str]) -> list[str]:
    """Parse a comma-separated list of networks in CIDR notation (a bare address is a network of one)."""
    import ipaddress

    networks = get_list(name, default)
    for network in networks:
        try:
            ipaddress.ip_network(network, strict=False)
        except ValueError:
            raise ImproperlyConfigured(
                f"{name}: {network!r} is not a network; write addresses or CIDRs, e.g. 10.0.0.0/8,192.0.2.7"
            ) from None
    return networks


def get_currency(name: str, default: str) -> str:
    """Parse an ISO 4217 currency code variable (three capital letters, e.g. USD)."""
    from apps.costs.currencies import is_currency

    value = (os.environ.get(name) or default).strip()
    if not is_currency(value):
        raise ImproperlyConfigured(f"{name}={value!r} is not an ISO 4217 currency code: use e.g. USD, EUR, CNY, JPY.")
    return value


def get_language(name: str, default: str, languages: list[tuple[str, str]]) -> str:
    """Parse a language variable: one of the codes of ``languages`` (case and - or _ do not matter)."""
    value = (os.environ.get(name) or default).strip().lower().replace("_", "-")
    codes = [code for code, _ in languages]
    if value not in codes:
        raise ImproperlyConfigured(f"{name}={value!r} is not a language DCP speaks: use one of {', '.join(codes)}.")
    return value


def get_time_zone(name: str, default: str) -> str:
    """Parse an IANA time zone variable (e.g. UTC, Asia/Shanghai, Europe/Berlin)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    value = (os.environ.get(name) or default).strip()
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ImproperlyConfigured(
            f"{name}={value!r} is not an IANA time zone: use e.g. UTC, Asia/Shanghai, Europe/Berlin."
        ) from None
    return value


def check_url(name: str, value: str, schemes: set[str]) -> str:
    """Check that value is a URL with one of the given schemes."""
    parts = urlsplit(value)
    if parts.scheme not in schemes:
        allowed = ", ".join(sorted(schemes))
        raise ImproperlyConfigured(
            f"{name}={redact_url(value)!r} is not a valid URL: the scheme must be one of {allowed}."
        )
    return value


def redact_url(value: str) -> str:
    """Hide a password inside a URL so it can be printed in an error."""
    parts = urlsplit(value)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@")
        return parts._replace(netloc=netloc).geturl()
    return value


def check_fernet_keys(name: str, value: str) -> list[str]:
    """Parse a comma-separated list of Fernet keys (newest first, for rotation)."""
    keys = [key.strip() for key in value.split(",") if key.strip()]
    if not keys:
        raise ImproperlyConfigured(f"{name} is empty: give at least one Fernet key.")
    for key in keys:
        try:
            raw = base64.urlsafe_b64decode(key.encode())
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) != 32:
            raise ImproperlyConfigured(
                f"{name} holds a key that is not a Fernet key (32 url-safe base64 bytes). "
                'Make one with: python3 -c "import base64,os;print(base64.urlsafe_b64encode(os.urandom(32)).decode())"'
            )
    return keys


def local_secret(path: Path, make) -> str:
    """Read a secret kept in a file of the embedded setup, creating it on first use.

    The file is written under a temporary name and linked into place, so two
    processes starting at once (web and worker) agree on one value.
    """
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(make())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text().strip()


def new_secret_key() -> str:
    """A fresh Django SECRET_KEY."""
    return secrets.token_urlsafe(50)


def new_fernet_key() -> str:
    """A fresh Fernet key."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
