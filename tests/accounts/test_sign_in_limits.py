"""Guessing passwords is bounded on the token endpoint and the console's login page alike.

Per client address, DCP_AUTH_RATE attempts per period; per username,
DCP_LOGIN_LOCKOUT_FAILURES attempts lock it for DCP_LOGIN_LOCKOUT_SECONDS. The
client address is the connection's unless DCP_TRUSTED_PROXIES says how many
proxies append to X-Forwarded-For. Answers and the work done are the same for
unknown users as for wrong passwords; failures and lock-outs are audited
without the password; system administrators see and clear lock-outs.
"""

import json
import logging
import re
import time
from io import StringIO

import pytest
from django.contrib.auth.hashers import MD5PasswordHasher
from django.core.management import CommandError, call_command
from django.test import Client
from rest_framework.test import APIClient

from apps.accounts.models import Lockout, Token
from apps.core.models import AuditEntry
from tests.conftest import client_for
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"
WRONG = "Tr0ub4dor&3-not-it"
TOKEN_URL = "/api/v1/auth/token/"


@pytest.fixture
def member():
    """A user whose password is PASSWORD."""
    return UserFactory(username="scripter")


@pytest.fixture
def generous_rate(settings):
    """A client-address limit far above what a test sends, so only the username lock-out is in play."""
    settings.DCP_AUTH_RATE = (1000, 60)


def api(username: str, password: str, **headers):
    """POST credentials to the token endpoint, with extra request headers (REMOTE_ADDR, HTTP_X_FORWARDED_FOR)."""
    return APIClient().post(TOKEN_URL, {"username": username, "password": password}, format="json", **headers)


def console(username: str, password: str, client: Client | None = None, **headers):
    """POST credentials to the console's login page."""
    return (client or Client()).post("/login/", {"username": username, "password": password}, **headers)


# ---------------------------------------------------------------- per client address


def test_rotating_forwarded_for_does_not_reset_the_limit(member, settings):
    """With no trusted proxy (the default), X-Forwarded-For is the client's own words: changing it changes nothing."""
    settings.DCP_AUTH_RATE = (5, 60)
    answers = [api(f"guess-{n}", WRONG, HTTP_X_FORWARDED_FOR=f"198.51.100.{n}").status_code for n in range(1, 9)]
    assert answers == [400] * 5 + [429] * 3
    refused = api("scripter", PASSWORD, HTTP_X_FORWARDED_FOR="192.0.2.99")
    assert refused.status_code == 429 and "token" not in refused.json()
    assert int(refused["Retry-After"]) > 0
    assert "address" in refused.json()["detail"]
    assert list(Lockout.objects.filter(scope="address").values_list("key", flat=True)) == ["127.0.0.1"]


def test_trusted_proxies_name_the_client(member, settings):
    """Behind 2 trusted proxies the client is the address the outer proxy saw; what the client wrote is ignored."""
    settings.DCP_AUTH_RATE = (3, 60)
    settings.DCP_TRUSTED_PROXIES = 2
    proxy_outer, proxy_inner = "10.0.0.1", "10.0.0.2"

    def through_proxies(client_ip: str, spoofed: str):
        # The client sends its own X-Forwarded-For; the outer proxy appends the client, the inner the outer proxy.
        chain = f"{spoofed}, {client_ip}, {proxy_outer}"
        return api(f"who-{spoofed}", WRONG, REMOTE_ADDR=proxy_inner, HTTP_X_FORWARDED_FOR=chain).status_code

    first = [through_proxies("203.0.113.7", f"192.0.2.{n}") for n in range(5)]
    assert first == [400, 400, 400, 429, 429]
    # Another client behind the same proxies has its own count.
    assert through_proxies("203.0.113.8", "192.0.2.1") == 400
    keys = set(Lockout.objects.filter(scope="address").values_list("key", flat=True))
    assert keys == {"203.0.113.7", "203.0.113.8"}
    entry = AuditEntry.objects.filter(action="login_failed").first()
    assert entry.after["address"] in keys


def test_ipv6_clients_count_by_their_64(member, settings):
    """Addresses of one IPv6 /64 share a count: rotating the low bits gains nothing."""
    settings.DCP_AUTH_RATE = (2, 60)
    answers = [api(f"guess-{n}", WRONG, REMOTE_ADDR=f"2001:db8:1:2::{n:x}").status_code for n in range(1, 5)]
    assert answers == [400, 400, 429, 429]
    assert api("guess", WRONG, REMOTE_ADDR="2001:db8:1:3::1").status_code == 400
    assert Lockout.objects.filter(scope="address", key="2001:db8:1:2::/64").exists()


# ---------------------------------------------------------------- per username, both ways in


def test_console_login_is_limited(member):
    """80 wrong passwords on the console, then the right one: it is refused (the issue's case), with defaults."""
    client = Client()
    answers = [console("scripter", f"{WRONG}{n}", client).status_code for n in range(80)]
    assert answers[:9] == [200] * 9  # the login form again, saying the password is wrong
    assert set(answers[10:]) == {429}
    page = console("scripter", PASSWORD, client)
    assert page.status_code == 429 and b"Too many" in page.content
    assert client.get("/").status_code == 302  # still not signed in


def test_lockout_is_shared_by_the_api_and_the_console(member, settings, generous_rate):
    """Failures on one way in lock the username on the other, and the right password is refused meanwhile."""
    settings.DCP_LOGIN_LOCKOUT_FAILURES = 3
    assert [api("scripter", WRONG).status_code for _ in range(3)] == [400, 400, 400]
    page = console("scripter", PASSWORD)
    assert page.status_code == 429 and b"locked" in page.content
    refused = api("scripter", PASSWORD)
    assert refused.status_code == 429 and "locked" in refused.json()["detail"]

    UserFactory(username="operator")
    for _ in range(3):
        assert console("operator", WRONG).status_code == 200
    assert api("operator", PASSWORD).status_code == 429
    assert not Token.objects.exists()


def test_lockout_expires(member, settings, generous_rate):
    """A lock-out lasts DCP_LOGIN_LOCKOUT_SECONDS, then the right password works: nobody is locked out for good."""
    settings.DCP_LOGIN_LOCKOUT_FAILURES = 2
    settings.DCP_LOGIN_LOCKOUT_SECONDS = 1
    assert [api("scripter", WRONG).status_code for _ in range(3)] == [400, 400, 429]
    time.sleep(1.1)
    assert api("scripter", PASSWORD).status_code == 200


def test_successful_sign_in_starts_the_count_again(member, settings, generous_rate):
    """The count is of failures in a row: a successful sign-in between them resets it."""
    settings.DCP_LOGIN_LOCKOUT_FAILURES = 3
    for _ in range(2):
        assert [api("scripter", WRONG).status_code for _ in range(2)] == [400, 400]
        assert api("scripter", PASSWORD).status_code == 200


# ---------------------------------------------------------------- nothing tells users apart


class CountingHasher(MD5PasswordHasher):
    """MD5 (test speed) that counts how many passwords it hashed."""

    calls = 0

    def encode(self, password, salt):
        """Hash and count."""
        CountingHasher.calls += 1
        return super().encode(password, salt)


@pytest.mark.parametrize("way_in", ["api", "console"])
def test_unknown_user_is_answered_like_a_wrong_password(member, settings, generous_rate, way_in):
    """Attempt by attempt, through the lock-out, an unknown username gets the same answer and the same hashing work."""
    settings.DCP_LOGIN_LOCKOUT_FAILURES = 3
    settings.PASSWORD_HASHERS = [f"{__name__}.CountingHasher"]
    member.set_password(PASSWORD)
    member.save()

    def attempts(username: str) -> tuple[list, int]:
        CountingHasher.calls = 0
        if way_in == "api":
            answers = [(r.status_code, r.json()) for r in (api(username, WRONG) for _ in range(5))]
        else:
            # The page differs only by its CSRF token, which is masked afresh on every page.
            pages = (console(username, WRONG) for _ in range(5))
            answers = [(r.status_code, re.sub(r'value="[^"]+"', "", r.content.decode())) for r in pages]
        return answers, CountingHasher.calls

    known, known_work = attempts("scripter")
    unknown, unknown_work = attempts("nobody")
    assert known == unknown
    assert [status for status, _ in known] == ([400] * 3 if way_in == "api" else [200] * 3) + [429, 429]
    assert known_work == unknown_work == 3  # one hash per checked attempt, none while locked


# ---------------------------------------------------------------- audit, logs, system administrators


def test_failures_and_lockouts_are_logged_and_audited_without_the_password(
    member, settings, generous_rate, sysadmin, caplog
):
    """Each failure and the lock-out are audit entries naming the username and address; the password is nowhere."""
    caplog.set_level(logging.DEBUG)
    settings.DCP_LOGIN_LOCKOUT_FAILURES = 2
    api("scripter", WRONG)
    console("scripter", WRONG, REMOTE_ADDR="192.0.2.10")
    api("scripter", WRONG)  # locked now: refused without a look at the password
    failed = AuditEntry.objects.filter(action="login_failed").order_by("pk")
    assert [(e.username, e.after["address"], e.via) for e in failed] == [
        ("scripter", "127.0.0.1", "api"),
        ("scripter", "192.0.2.10", "console"),
        ("scripter", "127.0.0.1", "api"),
    ]
    assert failed[0].object_id == str(member.pk) and failed[2].after["reason"] == "locked out"
    lockout = AuditEntry.objects.get(action="lockout")
    assert lockout.object_repr == "username scripter" and lockout.after["attempts"] == 2
    assert "locked out" in caplog.text and "scripter" in caplog.text
    everything = json.dumps(list(AuditEntry.objects.values("before", "after", "object_repr", "username")))
    listed = client_for(sysadmin).get("/api/v1/audit/?limit=100").content.decode()
    for text in (everything, listed, caplog.text):
        assert WRONG not in text and PASSWORD not in text
    assert api("scripter", PASSWORD).status_code == 429
    assert not AuditEntry.objects.filter(action="login").exists()


def test_system_administrator_sees_and_clears_a_lockout(member, settings, generous_rate, clients, sysadmin):
    """GET /api/v1/lockouts/?locked=true shows it to system administrators only; DELETE lifts it, audited."""
    settings.DCP_LOGIN_LOCKOUT_FAILURES = 2
    for _ in range(2):
        api("scripter", WRONG)
    assert api("scripter", PASSWORD).status_code == 429

    for role in ("admin", "developer", "guest", "outsider"):
        assert clients[role].get("/api/v1/lockouts/").json()["count"] == 0
    listed = clients["sysadmin"].get("/api/v1/lockouts/?locked=true&scope=username").json()["results"]
    assert [(row["key"], row["locked"], row["attempts"]) for row in listed] == [("scripter", True, 2)]
    lockout_id = listed[0]["id"]
    refused = clients["sysadmin"].get("/api/v1/lockouts/?locked=-5")
    assert refused.status_code == 400 and refused.json() == {"locked": ["Give true or false."]}
    assert clients["admin"].delete(f"/api/v1/lockouts/{lockout_id}/").status_code == 403
    assert clients["anonymous"].get("/api/v1/lockouts/").status_code == 401

    assert clients["sysadmin"].delete(f"/api/v1/lockouts/{lockout_id}/").status_code == 204
    assert api("scripter", PASSWORD).status_code == 200
    cleared = AuditEntry.objects.get(action="delete", object_type__model="lockout")
    assert cleared.username == sysadmin.username and cleared.before["key"] == "scripter"
    assert AuditEntry.objects.filter(action="login", user=member).exists()


def test_clear_lockout_command(member, settings, generous_rate):
    """manage.py clear_lockout USERNAME lifts a lock-out from the shell; an unknown key is an error."""
    settings.DCP_LOGIN_LOCKOUT_FAILURES = 1
    api("scripter", WRONG)
    assert api("scripter", PASSWORD).status_code == 429
    out = StringIO()
    call_command("clear_lockout", "scripter", stdout=out)
    assert "scripter" in out.getvalue()
    assert api("scripter", PASSWORD).status_code == 200
    with pytest.raises(CommandError, match="nothing to clear"):
        call_command("clear_lockout", "nobody", stdout=StringIO())
