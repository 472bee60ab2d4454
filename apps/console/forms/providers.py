"""Forms of provider accounts (write-only credentials), machine templates and registries (write-only password)."""

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from apps.configuration.models import Registry
from apps.configuration.runners import available_methods
from apps.console.forms.base import ApiForm, JSONObjectField, LinesField, ObjectChoiceField, SecretTextarea, _choices
from apps.providers.choices import ProviderKind
from apps.providers.drivers.registry import available_kinds
from apps.providers.models import CloudAccount

# -- Provider accounts and templates ------------------------------------------------------------------------------


def _credential_help() -> str:
    keys = []
    for kind in available_kinds():
        required, optional = ProviderKind.CREDENTIALS[kind]
        if required or optional:
            keys.append(f"{kind}: {', '.join(required)}" + (f" ({', '.join(optional)})" if optional else ""))
    return "; ".join(keys)


class ProviderForm(ApiForm):
    """A provider account; its credentials are written here and never shown again."""

    secret_fields = ("credentials",)

    name = forms.SlugField(label=gettext_lazy("Name"), max_length=64)
    kind = forms.ChoiceField(label=gettext_lazy("Kind"))
    region = forms.CharField(label=gettext_lazy("Region"), max_length=64, required=False)
    endpoint_url = forms.URLField(
        label=gettext_lazy("Endpoint URL"),
        assume_scheme="https",
        max_length=500,
        required=False,
        help_text=gettext_lazy("A private endpoint or an emulator; blank for the provider's own."),
    )
    credentials = JSONObjectField(
        label=gettext_lazy("Credentials"),
        widget=SecretTextarea(attrs={"rows": 4, "class": "code", "autocomplete": "off"}),
    )
    options = JSONObjectField(label=gettext_lazy("Options"))
    max_hosts = forms.IntegerField(label=gettext_lazy("Live hosts at most"), min_value=0, required=False)

    def setup(self) -> None:
        """Kinds with a driver; an account's kind does not change; credentials say which keys."""
        self.fields["kind"].choices = _choices(available_kinds())
        if self.instance is not None:
            self.fields["kind"].disabled = True
            self.fields["kind"].initial = self.instance.kind
        hint = _("A JSON object of the kind's keys: %(keys)s.") % {"keys": _credential_help()}
        if self.instance is not None:
            hint += " " + (
                _("Stored credentials are never shown; leave blank to keep them.")
                if self.instance.credentials
                else _("None are stored yet.")
            )
        self.fields["credentials"].help_text = hint

    def clean_credentials(self):
        """A JSON object, or nothing."""
        value = self.cleaned_data.get("credentials")
        if not isinstance(value, dict):
            raise forms.ValidationError(_("Give the credentials as a JSON object of the kind's keys."))
        return value

    def to_api(self) -> dict:
        """The body; an account's kind is not sent again on an edit."""
        body = super().to_api()
        if self.instance is not None:
            body.pop("kind", None)
        return body


class TemplateForm(ApiForm):
    """A machine template, checked against its provider's catalog when saved."""

    name = forms.SlugField(label=gettext_lazy("Name"), max_length=64)
    provider = ObjectChoiceField(label=gettext_lazy("Provider"), queryset=CloudAccount.objects.none())
    region = forms.CharField(label=gettext_lazy("Region"), max_length=64, required=False)
    zone = forms.CharField(label=gettext_lazy("Zone"), max_length=64, required=False)
    zones = JSONObjectField(
        label=gettext_lazy("Zones to spread over"),
        empty=[],
        help_text=gettext_lazy('A JSON list: names, or {"zone": ..., "subnet": ...}; blank for none.'),
    )
    instance_type = forms.CharField(
        label=gettext_lazy("Instance type"),
        max_length=64,
        help_text=gettext_lazy("Instance type, flavor, or physical machine class."),
    )
    image = forms.CharField(label=gettext_lazy("Image"), max_length=255, required=False)
    cpu = forms.IntegerField(label=gettext_lazy("CPU"), min_value=0, required=False)
    memory_gb = forms.DecimalField(
        label=gettext_lazy("Memory (GB)"), min_value=0, max_digits=8, decimal_places=2, required=False
    )
    network = forms.CharField(label=gettext_lazy("Network"), max_length=255, required=False)
    subnet = forms.CharField(label=gettext_lazy("Subnet"), max_length=255, required=False)
    security_groups = LinesField(label=gettext_lazy("Security groups"))
    key_name = forms.CharField(label=gettext_lazy("Key pair"), max_length=255, required=False)
    init_method = forms.ChoiceField(label=gettext_lazy("Initialization"))
    init_profile = forms.CharField(
        label=gettext_lazy("Profile roles"),
        max_length=255,
        required=False,
        help_text=gettext_lazy("Roles from playbooks/roles, comma-separated."),
    )
    init_vars = JSONObjectField(
        label=gettext_lazy("Initialization variables"),
        help_text=gettext_lazy('A JSON object of dcp_* variables, e.g. {"dcp_ntp_servers": ["ntp1.example.com"]}.'),
    )
    registry = ObjectChoiceField(label=gettext_lazy("Registry"), queryset=Registry.objects.none(), required=False)
    max_hosts = forms.IntegerField(label=gettext_lazy("Live hosts at most"), min_value=0, required=False)
    hourly_price = forms.DecimalField(
        label=gettext_lazy("Price per hour"), min_value=0, max_digits=12, decimal_places=6, required=False
    )

    def setup(self) -> None:
        """Accounts, registries and init methods to pick from."""
        self.fields["provider"].queryset = CloudAccount.objects.restrict(self.user)
        self.fields["registry"].queryset = Registry.objects.restrict(self.user)
        self.fields["init_method"].choices = _choices(available_methods())

    def clean_init_vars(self):
        """A JSON object."""
        value = self.cleaned_data.get("init_vars")
        if not isinstance(value, dict):
            raise forms.ValidationError(_('Give a JSON object, e.g. {"dcp_ntp_servers": ["ntp1.example.com"]}.'))
        return value


# -- Registries ---------------------------------------------------------------------------------------------------


class RegistryForm(ApiForm):
    """A private registry; its password is written here and never shown again."""

    secret_fields = ("password",)

    name = forms.SlugField(label=gettext_lazy("Name"), max_length=64)
    url = forms.CharField(label=gettext_lazy("Address"), max_length=255)
    mirrors = JSONObjectField(
        label=gettext_lazy("Mirrors"),
        help_text=gettext_lazy('A JSON object of IDC → mirror URL, e.g. {"idc-bj": "https://mirror.bj:5000"}.'),
    )
    default_mirror = forms.CharField(label=gettext_lazy("Default mirror"), max_length=255, required=False)
    insecure = forms.BooleanField(label=gettext_lazy("Plain HTTP"), required=False)
    username = forms.CharField(label=gettext_lazy("User name"), max_length=150, required=False)
    password = forms.CharField(
        label=gettext_lazy("Password"),
        max_length=1000,
        required=False,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
    )

    def setup(self) -> None:
        """Say that a stored password stays unless a new one is typed."""
        if self.instance is not None and self.instance.password:
            self.fields["password"].help_text = _("A password is stored (never shown); leave blank to keep it.")
