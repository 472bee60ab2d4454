"""dcp login and logout: a token in a 0600 file, never the password; profiles; the token revoked on logout."""

import fcntl
import os
import pty
import select
import stat
import subprocess
import sys
import termios
import time
import tomllib

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher

from apps.accounts.models import Token
from tests.cli.conftest import Dcp

pytestmark = pytest.mark.django_db(transaction=True)
PASSWORD = "correct horse battery staple"


@pytest.fixture
def anonymous(server, demo, tmp_path):
    """The CLI with no DCP_URL nor DCP_TOKEN: only what login stores; the developer has a password."""
    # The server hashes with its own (default) hashers, so the stored hash must be one of theirs.
    demo.developer.password = PBKDF2PasswordHasher().encode(PASSWORD, PBKDF2PasswordHasher().salt())
    demo.developer.save(update_fields=["password"])
    home = tmp_path / "home"
    home.mkdir()
    return Dcp(home)


def test_login_stores_a_named_token_with_mode_0600_and_no_password(anonymous, server):
    """The profile holds URL, username and token; the file is its owner's only; the token then signs in."""
    done = anonymous("login", "--url", server.url, "-u", "scripter", "--password-stdin", stdin=PASSWORD + "\n")
    assert done.returncode == 0, done.stderr
    assert "Logged in" in done.stderr and "expires" in done.stderr
    assert stat.S_IMODE(anonymous.config.stat().st_mode) == 0o600
    assert stat.S_IMODE(anonymous.config.parent.stat().st_mode) == 0o700
    text = anonymous.config.read_text()
    assert PASSWORD not in text
    profile = tomllib.loads(text)["profiles"]["default"]
    assert profile["url"] == server.url and profile["username"] == "scripter"
    token = Token.objects.get(pk=profile["token_id"])
    assert token.user.username == "scripter" and token.name.startswith("dcp-cli on ")
    assert profile["token"].startswith(token.prefix) and token.expires_at is not None

    pools = anonymous.json("pool", "list")
    assert [pool["name"] for pool in pools] == ["web"]


def test_profiles_are_chosen_by_flag_or_environment(anonymous, server):
    """--profile and DCP_PROFILE name the profile written and read; another profile is not logged in."""
    done = anonymous(
        "login", "--profile", "prod", "--url", server.url, "-u", "scripter", "--password-stdin", stdin=PASSWORD
    )
    assert done.returncode == 0, done.stderr
    assert set(tomllib.loads(anonymous.config.read_text())["profiles"]) == {"prod"}
    assert anonymous.json("pool", "list", env={"DCP_PROFILE": "prod"})[0]["name"] == "web"
    assert anonymous.json("pool", "list", "--profile", "prod")[0]["name"] == "web"
    missing = anonymous("pool", "list")
    assert missing.returncode == 4 and "dcp login" in missing.stderr


def test_wrong_password_is_an_auth_failure_and_stores_nothing(anonymous, server):
    """The API's own message, exit 4, no file written."""
    done = anonymous("login", "--url", server.url, "-u", "scripter", "--password-stdin", stdin="wrong password\n")
    assert done.returncode == 4, (done.stdout, done.stderr)
    assert done.stderr.startswith("Error: ")
    assert not anonymous.config.exists()


def test_logout_revokes_the_token(anonymous, server):
    """After logout the token is gone from DCP and from the profile; the next command is refused (exit 4)."""
    anonymous("login", "--url", server.url, "-u", "scripter", "--password-stdin", stdin=PASSWORD)
    profile = tomllib.loads(anonymous.config.read_text())["profiles"]["default"]
    done = anonymous("logout")
    assert done.returncode == 0, done.stderr
    assert not Token.objects.filter(pk=profile["token_id"]).exists()
    left = tomllib.loads(anonymous.config.read_text())["profiles"]["default"]
    assert "token" not in left and left["url"] == server.url
    after = anonymous("pool", "list")
    assert after.returncode == 4
    # The revoked token itself, given again, is refused by the server with its own message.
    refused = anonymous("pool", "list", env={"DCP_URL": server.url, "DCP_TOKEN": profile["token"]})
    assert refused.returncode == 4 and refused.stderr.startswith("Error: ")


def test_environment_overrides_the_profile(dcp, demo):
    """DCP_URL and DCP_TOKEN alone are enough: no profile file is needed or written."""
    assert dcp.json("pool", "show", "demo/web")["id"] == demo.pool.pk
    assert not dcp.config.exists()


def test_login_stores_a_token_made_elsewhere(anonymous, server, demo):
    """--token-stdin checks the token against the server and stores it with its id; a bad one is refused."""
    token, key = Token.issue(demo.developer, "deploy pipeline")
    done = anonymous("login", "--url", server.url, "--token-stdin", stdin=key + "\n")
    assert done.returncode == 0, done.stderr
    profile = tomllib.loads(anonymous.config.read_text())["profiles"]["default"]
    assert (profile["token_id"], profile["token_name"], profile["username"]) == (
        token.pk,
        "deploy pipeline",
        "scripter",
    )
    assert anonymous("logout").returncode == 0
    assert not Token.objects.filter(pk=token.pk).exists()

    refused = anonymous("login", "--url", server.url, "--token-stdin", stdin="0123456789abcdef\n")
    assert refused.returncode == 4 and "Invalid token" in refused.stderr
    assert "token" not in tomllib.loads(anonymous.config.read_text())["profiles"]["default"]


def test_login_asks_at_a_terminal_for_what_it_is_not_given_and_never_echoes_the_password(anonymous, server):
    """Run by a person: `dcp login` with no option asks for the URL, the username and the password on its
    terminal (a pseudo-terminal that is its controlling terminal, read here); what is typed as the password is not
    shown back, and the profile then signs in."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("DCP_")}
    environment.update(
        HOME=str(anonymous.home), XDG_CONFIG_HOME=str(anonymous.home / "config"), TERM="xterm", COLUMNS="200"
    )
    master, slave = pty.openpty()

    def own_terminal():  # the child's controlling terminal, as a shell gives it: getpass turns echo off there
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    process = subprocess.Popen(
        [sys.executable, "-m", "dcp_cli", "login"],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env=environment,
        cwd=anonymous.home,
        preexec_fn=own_terminal,  # noqa: PLW1509 - no threads touch the child between fork and exec
    )
    os.close(slave)
    seen = bytearray()

    def answer(prompt: bytes, reply: str) -> None:
        deadline = time.monotonic() + 60
        while prompt not in seen:
            assert time.monotonic() < deadline, f"no {prompt!r} prompt; the terminal shows {seen.decode()!r}"
            if select.select([master], [], [], 1)[0]:
                seen.extend(os.read(master, 4096))
        os.write(master, reply.encode() + b"\r")

    try:
        answer(b"DCP URL", server.url)
        answer(b"Username", "scripter")
        before = len(seen)
        answer(b"Password", PASSWORD)
        deadline = time.monotonic() + 60
        while process.poll() is None and time.monotonic() < deadline:
            if select.select([master], [], [], 0.5)[0]:
                try:
                    seen.extend(os.read(master, 4096))
                except OSError:
                    break
        assert process.wait(timeout=30) == 0, seen.decode()
    finally:
        process.kill()
        os.close(master)
    shown = seen.decode(errors="replace")
    assert server.url in shown and "scripter" in shown  # echoed as typed
    assert PASSWORD not in shown[before:]
    assert "Logged in" in shown
    profile = tomllib.loads(anonymous.config.read_text())["profiles"]["default"]
    assert (profile["url"], profile["username"]) == (server.url, "scripter")
    assert PASSWORD not in anonymous.config.read_text()
    assert [pool["name"] for pool in anonymous.json("pool", "list")] == ["web"]
