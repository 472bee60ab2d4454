"""manage.py check_translations: fail, naming each msgid, when a console string has no translation."""

from django.core.management.base import BaseCommand, CommandError

from apps.console.translations import untranslated


class Command(BaseCommand):
    """Lists the strings without a (non-fuzzy) translation, as entries to append to the catalogue's end."""

    help = (
        "Find every string marked for translation that has no translation (or only a fuzzy one) in the "
        "catalogue; print them as .po entries to append to locale/<language>/LC_MESSAGES/django.po. "
        "The catalogue itself is never rewritten."
    )

    def add_arguments(self, parser):
        """--language: the catalogue to check (default zh_Hans)."""
        parser.add_argument("--language", default="zh_Hans", help="the catalogue to check (default: zh_Hans)")

    def handle(self, *args, language, **options):
        """Print what is missing and exit 1, or say all is translated."""
        missing = untranslated(language)
        if not missing:
            self.stdout.write(f"Every string has a {language} translation.")
            return
        self.stdout.write("\n\n".join(entry.as_po() for entry in missing) + "\n")
        path = f"locale/{language}/LC_MESSAGES/django.po"
        raise CommandError(
            f"{len(missing)} string(s) have no {language} translation (or a fuzzy one): "
            f"add the entries above, translated, at the end of {path}"
        )
