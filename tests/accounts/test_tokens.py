"""API tokens: obtaining one with a password, using it, refusals, expiry, hashed storage, manage.py issue_token."""

import hashlib
from datetime import timedelta
from io import StringIO

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.utils import timezone
from rest_framework.test import APIClient

from apps.accounts.models import Token
from tests.factories import ClusterFactory, MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"
TOKEN_URL = "/api/v1/auth/token/"


@pytest.fixture
def member():
    """A user (password PASSWORD) who is a guest of one cluster."""
    user = UserFactory(username="scripter")
    MembershipFactory(cluster=ClusterFactory(name="payments"), user=user, role="guest")
    return user


def with_token(key: str, scheme: str = "Token") -> APIClient:
    """A client that sends key in the Authorization header."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"{scheme} {key}")
    return client


def obtain(username: str, password: str):
    """POST the credentials to the token endpoint."""
    return APIClient().post(TOKEN_URL, {"username": username, "password": password}, format="json")


def test_obtain_and_use_token(member):
    """Right credentials give 200 {"token"}; the token then signs requests as that user."""
    response = obtain("scripter", PASSWORD)
    assert response.status_code == 200, response.content
    assert set(response.json()) == {"token", "id", "name", "expires_at"}
    key = response.json()["token"]
    assert isinstance(key, str)
    assert len(key) >= 32

    client = with_token(key)
    clusters = client.get("/api/v1/clusters/")
    assert clusters.status_code == 200
    assert [c["name"] for c in clusters.json()["results"]] == ["payments"]
    me = client.get(f"/api/v1/users/{member.pk}/")
    assert me.status_code == 200
    assert me.json()["username"] == "scripter"


def test_each_request_gives_a_new_token(member):
    """Two requests give two different tokens, both working."""
    first = obtain("scripter", PASSWORD).json()["token"]
    second = obtain("scripter", PASSWORD).json()["token"]
    assert first != second
    assert with_token(first).get("/api/v1/clusters/").status_code == 200
    assert with_token(second).get("/api/v1/clusters/").status_code == 200
    assert Token.objects.filter(user=member).count() == 2


@pytest.mark.parametrize(
    ("username", "password"),
    [("scripter", "wrong password here"), ("scripter", ""), ("nobody", PASSWORD), ("SCRIPTER", PASSWORD)],
)
def test_wrong_credentials_refused(member, username, password):
    """A wrong password or unknown user: 400 with a message, no token in the answer, no token stored."""
    response = obtain(username, password)
    assert response.status_code == 400
    body = response.json()
    assert "token" not in body
    assert body  # a message says what is wrong
    message = " ".join(str(v) for v in body.values())
    assert message.strip()
    assert not Token.objects.exists()


def test_wrong_password_message(member):
    """The wrong-password answer says so in its detail, without telling whether the user exists."""
    wrong_password = obtain("scripter", "wrong password here").json()
    unknown_user = obtain("nobody", "wrong password here").json()
    assert wrong_password == unknown_user
    assert "password" in wrong_password["detail"].lower()


@pytest.mark.parametrize("body", [{}, {"username": "scripter"}, {"password": PASSWORD}])
def test_missing_fields_refused(member, body):
    """A request without username or password is refused with 400 naming the missing field."""
    response = APIClient().post(TOKEN_URL, body, format="json")
    assert response.status_code == 400
    missing = {"username", "password"} - set(body)
    assert missing <= set(response.json())
    assert "token" not in response.json()


def test_inactive_user_cannot_obtain_token(member):
    """An inactive user with the right password gets no token."""
    member.is_active = False
    member.save()
    response = obtain("scripter", PASSWORD)
    assert response.status_code == 400
    assert "token" not in response.json()
    assert not Token.objects.exists()


def test_token_of_deactivated_user_refused(member):
    """A token stops working when its user is deactivated (401): deactivating revokes it."""
    key = obtain("scripter", PASSWORD).json()["token"]
    member.is_active = False
    member.save()
    response = with_token(key).get("/api/v1/clusters/")
    assert response.status_code == 401
    assert not Token.objects.filter(user=member).exists()


def test_token_of_user_deactivated_in_bulk_refused(member):
    """A user deactivated without save() (a bulk update) keeps token rows, but they are refused: 401 'inactive'."""
    key = obtain("scripter", PASSWORD).json()["token"]
    type(member).objects.filter(pk=member.pk).update(is_active=False)
    response = with_token(key).get("/api/v1/clusters/")
    assert response.status_code == 401
    assert "inactive" in response.json()["detail"].lower()


def test_expired_token_refused(member):
    """A token whose expiry has passed is refused with 401 and a message saying it expired."""
    key = obtain("scripter", PASSWORD).json()["token"]
    Token.objects.filter(user=member).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = with_token(key).get("/api/v1/clusters/")
    assert response.status_code == 401
    assert "expired" in response.json()["detail"].lower()


def test_token_with_future_expiry_works(member):
    """A token whose expiry is still ahead works."""
    key = obtain("scripter", PASSWORD).json()["token"]
    Token.objects.filter(user=member).update(expires_at=timezone.now() + timedelta(hours=1))
    assert with_token(key).get("/api/v1/clusters/").status_code == 200


@pytest.mark.parametrize(
    ("header", "detail_word"),
    [
        ("Token not-a-real-key", "invalid"),
        ("Token", "credentials"),
        ("Token two words", "token"),
    ],
)
def test_bad_authorization_header_refused(member, header, detail_word):
    """A made-up key or a malformed Token header is refused with 401 and a message."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get("/api/v1/clusters/")
    assert response.status_code == 401
    assert detail_word in response.json()["detail"].lower()


def test_other_schemes_are_not_tokens(member):
    """Only the Token scheme carries an API token: the same key as Bearer leaves the request anonymous (401)."""
    key = obtain("scripter", PASSWORD).json()["token"]
    assert with_token(key, scheme="Bearer").get("/api/v1/clusters/").status_code == 401
    assert APIClient().get("/api/v1/clusters/").status_code == 401


def test_only_hash_of_key_is_stored(member):
    """The database holds the sha256 of the key, and no field of the token holds the key itself."""
    key = obtain("scripter", PASSWORD).json()["token"]
    token = Token.objects.get(user=member)
    assert token.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert token.key_hash != key
    for field in Token._meta.concrete_fields:
        value = field.value_from_object(token)
        assert key not in str(value), f"field {field.name} holds the key"
    assert key.startswith(token.prefix)
    assert len(token.prefix) < len(key)


def test_use_is_recorded(member):
    """Using a token stamps its last use."""
    key = obtain("scripter", PASSWORD).json()["token"]
    assert Token.objects.get(user=member).last_used_at is None
    with_token(key).get("/api/v1/clusters/")
    assert Token.objects.get(user=member).last_used_at is not None


def test_token_endpoint_is_throttled(member, settings):
    """Guessing passwords is slowed: past the auth rate, the token endpoint answers 429."""
    settings.DCP_AUTH_RATE = (3, 60)
    answers = [obtain("scripter", "wrong password here").status_code for _ in range(4)]
    assert answers == [400, 400, 400, 429]
    assert not Token.objects.exists()


def test_issue_token_command_prints_working_token(member):
    """manage.py issue_token USERNAME prints a key that works as a token for that user."""
    out = StringIO()
    call_command("issue_token", "scripter", stdout=out)
    key = out.getvalue().strip()
    assert key
    assert "\n" not in key
    response = with_token(key).get(f"/api/v1/users/{member.pk}/")
    assert response.status_code == 200
    assert response.json()["username"] == "scripter"
    token = Token.objects.get(user=member)
    assert token.key_hash == hashlib.sha256(key.encode()).hexdigest()
    default = timedelta(days=settings.DCP_TOKEN_DEFAULT_DAYS)
    assert default - timedelta(minutes=5) < token.expires_at - timezone.now() <= default
    assert token.origin == "command"


def test_issue_token_command_with_expiry(member):
    """--expires-days sets the token's expiry that many days ahead."""
    out = StringIO()
    call_command("issue_token", "scripter", "--expires-days", "7", stdout=out)
    token = Token.objects.get(user=member)
    assert timedelta(days=7) - timedelta(minutes=5) < token.expires_at - timezone.now() <= timedelta(days=7)
    assert with_token(out.getvalue().strip()).get("/api/v1/clusters/").status_code == 200


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nobody"], "nobody"),
        (["retired"], "inactive"),
        (["scripter", "--expires-days", "0"], "expires-days"),
        (["scripter", "--expires-days", "366"], "at most 365 days"),
        (["scripter", "--no-expiry"], "must expire"),
    ],
)
def test_issue_token_command_refusals(member, args, message):
    """An unknown or inactive user, or an expiry out of policy, is a CommandError; no token is made."""
    UserFactory(username="retired", is_active=False)
    with pytest.raises(CommandError, match=message):
        call_command("issue_token", *args, stdout=StringIO())
    assert not Token.objects.exists()
