"""The console's account pages: one's tokens (make, see once, revoke), one's password, users' tokens for admins.

Driven with Django's test client as a browser would, reading the pages it gets;
whether a key still works is asked of the REST API.
"""

import re

import pytest
from django.test import Client

from apps.accounts.models import Token
from tests.accounts.test_token_lifecycle import login_key, works
from tests.accounts.test_tokens import PASSWORD
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

KEY_ON_PAGE = re.compile(rb'id="token-key" readonly size="50" value="([0-9a-f]{40})"')


@pytest.fixture
def alice():
    """A user (password PASSWORD)."""
    return UserFactory(username="alice")


def browser(user) -> Client:
    """A browser session signed in as user."""
    client = Client()
    client.force_login(user)
    return client


def new_token(client: Client, **fields):
    """Submit the new-token form (the right password unless fields say otherwise)."""
    form = {"name": "deploy script", "description": "", "expires_in_days": 30, "password": PASSWORD, **fields}
    return client.post("/account/tokens/new/", form)


def test_account_page_lists_tokens_without_keys(alice):
    """The account page lists each token's name, prefix, origin and dates, never its key or hash; nav links to it."""
    key = login_key("alice", name="cron scale-out")
    works(key)
    token = Token.objects.get(user=alice)
    client = browser(alice)
    page = client.get("/account/")
    assert page.status_code == 200
    minute = "%Y-%m-%d %H:%M"
    shown = ("cron scale-out", f"{token.prefix}…", "Password exchange", token.expires_at.strftime(minute))
    for text in (*shown, token.last_used_at.strftime(minute)):
        assert text.encode() in page.content
    assert key.encode() not in page.content
    assert token.key_hash.encode() not in page.content
    assert b'href="/account/"' in client.get("/").content


def test_new_token_key_is_shown_once(alice):
    """Making a token shows its key on that page only (not cached); the key works; the account page never shows it."""
    client = browser(alice)
    answer = new_token(client, name="ci deploy", expires_in_days=30)
    assert answer.status_code == 200, answer.content
    key = KEY_ON_PAGE.search(answer.content).group(1).decode()
    assert "no-store" in answer["Cache-Control"]
    assert b"shown only this once" in answer.content
    assert works(key)
    token = Token.objects.get(user=alice)
    assert (token.name, token.origin) == ("ci deploy", "console")
    assert 29 <= (token.expires_at - token.created_at).days <= 30
    later = client.get("/account/")
    assert b"ci deploy" in later.content
    assert key.encode() not in later.content


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"password": "wrong horse battery"}, b"Your password is wrong"),
        ({"password": ""}, b"This field is required"),
        ({"expires_in_days": 100000}, b"less than or equal to 365"),
        ({"expires_in_days": 0}, b"greater than or equal to 1"),
        ({"name": ""}, b"This field is required"),
    ],
    ids=["wrong-password", "no-password", "past-maximum", "zero-days", "no-name"],
)
def test_new_token_refusals(alice, fields, words):
    """A wrong password, an expiry out of bounds or no name: the form again with the reason, and no token."""
    answer = new_token(browser(alice), **fields)
    assert answer.status_code == 400
    assert words in answer.content
    assert not KEY_ON_PAGE.search(answer.content)
    assert not Token.objects.exists()


def test_never_expiring_token_only_where_allowed(alice, settings):
    """The "never expires" box is offered only with DCP_TOKEN_ALLOW_NO_EXPIRY, and then makes such a token."""
    client = browser(alice)
    assert b'name="no_expiry"' not in client.get("/account/").content
    settings.DCP_TOKEN_ALLOW_NO_EXPIRY = True
    assert b'name="no_expiry"' in client.get("/account/").content
    answer = new_token(client, expires_in_days="", no_expiry="on")
    assert answer.status_code == 200, answer.content
    assert Token.objects.get(user=alice).expires_at is None
    assert b"never expires" in answer.content


def test_revoke_asks_first_then_revokes(alice):
    """Revoke shows a confirmation that changes nothing; confirming revokes at once and says so."""
    key = login_key("alice")
    token = Token.objects.get(user=alice)
    client = browser(alice)
    ask = client.get(f"/tokens/{token.pk}/revoke/")
    assert ask.status_code == 200
    assert b"cannot be undone" in ask.content and b'method="post"' in ask.content
    assert works(key)
    done = client.post(f"/tokens/{token.pk}/revoke/", follow=True)
    assert done.redirect_chain[-1][0] == "/account/"
    assert b"was revoked" in done.content
    assert not works(key)


def test_another_users_token_does_not_exist(alice):
    """Alice cannot see or revoke Bob's token from the console: 404, and it keeps working."""
    UserFactory(username="bob")
    key = login_key("bob")
    token = Token.objects.get(user__username="bob")
    client = browser(alice)
    assert client.get(f"/tokens/{token.pk}/revoke/").status_code == 404
    assert client.post(f"/tokens/{token.pk}/revoke/").status_code == 404
    assert works(key)


def change(client: Client, current: str, new: str, again: str | None = None):
    """Submit the change-password form."""
    form = {"current_password": current, "new_password": new, "new_password_again": new if again is None else again}
    return client.post("/account/password/", form)


def test_password_change_in_console(alice):
    """The user changes their password: told so, every token revoked, the new password is the one that works."""
    key = login_key("alice")
    client = browser(alice)
    assert client.get("/account/password/").status_code == 200
    done = client.post(
        "/account/password/",
        {
            "current_password": PASSWORD,
            "new_password": "a new long passphrase",
            "new_password_again": "a new long passphrase",
        },
        follow=True,
    )
    assert done.status_code == 200
    assert b"Your password was changed; 1 API token was revoked" in done.content
    assert not works(key)
    alice.refresh_from_db()
    assert alice.check_password("a new long passphrase")


@pytest.mark.parametrize(
    ("current", "new", "again", "words"),
    [
        ("wrong horse battery", "a new long passphrase", None, b"Your current password is wrong"),
        (PASSWORD, "a new long passphrase", "another long passphrase", b"The two new passwords differ"),
        (PASSWORD, "short", None, b"too short"),
        (PASSWORD, "password123", None, b"too common"),
    ],
    ids=["wrong-current", "mismatch", "too-short", "too-common"],
)
def test_password_change_refusals_in_console(alice, current, new, again, words):
    """A wrong current password, two different new ones, or one the rules refuse: the reason, and no change."""
    key = login_key("alice")
    answer = change(browser(alice), current, new, again)
    assert answer.status_code == 400
    assert words in answer.content
    assert works(key)
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)


def test_system_administrator_sees_and_revokes_a_users_tokens(alice, sysadmin):
    """A system administrator finds a user in Users, sees their tokens, revokes one, then (after asking) all."""
    keys = [login_key("alice", name=f"script {n}") for n in range(3)]
    root = browser(sysadmin)
    assert b'href="/users/"' in root.get("/").content
    users = root.get("/users/")
    assert users.status_code == 200 and f'href="/users/{alice.pk}/tokens/"'.encode() in users.content
    page = root.get(f"/users/{alice.pk}/tokens/")
    assert all(f"script {n}".encode() in page.content for n in range(3))
    assert not any(key.encode() in page.content for key in keys)
    first = Token.objects.get(name="script 0")
    done = root.post(f"/tokens/{first.pk}/revoke/", follow=True)
    assert done.redirect_chain[-1][0] == f"/users/{alice.pk}/tokens/"
    assert [works(key) for key in keys] == [False, True, True]
    ask = root.get(f"/users/{alice.pk}/tokens/revoke/")
    assert b"Revoke all 2 tokens of alice?" in ask.content
    assert works(keys[1])
    done = root.post(f"/users/{alice.pk}/tokens/revoke/", follow=True)
    assert b"2 tokens of alice were revoked" in done.content
    assert [works(key) for key in keys] == [False, False, False]


def test_users_pages_are_for_system_administrators(alice):
    """Anyone else gets 403 on the users pages, and no Users link."""
    bob = UserFactory(username="bob")
    client = browser(alice)
    for url in ("/users/", f"/users/{bob.pk}/tokens/", f"/users/{bob.pk}/tokens/revoke/"):
        assert client.get(url).status_code == 403
    assert client.post(f"/users/{bob.pk}/tokens/revoke/").status_code == 403
    assert b'href="/users/"' not in client.get("/").content


def test_account_pages_need_login():
    """Anonymous visitors are sent to the login page."""
    for url in ("/account/", "/account/password/", "/users/", "/tokens/1/revoke/"):
        answer = Client().get(url)
        assert answer.status_code == 302 and answer["Location"].startswith("/login/")
