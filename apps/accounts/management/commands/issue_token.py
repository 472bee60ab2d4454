"""manage.py issue_token USERNAME: print a new API token for a user."""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from apps.accounts.models import Token, User


class Command(BaseCommand):
    """Issue an API token (printed once; only its hash is stored)."""

    help = "Issue an API token for a user and print it (it is shown only this once)."

    def add_arguments(self, parser):
        """USERNAME, --description, --expires-days."""
        parser.add_argument("username")
        parser.add_argument("--description", default="issued by manage.py issue_token")
        parser.add_argument("--expires-days", type=int, default=None, help="Days until the token expires.")

    def handle(self, username, description, expires_days, **options):
        """Issue and print."""
        try:
            user = User.objects.get(username=username)
        except User.DoesNotExist:
            raise CommandError(f"No user named {username!r}.") from None
        if not user.is_active:
            raise CommandError(f"User {username!r} is inactive.")
        if expires_days is not None and expires_days < 1:
            raise CommandError("--expires-days must be at least 1.")
        expires = timezone.now() + timedelta(days=expires_days) if expires_days else None
        _, key = Token.issue(user, description=description, expires_at=expires)
        self.stdout.write(key)
