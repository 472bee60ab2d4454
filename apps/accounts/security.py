"""Signing in with a password, bounded against guessing: one path for the API's token endpoint and the console.

Two limits apply to every attempt, wherever it comes in:

- per client address, ``DCP_AUTH_RATE`` attempts (right or wrong) per period;
  past that the address is refused for a period;
- per username, ``DCP_LOGIN_LOCKOUT_FAILURES`` attempts within
  ``DCP_LOGIN_LOCKOUT_SECONDS`` lock it for ``DCP_LOGIN_LOCKOUT_SECONDS``, even
  with the right password; a successful sign-in starts the count again.

A lock-out expires on its own, so an attacker can only keep an account locked
by spending attempts, which the address limit bounds, and a system
administrator can clear it (``/api/v1/lockouts/``, ``manage.py
clear_lockout``). Usernames are counted whether or not the user exists, and
Django hashes the password of an unknown user too, so neither answers nor
timings tell which users exist.

The counts live in the database (the ``Lockout`` table), not in a process or a
cache: every web process and machine shares them whatever the broker, and a
sign-in already costs a database read and a deliberately slow password hash,
so one row update more is noise. An attempt is counted before the password is
checked, under the row's lock, so parallel requests cannot slip past a limit.

The client address is the connection's (``REMOTE_ADDR``) unless
``DCP_TRUSTED_PROXIES`` says how many proxies in front of DCP append to
``X-Forwarded-For``: then it is the address the outermost of them saw, and
anything a client wrote into the header before it is ignored. IPv6 addresses
count by their /64, which one client usually holds whole.

Failed attempts, lock-outs and sign-ins are logged and audited with the
username and address, never the password.
"""

from __future__ import annotations

import ipaddress
import logging
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import authenticate
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone

from apps.accounts.models import Lockout, LockoutScope, User
from apps.core import audit
from apps.core.context import current_via
from apps.core.exceptions import ServiceError
from apps.core.models import AuditAction

logger = logging.getLogger(__name__)

WRONG_CREDENTIALS = "Wrong username or password."
ADDRESS_LOCKED = "Too many sign-in attempts from your address."
USERNAME_LOCKED = (
    "Too many failed sign-ins for this username: it is locked for a while, or until a system administrator clears it."
)


class SignInError(ServiceError):
    """A refused sign-in; ``message`` is what the person is told."""

    retry_after: int | None = None


class WrongCredentials(SignInError):
    """The username and password do not match an active user."""


class TooManyAttempts(SignInError):
    """A limit is reached: no password is checked until retry_after seconds have passed."""

    status = 429

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Limit:
    """At most ``attempts`` within ``window``; the attempt that reaches it locks for ``lock``."""

    attempts: int
    window: timedelta
    lock: timedelta


@dataclass(frozen=True)
class Count:
    """One attempt counted: the row, whether it was already locked (and for how long), whether it locked it."""

    lockout: Lockout
    locked_for: int
    locked_now: bool


def address_limit() -> Limit:
    """DCP_AUTH_RATE: attempts per period from one client address."""
    attempts, seconds = settings.DCP_AUTH_RATE
    return Limit(attempts, timedelta(seconds=seconds), timedelta(seconds=seconds))


def username_limit() -> Limit:
    """DCP_LOGIN_LOCKOUT_FAILURES attempts in DCP_LOGIN_LOCKOUT_SECONDS lock a username as long."""
    period = timedelta(seconds=settings.DCP_LOGIN_LOCKOUT_SECONDS)
    return Limit(settings.DCP_LOGIN_LOCKOUT_FAILURES, period, period)


def client_address(request: HttpRequest) -> str:
    """The address attempts are counted against: the connection's, or the one the outermost trusted proxy saw."""
    hops = [request.META.get("REMOTE_ADDR") or ""]
    proxies = settings.DCP_TRUSTED_PROXIES
    if proxies:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        hops = [hop.strip() for hop in forwarded if hop.strip()] + hops
    # Each trusted proxy appends the address it was reached from; what a client wrote stays further left.
    return _network(hops[-min(proxies + 1, len(hops))])


def _network(value: str) -> str:
    """An address as counted: IPv4 as is, IPv6 as its /64, a port or brackets dropped."""
    text = value.strip()
    if text.startswith("[") and "]" in text:
        text = text[1 : text.index("]")]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return value.strip()[:64] or "unknown"
    if address.version == 6 and address.ipv4_mapped is None:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(getattr(address, "ipv4_mapped", None) or address)


def sign_in(request: HttpRequest, username: str, password: str) -> User:
    """The active user these credentials name, once both limits allow the attempt; SignInError otherwise."""
    user = _attempt(request, username, password)
    logger.info("%s signed in from %s via %s", user.username, client_address(request), current_via())
    audit.record(user, AuditAction.LOGIN, user, None, {"address": client_address(request)})
    return user


def confirm_password(request: HttpRequest, user: User, password: str, *, field: str, wrong: str) -> None:
    """Check a signed-in user's own password again (to make a token, to change it) under the sign-in limits.

    A wrong password is a ServiceError on ``field`` saying ``wrong``; a limit reached is TooManyAttempts (429).
    """
    try:
        confirmed = _attempt(request, user.get_username(), password)
    except WrongCredentials:
        raise ServiceError(wrong, field=field) from None
    if confirmed.pk != user.pk:
        raise ServiceError(wrong, field=field)


def _attempt(request: HttpRequest, username: str, password: str) -> User:
    """Count one attempt against both limits, then check the password: the user, or SignInError."""
    address = client_address(request)
    name = User.normalize_username(username)
    now = timezone.now()
    by_address = _count(LockoutScope.ADDRESS, address, address_limit(), now, address)
    if by_address.locked_for:
        raise TooManyAttempts(ADDRESS_LOCKED, by_address.locked_for)
    by_username = _count(LockoutScope.USERNAME, name, username_limit(), now, address)
    if by_username.locked_for:
        _failed(name, address, "locked out")
        raise TooManyAttempts(USERNAME_LOCKED, by_username.locked_for)
    user = authenticate(request, username=name, password=password)
    if user is None or not user.is_active:
        _failed(name, address, "wrong username or password")
        if by_username.locked_now:
            _locked(by_username.lockout, address)
        raise WrongCredentials(WRONG_CREDENTIALS)
    Lockout.objects.filter(scope=LockoutScope.USERNAME, key=by_username.lockout.key).delete()
    return user


def _count(scope: str, key: str, limit: Limit, now: datetime, address: str) -> Count:
    """Count one attempt against a key, under its row's lock: already locked, or locked by this one."""
    key = key[: Lockout._meta.get_field("key").max_length]
    with transaction.atomic():
        lockout, created = Lockout.objects.select_for_update().get_or_create(
            scope=scope, key=key, defaults={"window_start": now}
        )
        if lockout.locked(now):
            return Count(lockout, math.ceil((lockout.locked_until - now).total_seconds()), False)
        if lockout.locked_until is not None or now - lockout.window_start >= limit.window:
            lockout.attempts, lockout.window_start, lockout.locked_until = 0, now, None
        lockout.attempts += 1
        locked_now = lockout.attempts >= limit.attempts
        if locked_now:
            lockout.locked_until = now + limit.lock
        lockout.last_address = address[:64]
        lockout.save()
    if created:
        _forget_stale(now)
    if locked_now and scope == LockoutScope.ADDRESS:
        _locked(lockout, address)
    return Count(lockout, 0, locked_now)


def _forget_stale(now: datetime) -> None:
    """Delete counts whose window and lock-out are both over (done as new keys appear, so the table stays small)."""
    longest = max(address_limit().window, username_limit().window)
    Lockout.objects.filter(
        Q(locked_until__isnull=True) | Q(locked_until__lte=now), window_start__lt=now - longest
    ).delete()


def _failed(name: str, address: str, reason: str) -> None:
    """Log and audit a refused attempt: who it claimed to be and from where."""
    logger.info("sign-in as %r from %s via %s refused: %s", name, address, current_via(), reason)
    user = User.objects.filter(username=name).first()
    target = user or User(username=name)
    audit.record(
        None,
        AuditAction.LOGIN_FAILED,
        target,
        None,
        {"address": address, "reason": reason},
        object_id=user.pk if user else "",
        username=name[:150],
    )


def _locked(lockout: Lockout, address: str) -> None:
    """Log and audit a lock-out as it begins."""
    logger.warning(
        "sign-in locked out: %s %r after %d attempts, the latest from %s, until %s",
        lockout.scope,
        lockout.key,
        lockout.attempts,
        address,
        lockout.locked_until.isoformat(),
    )
    audit.record(
        None,
        AuditAction.LOCKOUT,
        lockout,
        None,
        {"attempts": lockout.attempts, "address": address, "locked_until": lockout.locked_until.isoformat()},
    )


def clear(actor, lockout: Lockout) -> None:
    """Lift a lock-out (and forget its count), audited as deleted by actor."""
    with transaction.atomic():
        audit.record(actor, AuditAction.DELETE, lockout, audit.snapshot(lockout), None)
        lockout.delete()
    logger.info(
        "%s cleared the sign-in lock-out of %s %r", getattr(actor, "username", "system"), lockout.scope, lockout.key
    )
