"""Choice sets of the accounts app."""

from django.utils.translation import gettext_lazy as _

from apps.core.choices import ChoiceSet


class TokenOrigin(ChoiceSet):
    """How an API token was made: by exchanging a password, or on purpose with a name and an expiry."""

    PASSWORD = "password"  # noqa: S105 - POST /api/v1/auth/token/: short-lived, capped per user
    API = "api"  # POST /api/v1/tokens/
    CONSOLE = "console"  # the console's account page
    COMMAND = "command"  # manage.py issue_token, manage.py demo
    CHOICES = (
        (PASSWORD, _("Password exchange")),
        (API, _("API")),
        (CONSOLE, _("Console")),
        (COMMAND, _("Command")),
    )
