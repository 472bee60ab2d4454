"""manage.py sweep [ACCOUNT ...]: look for orphan instances and lost hosts now, and print what was found."""

from django.core.management.base import BaseCommand, CommandError

from apps.providers.models import CloudAccount
from apps.provisioning import sweep


class Command(BaseCommand):
    """Run the periodic sweep at once, in this process, and print one block per provider account."""

    help = (
        "Compare each provider account's DCP-tagged instances with the database, as the periodic sweep does: "
        "record (and, per the account's terminate_orphans option, destroy) orphans; mark vanished hosts lost."
    )

    def add_arguments(self, parser):
        """ACCOUNT names; none means every account."""
        parser.add_argument("accounts", nargs="*", metavar="ACCOUNT", help="Provider account names (default: all).")

    def handle(self, accounts, **options):
        """Sweep, print, and exit non-zero if an account could not be swept."""
        chosen = CloudAccount.objects.order_by("pk")
        if accounts:
            known = set(chosen.filter(name__in=accounts).values_list("name", flat=True))
            unknown = sorted(set(accounts) - known)
            if unknown:
                raise CommandError(f"No provider account named {', '.join(unknown)}.")
            chosen = chosen.filter(name__in=accounts)
        results = sweep.sweep_all(chosen)
        for result in results:
            self.stdout.write(self.format(result))
        failed = [result.account for result in results if result.error]
        if failed:
            raise CommandError(f"Could not sweep {', '.join(failed)}.")

    def format(self, result: sweep.SweepResult) -> str:
        """One account's findings, a line each."""
        if result.error:
            return f"{result.account}: not swept: {result.error}"
        lines = [f"{result.account}: {result.listed} tagged instance(s) listed"]
        for label, items in (
            ("orphans", result.orphans),
            ("destroyed", result.terminated),
            ("gone", result.gone),
            ("lost hosts", result.lost),
            ("hosts to tag again", [str(pk) for pk in result.retagged]),
        ):
            if items:
                lines.append(f"  {label}: {', '.join(items)}")
        return "\n".join(lines)
