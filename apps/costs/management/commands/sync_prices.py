"""manage.py sync_prices [ACCOUNT ...]: fetch the providers' prices into the catalog now, and print what changed."""

from django.core.management.base import BaseCommand, CommandError

from apps.costs import sync


class Command(BaseCommand):
    """Run the daily price sync at once, in this process, and print one block per provider account."""

    help = (
        "Ask each provider account's own pricing source (AWS Pricing API, ECS DescribePrice, Libcloud's sizes) "
        "for the prices of the instance types it uses and record them in the price catalog: an unchanged price "
        "is confirmed, a changed one starts a new row from now. OpenStack flavors and physical machines are "
        "checked against their rate card and monthly_cost. Prints per account what was confirmed, changed, "
        "added, unknown, kept (set by hand) and rated."
    )

    def add_arguments(self, parser):
        """ACCOUNT names or ids; none means every account."""
        parser.add_argument(
            "accounts", nargs="*", metavar="ACCOUNT", help="Provider account names or ids (default: all)."
        )

    def handle(self, accounts, **options):
        """Sync, print, and exit non-zero if an account could not be synced."""
        try:
            chosen = sync.choose_accounts(accounts)
        except LookupError as exc:
            raise CommandError(str(exc)) from None
        if not chosen:
            self.stdout.write("No provider accounts: nothing to sync.")
            return
        results = [sync.sync_account(account) for account in chosen]
        for result in results:
            self.stdout.write(sync.describe(result))
        failed = [result.account for result in results if result.error]
        if failed:
            raise CommandError(f"Could not sync the prices of {', '.join(failed)}.")
