"""manage.py clear_lockout KEY: lift the sign-in lock-out of a username or a client address."""

from django.core.management.base import BaseCommand, CommandError

from apps.accounts import security
from apps.accounts.models import Lockout


class Command(BaseCommand):
    """Lift a lock-out from the shell, e.g. when the only system administrator is the one locked out."""

    help = "Lift the sign-in lock-out of a username or a client address (and forget its failed attempts)."

    def add_arguments(self, parser):
        """KEY: a username, or a client address as /api/v1/lockouts/ shows it."""
        parser.add_argument("key", help="A username, or a client address as /api/v1/lockouts/ shows it.")

    def handle(self, key, **options):
        """Delete the counts of that key, audited."""
        found = list(Lockout.objects.filter(key=key))
        if not found:
            raise CommandError(f"No sign-in attempts are counted for {key!r}: nothing to clear.")
        for lockout in found:
            security.clear(None, lockout)
            self.stdout.write(f"Cleared {lockout.scope} {lockout.key}.")
