"""manage.py issue_token USERNAME: print a new API token for a user."""

from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from apps.accounts import services
from apps.accounts.choices import TokenOrigin
from apps.accounts.models import User
from apps.core.exceptions import ServiceError


class Command(BaseCommand):
    """Issue an API token (printed once; only its hash is stored) under the same expiry policy as the API."""

    help = "Issue an API token for a user and print it (it is shown only this once)."

    def add_arguments(self, parser):
        """USERNAME, --name, --description, --expires-days, --no-expiry."""
        parser.add_argument("username")
        parser.add_argument("--name", default="manage.py issue_token", help="What the token is for.")
        parser.add_argument("--description", default="")
        parser.add_argument(
            "--expires-days",
            type=int,
            default=None,
            help=f"Days until the token expires (default {settings.DCP_TOKEN_DEFAULT_DAYS}, "
            f"at most {settings.DCP_TOKEN_MAX_DAYS}).",
        )
        parser.add_argument(
            "--no-expiry", action="store_true", help="A token that never expires (only if DCP_TOKEN_ALLOW_NO_EXPIRY)."
        )

    def handle(self, username, name, description, expires_days, no_expiry, **options):
        """Issue and print."""
        try:
            user = User.objects.get(username=username)
        except User.DoesNotExist:
            raise CommandError(f"No user named {username!r}.") from None
        if not user.is_active:
            raise CommandError(f"User {username!r} is inactive.")
        if expires_days is not None and expires_days < 1:
            raise CommandError("--expires-days must be at least 1.")
        if no_expiry and expires_days is not None:
            raise CommandError("Give --expires-days or --no-expiry, not both.")
        expires = services.DEFAULT_EXPIRY
        if no_expiry:
            expires = None
        elif expires_days:
            expires = timezone.now() + timedelta(days=expires_days)
        try:
            _, key = services.issue_token(
                user, name=name, description=description, origin=TokenOrigin.COMMAND, expires_at=expires
            )
        except ServiceError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(key)
