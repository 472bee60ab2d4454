"""Console sessions: idle expiry, Secure cookies over TLS, and what ends a session for good.

The browser is Django's test client; the session store is the real database one.
"""

from datetime import timedelta

import pytest
import time_machine
from django.contrib.sessions.models import Session
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from tests.accounts.test_tokens import PASSWORD
from tests.factories import UserFactory
from tests.test_deploy_files import error_line, run_settings

pytestmark = pytest.mark.django_db


@pytest.fixture
def alice():
    """A user (password PASSWORD)."""
    return UserFactory(username="alice")


def signed_in(username: str, **extra) -> tuple[Client, object]:
    """A browser that logged in through the console's login form, and the answer to the login."""
    client = Client()
    answer = client.post("/login/", {"username": username, "password": PASSWORD}, **extra)
    assert answer.status_code == 302, answer.content
    return client, answer


def is_signed_in(client: Client) -> bool:
    """Whether the console lets this browser in (rather than sending it to the login page)."""
    answer = client.get("/")
    assert answer.status_code in (200, 302)
    return answer.status_code == 200


def session_row(client: Client) -> Session:
    """The stored session of this browser."""
    return Session.objects.get(session_key=client.cookies["sessionid"].value)


# ---------------------------------------------------------------- idle expiry


def test_each_request_starts_the_idle_time_again(alice, settings):
    """A session expires SESSION_COOKIE_AGE (DCP_SESSION_IDLE_MINUTES) after its last request, not after login:
    its end is moved on once a minute has passed since it last was, without writing the session before."""
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        client, _ = signed_in("alice")
        first = session_row(client).expire_date
        traveller.shift(timedelta(seconds=20))
        with CaptureQueriesContext(connection) as queries:
            assert is_signed_in(client)
        assert not [q for q in queries.captured_queries if "UPDATE" in q["sql"] and "django_session" in q["sql"]]
        assert session_row(client).expire_date == first
        traveller.shift(timedelta(seconds=50))
        assert is_signed_in(client)
        assert session_row(client).expire_date == first + timedelta(seconds=70)


def test_an_active_session_does_not_end(alice, settings):
    """A page every 30 s for longer than the idle time keeps the session; idle time after the last one ends it."""
    settings.SESSION_COOKIE_AGE = 10 * 60
    with time_machine.travel(timezone.now(), tick=False) as traveller:
        client, _ = signed_in("alice")
        for _ in range(30):
            traveller.shift(timedelta(seconds=30))
            assert is_signed_in(client)
        traveller.shift(timedelta(minutes=10, seconds=1))
        assert not is_signed_in(client)


def test_a_short_idle_time_is_moved_on_more_often(tmp_path):
    """A one-minute idle time is moved on every 6 s (a tenth of it), so a page every 50 s keeps the session."""
    result = run_settings(tmp_path, {"DCP_SESSION_IDLE_MINUTES": "1"}, REFRESH)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["60", "6"]


def test_no_session_is_written_for_someone_not_signed_in(client):
    """Pages seen before signing in store no session."""
    client.get("/login/")
    assert not Session.objects.exists()


def test_idle_session_is_signed_out(alice):
    """A session left without a request for longer than the idle time is over: back to the login page."""
    client, _ = signed_in("alice")
    Session.objects.filter(pk=session_row(client).pk).update(expire_date=timezone.now() - timedelta(seconds=1))
    answer = client.get("/")
    assert answer.status_code == 302 and answer["Location"].startswith("/login/")


def test_idle_time_defaults_to_30_minutes(settings):
    """With nothing set, a session lasts 30 idle minutes, its end moved on at most once a minute."""
    assert settings.SESSION_COOKIE_AGE == 30 * 60
    assert settings.DCP_SESSION_REFRESH_SECONDS == 60
    assert settings.SESSION_SAVE_EVERY_REQUEST is False


REFRESH = "from django.conf import settings as s; print(s.SESSION_COOKIE_AGE, s.DCP_SESSION_REFRESH_SECONDS)"


SHOW = "from django.conf import settings as s; print(s.SESSION_COOKIE_AGE, s.DCP_TOKEN_EXCHANGE_HOURS)"


def test_idle_time_and_token_lifetimes_come_from_the_environment(tmp_path):
    """DCP_SESSION_IDLE_MINUTES and the token settings are read from the environment."""
    result = run_settings(tmp_path, {"DCP_SESSION_IDLE_MINUTES": "5", "DCP_TOKEN_EXCHANGE_HOURS": "2"}, SHOW)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["300", "2"]


@pytest.mark.parametrize(
    ("variables", "words"),
    [
        ({"DCP_SESSION_IDLE_MINUTES": "half an hour"}, ("DCP_SESSION_IDLE_MINUTES", "whole number")),
        ({"DCP_SESSION_IDLE_MINUTES": "0"}, ("DCP_SESSION_IDLE_MINUTES", "at least 1")),
        ({"DCP_TOKEN_EXCHANGE_MAX": "0"}, ("DCP_TOKEN_EXCHANGE_MAX", "at least 1")),
        ({"DCP_TOKEN_ALLOW_NO_EXPIRY": "sometimes"}, ("DCP_TOKEN_ALLOW_NO_EXPIRY", "boolean")),
        ({"DCP_TOKEN_DEFAULT_DAYS": "400"}, ("DCP_TOKEN_DEFAULT_DAYS=400", "DCP_TOKEN_MAX_DAYS=365")),
        ({"DCP_TOKEN_MAX_DAYS": "1", "DCP_TOKEN_DEFAULT_DAYS": "1", "DCP_TOKEN_EXCHANGE_HOURS": "48"}, ("HOURS=48",)),
    ],
    ids=["idle-words", "idle-zero", "cap-zero", "no-expiry-word", "default-past-max", "exchange-past-max"],
)
def test_bad_session_and_token_settings_stop_the_start(tmp_path, variables, words):
    """A bad value stops DCP at start with the variable's name and what to give instead."""
    result = run_settings(tmp_path, variables)
    assert result.returncode != 0
    line = error_line(result.stderr)
    assert "ImproperlyConfigured" in line
    for word in words:
        assert word in line


# ---------------------------------------------------------------- Secure cookies


def test_cookies_are_secure_over_tls(alice):
    """Logging in over HTTPS sets the session and CSRF cookies with the Secure flag, in the embedded setup too."""
    _, answer = signed_in("alice", secure=True)
    assert answer.cookies["sessionid"]["secure"] is True
    assert answer.cookies["csrftoken"]["secure"] is True


def test_cookies_are_secure_behind_a_tls_proxy(alice, settings):
    """Behind a TLS proxy (DCP_BEHIND_TLS_PROXY), a request it forwarded as HTTPS gets Secure cookies."""
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    _, answer = signed_in("alice", HTTP_X_FORWARDED_PROTO="https")
    assert answer.cookies["sessionid"]["secure"] is True


def test_cookies_over_plain_http_stay_usable(alice, settings):
    """Over plain HTTP (the embedded demo on 127.0.0.1), cookies are not Secure, or the browser would drop them;
    without DCP_BEHIND_TLS_PROXY, a client's own X-Forwarded-Proto header changes nothing."""
    assert settings.SECURE_PROXY_SSL_HEADER is None
    _, answer = signed_in("alice", HTTP_X_FORWARDED_PROTO="https")
    assert not answer.cookies["sessionid"]["secure"]


# ---------------------------------------------------------------- what ends a session


def test_deactivation_ends_sessions_and_reactivation_does_not_restore_them(alice, sysadmin):
    """A deactivated user's console session is over, and stays over when the account is reactivated."""
    browser, _ = signed_in("alice")
    root = APIClient()
    root.force_authenticate(sysadmin)
    assert root.patch(f"/api/v1/users/{alice.pk}/", {"is_active": False}, format="json").status_code == 200
    assert not is_signed_in(browser)
    assert root.patch(f"/api/v1/users/{alice.pk}/", {"is_active": True}, format="json").status_code == 200
    assert not is_signed_in(browser)
    again, _ = signed_in("alice")
    assert is_signed_in(again)


def test_password_change_ends_other_sessions_and_keeps_this_one(alice):
    """Changing the password in the console keeps that browser signed in and signs every other one out."""
    here, _ = signed_in("alice")
    elsewhere, _ = signed_in("alice")
    body = {
        "current_password": PASSWORD,
        "new_password": "a new long passphrase",
        "new_password_again": "a new long passphrase",
    }
    answer = here.post("/account/password/", body)
    assert answer.status_code == 302, answer.content
    assert is_signed_in(here)
    assert not is_signed_in(elsewhere)


def test_password_change_through_the_api_on_a_session_keeps_it(alice):
    """The API's password change, made on a console session (the browsable API), keeps that session."""
    browser, _ = signed_in("alice")
    other, _ = signed_in("alice")
    body = {"current_password": PASSWORD, "new_password": "a new long passphrase"}
    answer = browser.post("/api/v1/users/me/password/", body, content_type="application/json")
    assert answer.status_code == 200, answer.content
    assert is_signed_in(browser)
    assert not is_signed_in(other)
