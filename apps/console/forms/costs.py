"""Forms of budgets (thresholds and recipients as lines) and cost report schedules."""

from django import forms
from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from apps.console.forms.base import ApiForm, LinesField, ObjectChoiceField
from apps.core.choices import Action
from apps.costs.budgets.choices import AlertBasis, BudgetPeriod, WebhookShape
from apps.costs.choices import Dimension
from apps.costs.reports.choices import Frequency, ReportFormat
from apps.inventory.models import Cluster, ServicePool

# -- Budgets ------------------------------------------------------------------------------------------------------


class ThresholdsField(LinesField):
    """Thresholds, one per line: a percent and what it is of (``80 actual``, ``100 forecast``)."""

    def prepare_value(self, value):
        """One threshold per line."""
        if isinstance(value, list):
            return "\n".join(f"{item['percent']} {item.get('of', AlertBasis.ACTUAL)}" for item in value)
        return value

    def to_python(self, value):
        """[{"percent", "of"}] from the lines."""
        found = []
        for line in (forms.CharField.to_python(self, value) or "").splitlines():
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
