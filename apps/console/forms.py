"""The console's create and edit forms: what a person types, turned into the body the REST API takes.

Each form reads its fields with Django's own checks (their messages in the
reader's language) and gives ``to_api()``, the body the API's serializer then
validates exactly as it does for a script; ``take_errors()`` puts that
serializer's errors next to the fields they name. ``from_api()`` fills an edit
form from what the API shows of the object, which never includes a secret:
credentials and passwords are write-only, and left blank on an edit they are
kept as they are.
"""

import json
from decimal import Decimal

from django import forms
from django.conf import settings
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop

from apps.configuration.models import Registry
from apps.configuration.runners import available_methods
from apps.console.labels import label
from apps.core.choices import Action, Role
from apps.costs.budgets.choices import AlertBasis, BudgetPeriod, WebhookShape
from apps.costs.choices import Dimension
from apps.costs.reports.choices import Frequency, ReportFormat
from apps.inventory.choices import MachineState
from apps.inventory.models import Cluster, ServicePool
from apps.providers.choices import ProviderKind
from apps.providers.drivers.registry import available_kinds
from apps.providers.models import CloudAccount, MachineTemplate

#: Messages of the API's serializers that the forms show next to their fields, translated there (the API itself
#: answers in English, its contract); a message with figures in it is shown as the API wrote it.
API_MESSAGES = (
    gettext_noop("Your role on this cluster does not allow this."),
    gettext_noop("Each template may appear only once."),
    gettext_noop("A pool with min_size above 0 needs templates."),
    gettext_noop("A pool cannot move to another cluster."),
    gettext_noop("Give an amount above 0."),
    gettext_noop("Give each threshold (percent and of) once."),
    gettext_noop("Thresholds alert someone: give at least one e-mail address or webhook URL in notify."),
    gettext_noop("Give an e-mail address such as finance@example.com."),
    gettext_noop("A machine becomes allocated by scaling a pool, not by hand."),
    gettext_noop("This machine is allocated to a pool; scale that host in first."),
    gettext_noop("Give a list of security group names."),
    gettext_noop("The kind of a provider account cannot change; create a new account."),
    gettext_noop("CSV body has no header row."),
    gettext_noop("CSV body is not UTF-8 text."),
    gettext_noop("Month"),
    gettext_noop("Quarter"),
    gettext_noop("Year"),
    gettext_noop("Daily"),
    gettext_noop("Weekly"),
    gettext_noop("Monthly"),
    gettext_noop("CSV"),
    gettext_noop("Excel workbook (XLSX)"),
    gettext_noop("Provider account"),
    gettext_noop("IDC"),
)


def _flat(problems) -> list[str]:
    """Every message in a serializer's (possibly nested) errors of one field, each a sentence in the reader's
    language where the catalog has it; an item of a list is named by its line (the forms take lists as lines)."""
    if isinstance(problems, dict):
        found = []
        for key, value in problems.items():
            name = _("Line %(number)s") % {"number": int(key) + 1} if str(key).isdigit() else str(key)
            for text in _flat(value):
                found.append(text if key in ("", "non_field_errors", "detail") else f"{name}: {text}")
        return found
    if isinstance(problems, list | tuple):
        return [text for item in problems for text in _flat(item)]
    text = str(problems)
    return [capfirst(_(text))] if text else []


class ApiForm(forms.Form):
    """A form whose fields are (mostly) the API's; subclasses say how to turn values into the API's body."""

    #: The field whose object decides the user's role (a cluster); a refusal of that role is shown there.
    scope_field = ""
    #: Form fields whose value is written but never shown: blank on an edit means "keep".
    secret_fields: tuple[str, ...] = ()
    #: Fields a new object's form takes from the address (ids, e.g. ?cluster=5).
    prefill: tuple[str, ...] = ("cluster",)

    def __init__(self, *args, user, instance=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.instance = instance
        self.setup()

    def setup(self) -> None:
        """Fill choices from what the user may see; subclasses override."""

    @classmethod
    def from_api(cls, data: dict) -> dict:
        """Initial values from the API's representation of the object (same names by default)."""
        return {name: data[name] for name in cls.base_fields if name in data and name not in cls.secret_fields}

    def to_api(self) -> dict:
        """The API body of the cleaned values: objects by id, decimals as text (as JSON carries them)."""
        body = {}
        for name, value in self.cleaned_data.items():
            if name in self.secret_fields and value in (None, "", {}) and self.instance is not None:
                continue
            body[name] = self.api_value(value)
        return body

    @staticmethod
    def api_value(value):
        """One value as the API's JSON body carries it."""
        if hasattr(value, "pk"):
            return value.pk
        if isinstance(value, Decimal):
            return str(value)
        return value

    def take_errors(self, errors) -> None:
        """The API's errors, each next to the field it names (or above the form when no field shows it)."""
        if not isinstance(errors, dict):
            errors = {"": errors}
        for key, problems in errors.items():
            field = key if key in self.fields else None
            messages = _flat(problems)
            if field is None and key not in ("", "non_field_errors", "detail"):
                messages = [f"{key}: {text}" for text in messages]
            for text in messages:
                self.add_error(field, text)


class JSONObjectField(forms.JSONField):
    """A JSON object typed in a text box (shown indented); blank for none."""

    def __init__(self, *, empty=None, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("widget", forms.Textarea(attrs={"rows": 4, "class": "code"}))
        super().__init__(**kwargs)
        self.empty = {} if empty is None else empty

    def prepare_value(self, value):
        """Indented JSON."""
        if isinstance(value, forms.fields.InvalidJSONInput):
            return value
        return json.dumps(value, indent=2, ensure_ascii=False) if value not in (None, "") else ""

    def clean(self, value):
        """The parsed value; blank is the empty value."""
        cleaned = super().clean(value)
        return self.empty if cleaned is None else cleaned


class LinesField(forms.CharField):
    """A list of texts, one per line (commas also separate)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("widget", forms.Textarea(attrs={"rows": 3}))
        super().__init__(**kwargs)

    def prepare_value(self, value):
        """One item per line."""
        return "\n".join(value) if isinstance(value, list | tuple) else value

    def to_python(self, value):
        """The non-blank items, in order."""
        text = super().to_python(value) or ""
        return [item.strip() for line in text.splitlines() for item in line.split(",") if item.strip()]


class SecretTextarea(forms.Textarea):
    """A text box that never shows a value, not even the one just typed when the form comes back with errors."""

    def format_value(self, value):
        """Nothing to show."""


class ObjectChoiceField(forms.ModelChoiceField):
    """A drop-down of objects; an id not among them reads like a missing one."""

    default_error_messages = {
        "invalid_choice": gettext_lazy("Pick one of the list: that choice does not exist or is not yours to use."),
    }


def _choices(values, blank: bool = False) -> list[tuple[str, str]]:
    """(value, label) in the reader's language."""
    found = [(value, label(value)) for value in values]
    return [("", "---------"), *found] if blank else found


# -- Clusters -----------------------------------------------------------------------------------------------------


class ClusterForm(ApiForm):
    """A cluster (business line)."""

    name = forms.SlugField(label=gettext_lazy("Name"), max_length=64)
    description = forms.CharField(
        label=gettext_lazy("Description"), max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )


class MemberForm(ApiForm):
    """A new member of a cluster: a user's name and their role."""

    username = forms.CharField(label=gettext_lazy("Username"), max_length=150)
    role = forms.ChoiceField(label=gettext_lazy("Role"), initial=Role.GUEST)

    def setup(self) -> None:
        """The roles, in the reader's language."""
        self.fields["role"].choices = _choices(Role.values())


# -- Pools --------------------------------------------------------------------------------------------------------


class OrderWidget(forms.Widget):
    """One row per template with a position box: 1 first, 2 next; blank leaves the template out."""

    template_name = "console/widgets/order.html"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.templates: list = []

    def get_context(self, name, value, attrs):
        """The templates with the position each has now (from the ordered ids, or the positions typed)."""
        context = super().get_context(name, value, attrs)
        if isinstance(value, dict):
            positions = value
        else:
            positions = {str(pk): str(i + 1) for i, pk in enumerate(value or [])}
        rows = [(t, f"{name}-{t.pk}", positions.get(str(t.pk), "")) for t in self.templates]
        rows.sort(key=lambda row: (not row[2].strip().isdigit(), int(row[2]) if row[2].strip().isdigit() else 0))
        context["widget"]["rows"] = rows
        return context

    def value_from_datadict(self, data, files, name):
        """{template id: the position typed} for every template box in the form."""
        prefix = f"{name}-"
        return {key[len(prefix) :]: data.get(key, "") for key in data if key.startswith(prefix)}

    def value_omitted_from_data(self, data, files, name):
        """Never omitted: no box filled means no templates."""
        return False


class TemplateOrderField(forms.Field):
    """The pool's templates in placement order, from the positions typed next to each."""

    widget = OrderWidget

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        super().__init__(**kwargs)
        self.templates: list = []

    def clean(self, value):
        """Template ids ordered by their positions; a position must be a whole number, each used once."""
        value = value if isinstance(value, dict) else {}
        known = {str(t.pk) for t in self.templates}
        picked = []
        for pk, text in value.items():
            text = text.strip()
            if not text:
                continue
            if pk not in known:
                raise forms.ValidationError(_("Pick templates from the list."))
            if not text.isdigit() or int(text) < 1:
                raise forms.ValidationError(
                    _("Give each position as a whole number from 1 (%(text)s is not).") % {"text": text}
                )
            picked.append((int(text), int(pk)))
        positions = [position for position, _pk in picked]
        if len(set(positions)) != len(positions):
            raise forms.ValidationError(_("Give each template its own position: two have the same number."))
        return [pk for _position, pk in sorted(picked)]


class PoolForm(ApiForm):
    """A service pool: its cluster (on creation), name, bounds and template order."""

    scope_field = "cluster"

    cluster = ObjectChoiceField(label=gettext_lazy("Cluster"), queryset=Cluster.objects.none())
    name = forms.SlugField(label=gettext_lazy("Name"), max_length=64)
    description = forms.CharField(
        label=gettext_lazy("Description"), max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 2})
    )
    min_size = forms.IntegerField(label=gettext_lazy("Minimum size"), min_value=0, initial=0)
    max_size = forms.IntegerField(label=gettext_lazy("Maximum size"), min_value=0, initial=10)
    templates = TemplateOrderField(
        label=gettext_lazy("Templates in placement order"),
        help_text=gettext_lazy("Number the templates to use: 1 is tried first. Leave a box blank to leave it out."),
    )

    def setup(self) -> None:
        """Clusters the user administers (a pool stays in its cluster); every template."""
        self.fields["cluster"].queryset = Cluster.objects.restrict(self.user, Action.CHANGE)
        if self.instance is not None:
            del self.fields["cluster"]
        templates = list(MachineTemplate.objects.select_related("provider").order_by("name", "pk"))
        self.fields["templates"].templates = templates
        self.fields["templates"].widget.templates = templates


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
    memory_gb = forms.DecimalField(label=gettext_lazy("Memory (GB)"), min_value=0, decimal_places=2, required=False)
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
    hourly_price = forms.DecimalField(label=gettext_lazy("Price per hour"), min_value=0, required=False)

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


# -- Physical machines --------------------------------------------------------------------------------------------


class MachineForm(ApiForm):
    """A physical machine of a physical provider account."""

    provider = ObjectChoiceField(label=gettext_lazy("Provider"), queryset=CloudAccount.objects.none())
    hostname = forms.CharField(label=gettext_lazy("Host name"), max_length=253)
    ip = forms.GenericIPAddressField(label=gettext_lazy("IP address"))
    cpu = forms.IntegerField(label=gettext_lazy("CPU"), min_value=1)
    memory_gb = forms.DecimalField(label=gettext_lazy("Memory (GB)"), min_value=Decimal("0.5"), decimal_places=2)
    machine_class = forms.CharField(label=gettext_lazy("Machine class"), max_length=64)
    idc = forms.CharField(label=gettext_lazy("IDC"), max_length=64)
    rack = forms.CharField(label=gettext_lazy("Rack"), max_length=64, required=False)
    monthly_cost = forms.DecimalField(label=gettext_lazy("Monthly cost"), min_value=0)
    state = forms.ChoiceField(label=gettext_lazy("State"), initial=MachineState.FREE)

    def setup(self) -> None:
        """Physical accounts; free or maintenance by hand (allocated only as it is)."""
        accounts = CloudAccount.objects.restrict(self.user).filter(kind=ProviderKind.PHYSICAL)
        self.fields["provider"].queryset = accounts
        states = [MachineState.FREE, MachineState.MAINTENANCE]
        if self.instance is not None and self.instance.state == MachineState.ALLOCATED:
            states.insert(0, MachineState.ALLOCATED)
        self.fields["state"].choices = _choices(states)


class MachineImportForm(forms.Form):
    """A CSV file of machines, with a header row of the API's field names."""

    file = forms.FileField(
        label=gettext_lazy("CSV file"),
        help_text=gettext_lazy(
            "A header row of: provider (its id), hostname, ip, cpu, memory_gb, machine_class, idc, rack, "
            "monthly_cost, state. Every row is checked; none is saved unless all are right."
        ),
    )


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


# -- Budgets ------------------------------------------------------------------------------------------------------


class ThresholdsField(forms.CharField):
    """Thresholds, one per line: a percent and what it is of (``80 actual``, ``100 forecast``)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("widget", forms.Textarea(attrs={"rows": 3}))
        super().__init__(**kwargs)

    def prepare_value(self, value):
        """One threshold per line."""
        if isinstance(value, list):
            return "\n".join(f"{item['percent']} {item.get('of', AlertBasis.ACTUAL)}" for item in value)
        return value

    def to_python(self, value):
        """[{"percent", "of"}] from the lines."""
        found = []
        for line in (super().to_python(value) or "").splitlines():
            words = line.replace("%", " ").split()
            if not words:
                continue
            basis = words[1] if len(words) > 1 else AlertBasis.ACTUAL
            if len(words) > 2 or not words[0].isdigit() or basis not in AlertBasis.values():
                raise forms.ValidationError(
                    _("Write each threshold as a percent and actual or forecast, e.g. “80 actual”: “%(line)s” is not.")
                    % {"line": line.strip()}
                )
            found.append({"percent": int(words[0]), "of": basis})
        return found


class RecipientsField(LinesField):
    """Who a budget alerts, one per line: an e-mail address, or a webhook URL and its shape (json, dingtalk, wecom)."""

    def prepare_value(self, value):
        """One recipient per line (a webhook's URL as the API shows it: its query hidden)."""
        if isinstance(value, list):
            return "\n".join(
                item["email"] if "email" in item else f"{item['url']} {item.get('shape', WebhookShape.JSON)}"
                for item in value
            )
        return value

    def to_python(self, value):
        """[{"email"}] or [{"url", "shape"}], from the lines."""
        text = forms.CharField.to_python(self, value) or ""
        found = []
        for line in text.splitlines():
            words = line.split()
            if not words:
                continue
            if words[0].startswith(("http://", "https://")):
                found.append({"url": words[0], "shape": words[1] if len(words) > 1 else WebhookShape.JSON})
            elif len(words) == 1:
                found.append({"email": words[0]})
            else:
                raise forms.ValidationError(
                    _("Write one e-mail address, or one URL and its shape, per line: “%(line)s” is neither.")
                    % {"line": line.strip()}
                )
        return found


class BudgetForm(ApiForm):
    """A budget of a cluster or one of its pools."""

    scope_field = "cluster"

    cluster = ObjectChoiceField(label=gettext_lazy("Cluster"), queryset=Cluster.objects.none())
    pool = ObjectChoiceField(
        label=gettext_lazy("Pool"),
        queryset=ServicePool.objects.none(),
        required=False,
        help_text=gettext_lazy("Blank: the whole cluster."),
    )
    name = forms.CharField(label=gettext_lazy("Name"), max_length=100, required=False)
    period = forms.ChoiceField(label=gettext_lazy("Period"), choices=(), initial=BudgetPeriod.MONTH)
    amount = forms.DecimalField(label=gettext_lazy("Amount"), max_digits=20, decimal_places=4)
    currency = forms.CharField(label=gettext_lazy("Currency"), min_length=3, max_length=3)
    thresholds = ThresholdsField(
        label=gettext_lazy("Thresholds"),
        help_text=gettext_lazy("One per line: a percent and actual or forecast, e.g. “80 actual”."),
    )
    notify = RecipientsField(
        label=gettext_lazy("Notify"),
        help_text=gettext_lazy("One per line: an e-mail address, or a webhook URL and json, dingtalk or wecom."),
    )
    enforce = forms.BooleanField(
        label=gettext_lazy("Enforce"),
        required=False,
        help_text=gettext_lazy("Refuse a scale-out whose forecast passes the amount."),
    )

    def setup(self) -> None:
        """Clusters the user administers and their pools."""
        clusters = Cluster.objects.restrict(self.user, Action.CHANGE)
        self.fields["cluster"].queryset = clusters
        self.fields["pool"].queryset = ServicePool.objects.filter(cluster__in=clusters).select_related("cluster")
        self.fields["period"].choices = [(value, _(text)) for value, text in BudgetPeriod.CHOICES]
        self.fields["currency"].initial = settings.DCP_CURRENCY


# -- Cost report schedules ----------------------------------------------------------------------------------------


class ReportScheduleForm(ApiForm):
    """A schedule of cost reports, e-mailed to its recipients."""

    scope_field = "cluster"

    name = forms.CharField(label=gettext_lazy("Name"), max_length=100)
    cluster = ObjectChoiceField(
        label=gettext_lazy("Cluster"),
        queryset=Cluster.objects.none(),
        required=False,
        help_text=gettext_lazy("Blank: every cluster you may see when a report is made (only you see the schedule)."),
    )
    group_by = forms.MultipleChoiceField(
        label=gettext_lazy("Group by"), widget=forms.CheckboxSelectMultiple, initial=[Dimension.POOL]
    )
    currency = forms.CharField(label=gettext_lazy("Currency"), min_length=3, max_length=3)
    frequency = forms.ChoiceField(label=gettext_lazy("Frequency"), initial=Frequency.MONTHLY)
    time_zone = forms.CharField(label=gettext_lazy("Time zone"), max_length=64)
    formats = forms.MultipleChoiceField(
        label=gettext_lazy("Files"), widget=forms.CheckboxSelectMultiple, initial=[ReportFormat.CSV]
    )
    recipients = LinesField(label=gettext_lazy("Recipients"), help_text=gettext_lazy("E-mail addresses, one per line."))
    active = forms.BooleanField(label=gettext_lazy("Active"), required=False, initial=True)

    def setup(self) -> None:
        """Clusters the user administers; the cost API's dimensions; DCP's currency and time zone to start from."""
        self.fields["cluster"].queryset = Cluster.objects.restrict(self.user, Action.CHANGE)
        self.fields["group_by"].choices = [(value, _(text)) for value, text in Dimension.CHOICES]
        self.fields["frequency"].choices = [(value, _(text)) for value, text in Frequency.CHOICES]
        self.fields["formats"].choices = [(value, _(text)) for value, text in ReportFormat.CHOICES]
        self.fields["currency"].initial = settings.DCP_CURRENCY
        self.fields["time_zone"].initial = settings.DCP_TIME_ZONE
