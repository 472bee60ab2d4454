"""Console forms of the accounts app: a new token, a new password."""

from datetime import timedelta

from django import forms
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from apps.accounts.services import DEFAULT_EXPIRY


class TokenForm(forms.Form):
    """A named token: what it is for, how many days it lasts, and the user's password to confirm."""

    name = forms.CharField(
        label=_("Name"), max_length=100, help_text=_("What the token is for, e.g. the script that uses it.")
    )
    description = forms.CharField(label=_("Description"), max_length=200, required=False)
    no_expiry = forms.BooleanField(label=_("Never expires"), required=False)
    password = forms.CharField(
        label=_("Your password"), strip=False, widget=forms.PasswordInput, help_text=_("Confirms that it is you.")
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The limits are settings, read when the form is made rather than when the module is imported.
        self.fields["expires_in_days"] = forms.IntegerField(
            label=_("Expires in (days)"),
            min_value=1,
            max_value=settings.DCP_TOKEN_MAX_DAYS,
            initial=settings.DCP_TOKEN_DEFAULT_DAYS,
            required=not settings.DCP_TOKEN_ALLOW_NO_EXPIRY,
        )
        self.order_fields(["name", "description", "expires_in_days", "no_expiry", "password"])
        if not settings.DCP_TOKEN_ALLOW_NO_EXPIRY:
            del self.fields["no_expiry"]

    def expires_at(self):
        """The expiry asked for, as services.issue_token takes it."""
        if self.cleaned_data.get("no_expiry"):
            return None
        days = self.cleaned_data.get("expires_in_days")
        return DEFAULT_EXPIRY if days is None else timezone.now() + timedelta(days=days)


class PasswordForm(forms.Form):
    """The current password, and the new one twice."""

    current_password = forms.CharField(label=_("Current password"), strip=False, widget=forms.PasswordInput)
    new_password = forms.CharField(label=_("New password"), strip=False, widget=forms.PasswordInput)
    new_password_again = forms.CharField(label=_("New password again"), strip=False, widget=forms.PasswordInput)

    def clean(self):
        """The new password, typed twice, must match."""
        data = super().clean()
        if data.get("new_password") and data.get("new_password") != data.get("new_password_again"):
            self.add_error("new_password_again", _("The two new passwords differ."))
        return data
