"""The life of an API token through the API: named tokens with expiries, listing, revoking, and what revokes them.

Every check goes through the REST API as a script would, and reads the result
there: a revoked or expired token is one the next request is refused with (401).
"""

import importlib
from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth.hashers import get_hasher
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from rest_framework.test import APIClient

from apps.accounts.models import Token
from apps.core.models import AuditEntry
from tests.accounts.test_tokens import PASSWORD, TOKEN_URL, obtain, with_token
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

TOKENS_URL = "/api/v1/tokens/"
LISTED_FIELDS = {
    "id",
    "user",
    "username",
    "name",
    "description",
    "prefix",
    "origin",
    "created_at",
    "expires_at",
    "last_used_at",
    "expired",
}


@pytest.fixture
def alice():
    """A user (password PASSWORD)."""
    return UserFactory(username="alice")


@pytest.fixture
def bob():
    """Another user (password PASSWORD)."""
    return UserFactory(username="bob")


def login_key(username: str, **extra) -> str:
    """A token got by exchanging the password."""
    response = APIClient().post(TOKEN_URL, {"username": username, "password": PASSWORD, **extra}, format="json")
    assert response.status_code == 200, response.content
    return response.json()["token"]


def works(key: str) -> bool:
    """Whether a request signed with key is let in (and not refused with 401)."""
    status = with_token(key).get("/api/v1/clusters/").status_code
    assert status in (200, 401)
    return status == 200


def make_token(key: str, **body):
    """POST /api/v1/tokens/ signed with key; the password is the right one unless body says otherwise."""
    return with_token(key).post(TOKENS_URL, {"password": PASSWORD, **body}, format="json")


def ahead(response_value: str) -> timedelta:
    """How far ahead of now an expiry in an answer is."""
    return parse_datetime(response_value) - timezone.now()


# ---------------------------------------------------------------- password exchange


def test_exchange_token_is_short_lived_and_named(alice):
    """A token from the password exchange expires after DCP_TOKEN_EXCHANGE_HOURS; the answer says when and its name."""
    body = APIClient().post(TOKEN_URL, {"username": "alice", "password": PASSWORD}, format="json").json()
    hours = timedelta(hours=settings.DCP_TOKEN_EXCHANGE_HOURS)
    assert hours - timedelta(minutes=5) < ahead(body["expires_at"]) <= hours
    assert hours < timedelta(days=settings.DCP_TOKEN_DEFAULT_DAYS)
    assert body["name"] == "password exchange"
    named = APIClient().post(
        TOKEN_URL, {"username": "alice", "password": PASSWORD, "name": "nightly scale-in"}, format="json"
    )
    assert named.json()["name"] == "nightly scale-in"
    listed = with_token(body["token"]).get(f"{TOKENS_URL}{body['id']}/").json()
    assert (listed["origin"], listed["expires_at"]) == ("password", body["expires_at"])


def test_logins_do_not_pile_up_tokens(alice, settings):
    """Past DCP_TOKEN_EXCHANGE_MAX live exchange tokens, each login revokes the oldest; named tokens are kept."""
    settings.DCP_TOKEN_EXCHANGE_MAX = 3
    named = make_token(login_key("alice"), name="deploy script").json()["key"]
    keys = [login_key("alice") for _ in range(5)]
    assert [works(key) for key in keys] == [False, False, True, True, True]
    assert works(named)
    assert Token.objects.filter(user=alice, origin="password").count() == 3
    revoked = AuditEntry.objects.filter(action="delete", object_type__model="token")
    assert revoked.count() == 3  # the two oldest of the five, and the one that made the named token
    assert all(entry.username == "alice" for entry in revoked)


def test_expired_tokens_are_cleared_when_a_new_one_is_made(alice):
    """Expired tokens never work again; they are deleted when the user gets a new token, not kept for ever."""
    old = login_key("alice")
    Token.objects.filter(user=alice).update(expires_at=timezone.now() - timedelta(minutes=1))
    assert not works(old)
    login_key("alice")
    assert Token.objects.filter(user=alice).count() == 1


# ---------------------------------------------------------------- named tokens


def test_named_token_key_is_shown_once(alice):
    """POST /tokens/ answers the key once; the list and the detail show name, prefix, dates, never the key or hash."""
    made = make_token(login_key("alice"), name="ci deploy", description="GitLab CI of payments")
    assert made.status_code == 201, made.content
    body = made.json()
    assert set(body) == LISTED_FIELDS | {"key"}
    key = body["key"]
    assert (body["name"], body["origin"], body["username"]) == ("ci deploy", "api", "alice")
    assert key.startswith(body["prefix"]) and len(body["prefix"]) < len(key)
    default = timedelta(days=settings.DCP_TOKEN_DEFAULT_DAYS)
    assert default - timedelta(minutes=5) < ahead(body["expires_at"]) <= default
    assert works(key)
    client = with_token(key)
    listed = client.get(TOKENS_URL).json()["results"]
    assert {item["name"] for item in listed} == {"ci deploy", "password exchange"}
    detail = client.get(f"{TOKENS_URL}{body['id']}/")
    for answer in (client.get(TOKENS_URL), detail):
        assert key.encode() not in answer.content
        assert Token.objects.get(pk=body["id"]).key_hash.encode() not in answer.content
    assert set(detail.json()) == LISTED_FIELDS
    assert detail.json()["last_used_at"] is not None  # the request that listed it used it


def test_named_token_with_chosen_expiry(alice):
    """A chosen expiry up to DCP_TOKEN_MAX_DAYS is kept as given."""
    chosen = (timezone.now() + timedelta(days=settings.DCP_TOKEN_MAX_DAYS - 1)).replace(microsecond=0)
    made = make_token(login_key("alice"), name="yearly", expires_at=chosen.isoformat())
    assert made.status_code == 201, made.content
    assert parse_datetime(made.json()["expires_at"]) == chosen
    assert works(made.json()["key"])


@pytest.mark.parametrize(
    ("expires", "words"),
    [
        (lambda: timezone.now() + timedelta(days=settings.DCP_TOKEN_MAX_DAYS + 1), "at most"),
        (lambda: timezone.now() - timedelta(minutes=1), "future"),
        (lambda: None, "must expire"),
    ],
    ids=["past-maximum", "past", "never"],
)
def test_named_token_expiry_out_of_policy(alice, expires, words):
    """Beyond the maximum, in the past, or never (not allowed by default): 400 on expires_at, no token made."""
    key = login_key("alice")
    value = expires()
    answer = make_token(key, name="too long", expires_at=value.isoformat() if value else None)
    assert answer.status_code == 400
    assert words in " ".join(answer.json()["expires_at"])
    assert not Token.objects.filter(name="too long").exists()


def test_never_expiring_token_where_allowed(alice, settings):
    """With DCP_TOKEN_ALLOW_NO_EXPIRY on, expires_at null makes a token that never expires."""
    settings.DCP_TOKEN_ALLOW_NO_EXPIRY = True
    made = make_token(login_key("alice"), name="forever", expires_at=None)
    assert made.status_code == 201, made.content
    assert made.json()["expires_at"] is None
    assert works(made.json()["key"])


@pytest.mark.parametrize("password", ["wrong horse battery", None], ids=["wrong", "missing"])
def test_named_token_needs_the_password(alice, password):
    """A token (or session) alone cannot mint a longer-lived token: the password must come with the request."""
    key = login_key("alice")
    body = {"name": "stolen"} if password is None else {"name": "stolen", "password": password}
    answer = with_token(key).post(TOKENS_URL, body, format="json")
    assert answer.status_code == 400
    assert "password" in answer.json()
    assert not Token.objects.filter(name="stolen").exists()


# ---------------------------------------------------------------- seeing and revoking


def test_users_see_and_revoke_only_their_own_tokens(alice, bob):
    """Bob's tokens do not exist for Alice: not listed, 404 to read or revoke, and they keep working."""
    alice_key, bob_key = login_key("alice"), login_key("bob")
    bob_token = Token.objects.get(user=bob)
    client = with_token(alice_key)
    assert [item["username"] for item in client.get(TOKENS_URL).json()["results"]] == ["alice"]
    assert client.get(f"{TOKENS_URL}?user={bob.pk}").json()["results"] == []
    assert client.get(f"{TOKENS_URL}{bob_token.pk}/").status_code == 404
    assert client.delete(f"{TOKENS_URL}{bob_token.pk}/").status_code == 404
    assert client.post(f"/api/v1/users/{bob.pk}/revoke-tokens/").status_code == 404
    assert works(bob_key)


def test_revoking_is_immediate(alice):
    """DELETE /tokens/{id}/ answers 204 and the very next request with that token is refused; others still work."""
    first, second = login_key("alice"), login_key("alice")
    first_id = Token.objects.get(prefix=first[:8]).pk
    assert works(first)
    assert with_token(second).delete(f"{TOKENS_URL}{first_id}/").status_code == 204
    assert not works(first)
    assert works(second)
    entry = AuditEntry.objects.get(action="delete", object_id=str(first_id))
    assert entry.username == "alice" and "key_hash" not in entry.before


def test_revoking_the_token_in_use(alice):
    """A script may revoke its own token (logging out); the next request with it is refused."""
    key = login_key("alice")
    own = with_token(key).get(TOKENS_URL).json()["results"][0]["id"]
    assert with_token(key).delete(f"{TOKENS_URL}{own}/").status_code == 204
    assert not works(key)


def test_system_administrator_lists_and_revokes_a_users_tokens(alice, bob, sysadmin):
    """A system administrator sees every user's tokens, filters by user, revokes one, then all of a user's."""
    alice_keys = [login_key("alice"), login_key("alice")]
    bob_key = login_key("bob")
    root = with_token(login_key(sysadmin.username))
    listed = root.get(f"{TOKENS_URL}?user={alice.pk}").json()["results"]
    assert len(listed) == 2 and {item["username"] for item in listed} == {"alice"}
    assert root.delete(f"{TOKENS_URL}{listed[0]['id']}/").status_code == 204
    answer = root.post(f"/api/v1/users/{alice.pk}/revoke-tokens/")
    assert answer.status_code == 200 and answer.json()["revoked_tokens"] == 1
    assert [works(key) for key in alice_keys] == [False, False]
    assert works(bob_key)


def test_user_revokes_all_own_tokens(alice):
    """Anyone may revoke all their own tokens at once, the one making the request included."""
    keys = [login_key("alice") for _ in range(3)]
    answer = with_token(keys[0]).post(f"/api/v1/users/{alice.pk}/revoke-tokens/")
    assert answer.status_code == 200 and answer.json()["revoked_tokens"] == 3
    assert not any(works(key) for key in keys)


def test_revoke_tokens_with_a_body_is_refused_and_revokes_nothing(alice):
    """revoke-tokens takes no body: one with a field (which tokens, say) is a 400 naming it; every token works on."""
    keys = [login_key("alice") for _ in range(2)]
    answer = with_token(keys[0]).post(f"/api/v1/users/{alice.pk}/revoke-tokens/", {"tokens": [1]}, format="json")
    assert answer.status_code == 400 and "Unknown field 'tokens'" in answer.json()["tokens"][0]
    assert all(works(key) for key in keys)


def test_last_use_is_listed(alice):
    """The list says when each token was last used."""
    used, unused = login_key("alice"), login_key("alice")
    works(used)
    listed = {item["prefix"]: item["last_used_at"] for item in with_token(used).get(TOKENS_URL).json()["results"]}
    assert listed[used[:8]] is not None
    assert listed[unused[:8]] is None


# ---------------------------------------------------------------- passwords


def change_password(key: str, current: str, new: str):
    """POST /users/me/password/ signed with key."""
    body = {"current_password": current, "new_password": new}
    return with_token(key).post("/api/v1/users/me/password/", body, format="json")


def obtain_with(username: str, password: str) -> str:
    """A token from the password exchange with this password."""
    response = obtain(username, password)
    assert response.status_code == 200, response.content
    return response.json()["token"]


def test_password_change_revokes_every_token(alice):
    """Changing one's password revokes all one's tokens, the one making the request too; the new password works."""
    key, other = login_key("alice"), login_key("alice")
    answer = change_password(key, PASSWORD, "a new long passphrase")
    assert answer.status_code == 200, answer.content
    assert answer.json()["revoked_tokens"] == 2
    assert not works(key) and not works(other)
    assert obtain("alice", PASSWORD).status_code == 400
    assert works(obtain_with("alice", "a new long passphrase"))
    entry = AuditEntry.objects.get(action="update", object_type__model="user")
    assert entry.after == {"password_changed": True, "revoked_tokens": 2}


@pytest.mark.parametrize(
    ("current", "new", "field"),
    [
        ("wrong horse battery", "a new long passphrase", "current_password"),
        (PASSWORD, "short", "new_password"),
        (PASSWORD, "password123", "new_password"),
        (PASSWORD, "", "new_password"),
    ],
    ids=["wrong-current", "too-short", "too-common", "blank"],
)
def test_password_change_refusals(alice, current, new, field):
    """A wrong current password or a new one the rules refuse: 400 naming the field; nothing changes."""
    key = login_key("alice")
    answer = change_password(key, current, new)
    assert answer.status_code == 400
    assert field in answer.json()
    assert works(key)
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)


def test_password_change_needs_sign_in():
    """Anonymous: 401."""
    answer = APIClient().post(
        "/api/v1/users/me/password/", {"current_password": "x", "new_password": "y"}, format="json"
    )
    assert answer.status_code == 401


def test_system_administrator_setting_a_password_revokes_tokens(alice, sysadmin):
    """A system administrator setting a user's password revokes that user's tokens (and not their own)."""
    alice_key = login_key("alice")
    root_key = login_key(sysadmin.username)
    answer = with_token(root_key).patch(
        f"/api/v1/users/{alice.pk}/", {"password": "reset by the admins 1"}, format="json"
    )
    assert answer.status_code == 200, answer.content
    assert not works(alice_key)
    assert works(root_key)


def test_deactivation_revokes_and_reactivation_brings_nothing_back(alice, sysadmin):
    """Deactivating a user revokes their tokens; reactivating them brings none back: they log in anew."""
    key = make_token(login_key("alice"), name="long-lived").json()["key"]
    root = with_token(login_key(sysadmin.username))
    assert root.patch(f"/api/v1/users/{alice.pk}/", {"is_active": False}, format="json").status_code == 200
    assert not works(key)
    assert root.patch(f"/api/v1/users/{alice.pk}/", {"is_active": True}, format="json").status_code == 200
    assert not works(key)
    assert root.get(f"{TOKENS_URL}?user={alice.pk}").json()["results"] == []
    assert works(login_key("alice"))


def test_rehash_at_login_is_not_a_password_change(alice, settings):
    """When a login upgrades the stored hash to a newer hasher, the password did not change: tokens stay."""
    key = login_key("alice")
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher", *settings.PASSWORD_HASHERS]
    obtain_with("alice", PASSWORD)
    alice.refresh_from_db()
    assert alice.password.startswith(get_hasher("pbkdf2_sha256").algorithm)
    assert works(key)


def test_any_saved_password_change_revokes(alice):
    """A password set outside the API (manage.py changepassword, the shell) revokes the tokens too."""
    key = login_key("alice")
    alice.set_password("set in the shell 42")
    alice.save()
    assert not works(key)


# ---------------------------------------------------------------- upgrading


def test_upgrade_gives_old_tokens_names_and_expiries(alice):
    """Tokens made before this release get a name, their origin, and an expiry: none is left valid for ever."""
    from django.apps import apps

    migration = importlib.import_module("apps.accounts.migrations.0003_token_lifecycle")
    exchanged, _ = Token.issue(alice, description="issued by /api/v1/auth/token/")
    demo, _ = Token.issue(alice, description="demo token")
    migration.apply_policy(apps, None)
    exchanged.refresh_from_db()
    demo.refresh_from_db()
    assert (exchanged.name, exchanged.origin, exchanged.description) == ("password exchange", "password", "")
    assert exchanged.expires_at - timezone.now() <= timedelta(hours=settings.DCP_TOKEN_EXCHANGE_HOURS)
    assert (demo.name, demo.origin) == ("demo token", "command")
    assert demo.expires_at - timezone.now() <= timedelta(days=settings.DCP_TOKEN_DEFAULT_DAYS)


# ---------------------------------------------------------------- guessing


@pytest.mark.parametrize(
    ("path", "body"),
    [
        (TOKENS_URL, {"name": "guess", "password": "wrong horse battery"}),
        ("/api/v1/users/me/password/", {"current_password": "wrong horse battery", "new_password": "x" * 12}),
    ],
    ids=["new-token", "password-change"],
)
def test_password_checks_are_throttled(alice, settings, path, body):
    """Endpoints that check a password are held to the sign-in limits: a stolen token is no way to guess it."""
    settings.DCP_AUTH_RATE = (3, 60)
    client = with_token(Token.issue(alice, "fixture")[1])
    answers = [client.post(path, body, format="json") for _ in range(4)]
    assert [answer.status_code for answer in answers] == [400, 400, 400, 429]
    assert int(answers[-1]["Retry-After"]) > 0
    assert client.get(TOKENS_URL).status_code == 200  # reading is not throttled with them


def test_tokens_cannot_be_ordered_by_their_hash(alice):
    """?ordering=key_hash is refused like any name that is no field of the list: the hash is not even a sort key."""
    client = with_token(login_key("alice"))
    answer = client.get(f"{TOKENS_URL}?ordering=key_hash")
    assert answer.status_code == 400
    message = " ".join(answer.json()["ordering"])
    assert "key_hash" in message and "name" in message
    allowed = message.rsplit(":", 1)[-1]
    assert "key_hash" not in allowed
