"""Forms of the inventory: clusters and their members, pools and their template order, physical machines."""

from decimal import Decimal

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from apps.console.forms.base import ApiForm, ObjectChoiceField, _choices
from apps.core.choices import Action, Role
from apps.inventory.choices import MachineState
from apps.inventory.models import Cluster
from apps.providers.choices import ProviderKind
from apps.providers.models import CloudAccount, MachineTemplate

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


class PoolAdminForm(ApiForm):
    """A pool's new administrator: a member of its cluster, by username."""

    username = forms.CharField(label=gettext_lazy("Username"), max_length=150)


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


# -- Physical machines --------------------------------------------------------------------------------------------


class MachineForm(ApiForm):
    """A physical machine of a physical provider account."""

    provider = ObjectChoiceField(label=gettext_lazy("Provider"), queryset=CloudAccount.objects.none())
    hostname = forms.CharField(label=gettext_lazy("Host name"), max_length=253)
    ip = forms.GenericIPAddressField(label=gettext_lazy("IP address"))
    cpu = forms.IntegerField(label=gettext_lazy("CPU"), min_value=1)
    memory_gb = forms.DecimalField(
        label=gettext_lazy("Memory (GB)"), min_value=Decimal("0.5"), max_digits=8, decimal_places=2
    )
    machine_class = forms.CharField(label=gettext_lazy("Machine class"), max_length=64)
    idc = forms.CharField(label=gettext_lazy("IDC"), max_length=64)
    rack = forms.CharField(label=gettext_lazy("Rack"), max_length=64, required=False)
    monthly_cost = forms.DecimalField(label=gettext_lazy("Monthly cost"), min_value=0, max_digits=10, decimal_places=2)
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
