"""Profiles in ~/.config/dcp/config.toml (XDG_CONFIG_HOME honoured), readable by their owner only.

Like the AWS CLI's profiles: each names a DCP server and the token that
signs in there. The file holds tokens, never passwords, and is written
with mode 0600 in a directory of mode 0700. ``--profile`` or
``DCP_PROFILE`` choose a profile (default ``default``); ``DCP_URL`` and
``DCP_TOKEN`` override what the profile says.
"""

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

import tomli_w

from dcp_cli.exits import AUTH, USAGE, CliError

DEFAULT_PROFILE = "default"


def config_path() -> Path:
    """Where the profiles live."""
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "dcp" / "config.toml"


def load() -> dict:
    """The whole file as a dict ({} when there is none yet)."""
    path = config_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise CliError(f"{path} is not valid TOML ({exc}); fix or remove it.", USAGE) from None


def save(data: dict) -> Path:
    """Write the file with mode 0600 (its directory 0700), replacing it whole so it is never half written."""
    path = config_path()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as out:
        tomli_w.dump(data, out)
    os.chmod(temporary, 0o600)  # the umask may have narrowed it; never widened
    os.replace(temporary, path)
    return path


def profile_name(chosen: str | None) -> str:
    """--profile, else DCP_PROFILE, else 'default'."""
    return chosen or os.environ.get("DCP_PROFILE") or DEFAULT_PROFILE


def read_profile(name: str) -> dict:
    """One profile's settings ({} when it does not exist)."""
    return dict(load().get("profiles", {}).get(name, {}))


def write_profile(name: str, values: dict) -> Path:
    """Replace one profile's settings, keeping the others."""
    data = load()
    data.setdefault("profiles", {})[name] = {key: value for key, value in values.items() if value is not None}
    return save(data)


@dataclass(frozen=True)
class Target:
    """The server to talk to and the token to sign in with."""

    profile: str
    url: str
    token: str | None
    token_id: int | None = None


def target(chosen_profile: str | None, *, need_token: bool = True) -> Target:
    """The profile's URL and token, overridden by DCP_URL and DCP_TOKEN."""
    name = profile_name(chosen_profile)
    stored = read_profile(name)
    url = os.environ.get("DCP_URL") or stored.get("url")
    token = os.environ.get("DCP_TOKEN") or stored.get("token")
    if not url:
        raise CliError(f"No DCP server for profile {name!r}: run `dcp login` or set DCP_URL and DCP_TOKEN.", AUTH)
    if need_token and not token:
        raise CliError(f"Not logged in (profile {name!r}): run `dcp login` or set DCP_TOKEN.", AUTH)
    # The token id is only known for the profile's own token, not for one DCP_TOKEN brings.
    token_id = stored.get("token_id") if token == stored.get("token") else None
    return Target(profile=name, url=url.rstrip("/"), token=token, token_id=token_id)
