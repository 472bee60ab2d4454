"""The lifecycle of API tokens and passwords, shared by the API, the console and the commands.

Policy (settings in dcp/settings.py):
- a token made by exchanging a password lasts DCP_TOKEN_EXCHANGE_HOURS, and a user
  keeps at most DCP_TOKEN_EXCHANGE_MAX of them: a new one revokes the oldest. A cap
  rather than "a new login replaces the token of the same name", because several
  copies of one script logging in at once would otherwise revoke each other's tokens;
- a named token lasts DCP_TOKEN_DEFAULT_DAYS, or what its maker chooses up to
  DCP_TOKEN_MAX_DAYS; no expiry only where DCP_TOKEN_ALLOW_NO_EXPIRY is on. Making
  one needs the user's password, so a stolen short-lived token or session cannot
  mint itself a long-lived one;
- revoking deletes the token: the next request with it is refused;
- changing a password revokes every token of the user, the one making the request
  included (a bearer token may have been copied anywhere); the console session that
  made the change stays signed in, every other session of the user ends. The
  revocation on a password change or a deactivation is enforced in User.save().
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from apps.accounts import security
from apps.accounts.choices import TokenOrigin
from apps.accounts.models import Token, User
from apps.core import audit
from apps.core.exceptions import ServiceError
from apps.core.models import AuditAction


class _Default:
    """The type of DEFAULT_EXPIRY."""

    def __repr__(self) -> str:
        return "DEFAULT_EXPIRY"


# "No expiry given": the token gets the default lifetime (None means "never expires").
DEFAULT_EXPIRY = _Default()


def token_expiry(origin: str, requested: "datetime | None | _Default" = DEFAULT_EXPIRY) -> datetime | None:
    """When a token made now by origin expires, given the expiry its maker asked for (checked against policy)."""
    now = timezone.now()
    if origin == TokenOrigin.PASSWORD:
        return now + timedelta(hours=settings.DCP_TOKEN_EXCHANGE_HOURS)
    if isinstance(requested, _Default):
        return now + timedelta(days=settings.DCP_TOKEN_DEFAULT_DAYS)
    most = settings.DCP_TOKEN_MAX_DAYS
    if requested is None:
        if not settings.DCP_TOKEN_ALLOW_NO_EXPIRY:
            message = _("Tokens must expire: choose an expiry at most %(days)d days ahead.") % {"days": most}
            raise ServiceError(message, field="expires_at")
        return None
    if requested <= now:
        raise ServiceError(_("The expiry must be in the future."), field="expires_at")
    if requested > now + timedelta(days=most):
        raise ServiceError(
            _("A token may last at most %(days)d days: choose an earlier expiry.") % {"days": most}, field="expires_at"
        )
    return requested


@transaction.atomic
def issue_token(
    user: User,
    *,
    name: str,
    origin: str,
    description: str = "",
    expires_at: "datetime | None | _Default" = DEFAULT_EXPIRY,
    by: User | None = None,
) -> tuple[Token, str]:
    """Make a token for user under the expiry policy; returns it and its key (shown once, never stored)."""
    if not user.is_active:
        raise ServiceError(_("User %(username)s is inactive.") % {"username": user.username})
    expiry = token_expiry(origin, expires_at)
    # One issue at a time per user, so that two logins at once cannot both slip under the cap.
    list(User.objects.select_for_update().filter(pk=user.pk).values_list("pk", flat=True))
    # Expired tokens can never be used again; keeping them would only pile them up.
    user.tokens.filter(expires_at__lte=timezone.now()).delete()
    if origin == TokenOrigin.PASSWORD:
        oldest_first = user.tokens.filter(origin=TokenOrigin.PASSWORD).order_by("-created_at", "-pk")
        for old in oldest_first[settings.DCP_TOKEN_EXCHANGE_MAX - 1 :]:
            revoke_token(old, by=by or user)
    token, key = Token.issue(user, name, origin=origin, description=description, expires_at=expiry)
    audit.record(by or user, AuditAction.CREATE, token, None, audit.snapshot(token))
    return token, key


def create_token(
    user: User,
    *,
    request: HttpRequest,
    password: str,
    name: str,
    origin: str,
    description: str = "",
    expires_at: "datetime | None | _Default" = DEFAULT_EXPIRY,
) -> tuple[Token, str]:
    """A user makes a named token for themselves, confirming it with their password.

    The password is checked under the sign-in limits (security.confirm_password): a stolen session or
    token must not become an unlimited way of guessing it.
    """
    security.confirm_password(request, user, password, field="password", wrong=_("Your password is wrong."))
    return issue_token(user, name=name, origin=origin, description=description, expires_at=expires_at, by=user)


def revoke_token(token: Token, *, by: User) -> None:
    """Revoke one token at once (the next request with it is refused), and audit it."""
    with transaction.atomic():
        audit.record(by, AuditAction.DELETE, token, audit.snapshot(token), None)
        token.delete()


def revoke_tokens(user: User, *, by: User) -> int:
    """Revoke every token of user; returns how many there were."""
    with transaction.atomic():
        tokens = list(user.tokens.select_for_update())
        for token in tokens:
            revoke_token(token, by=by)
    return len(tokens)


def change_password(user: User, current: str, new: str, *, by: User, request: HttpRequest) -> int:
    """A user changes their own password; every token of theirs is revoked. Returns how many were.

    The current password is checked under the sign-in limits, as when making a token.
    """
    security.confirm_password(
        request, user, current, field="current_password", wrong=_("Your current password is wrong.")
    )
    try:
        password_validation.validate_password(new, user)
    except ValidationError as exc:
        raise ServiceError(" ".join(exc.messages), field="new_password") from None
    with transaction.atomic():
        revoked = revoke_tokens(user, by=by)
        user.set_password(new)
        user.save()
        audit.record(by, AuditAction.UPDATE, user, None, {"password_changed": True, "revoked_tokens": revoked})
    return revoked
