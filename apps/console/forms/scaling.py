"""Forms of a pool's scaling schedules (cron or one-off, in a time zone) and scaling policies.

The checks a person most often trips on (a cron expression, a time zone, one target, one time) are the form's
own, so their messages are in the reader's language and name what to fix; the API's serializer then checks the
rest (the pool's bounds, a name used once per pool) exactly as it does for a script.
"""

from datetime import datetime

from django import forms
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop

from apps.console.forms.base import ApiForm, ObjectChoiceField
from apps.core.choices import Action
from apps.inventory.models import ServicePool
from apps.scaling import timing
from apps.scaling.choices import StepUnit
from apps.scaling.serializers import MAX_SECONDS, MAX_SIZE

#: The step units' labels (apps.scaling.choices.StepUnit), for the catalog.
UNIT_LABELS = (gettext_noop("Hosts"), gettext_noop("Percent"))
#: How a one-off time is typed: the browser's date-and-time box, or by hand with a space.
LOCAL_FORMAT = "%Y-%m-%dT%H:%M"


class LocalTimeField(forms.DateTimeField):
    """A date and time as typed, without a zone: the form reads it in the schedule's own time zone."""

    widget = forms.DateTimeInput(attrs={"type": "datetime-local"}, format=LOCAL_FORMAT)

    def to_python(self, value):
        """A naive datetime (or None); an aware one is kept as typed."""
        if value in self.empty_values:
            return None
        if isinstance(value, datetime):
            return value
        try:
            return datetime.fromisoformat(str(value).strip())
        except ValueError:
            raise forms.ValidationError(_("Give a date and time such as 2026-12-24 20:00."), code="invalid") from None


class PoolOwnedForm(ApiForm):
    """What a schedule's and a policy's forms share: the pool (picked when made, then fixed)."""

    scope_field = "pool"
    prefill = ("pool",)

    pool = ObjectChoiceField(label=gettext_lazy("Pool"), queryset=ServicePool.objects.none())

    def setup(self) -> None:
        """The pools the user may run (cluster admins: their clusters' pools; pool admins: theirs)."""
        operable = ServicePool.objects.restrict(self.user, Action.OPERATE).select_related("cluster")
        self.fields["pool"].queryset = operable.order_by("cluster__name", "name", "pk")
        if self.instance is not None:
            del self.fields["pool"]


class ScheduleForm(PoolOwnedForm):
    """A scaling schedule: when (cron or once, in a time zone), what (a size or a delta), for how long."""

    name = forms.CharField(label=gettext_lazy("Name"), max_length=100)
    cron = forms.CharField(
        label=gettext_lazy("Cron"),
        max_length=100,
        required=False,
        help_text=gettext_lazy(
            "Five fields: minute hour day month weekday, e.g. “0 20 * * 6” for Saturdays at 20:00. "
            "Blank for a one-off time."
        ),
    )
    run_at = LocalTimeField(
        label=gettext_lazy("Once at"),
        required=False,
        help_text=gettext_lazy("A one-off time instead of a cron expression, read in the time zone below."),
    )
    time_zone = forms.CharField(
        label=gettext_lazy("Time zone"),
        max_length=64,
        help_text=gettext_lazy("An IANA name, such as UTC or Asia/Shanghai."),
    )
    desired_size = forms.IntegerField(
        label=gettext_lazy("Scale to (hosts)"), min_value=0, max_value=MAX_SIZE, required=False
    )
    delta = forms.IntegerField(
        label=gettext_lazy("Or scale by (hosts)"),
        min_value=-MAX_SIZE,
        max_value=MAX_SIZE,
        required=False,
        help_text=gettext_lazy("Give one of the two: a size, or hosts to add (negative: to remove)."),
    )
    duration_minutes = forms.IntegerField(
        label=gettext_lazy("Ends after (minutes)"),
        min_value=1,
        max_value=MAX_SECONDS,
        required=False,
        help_text=gettext_lazy("Then the pool returns to the size it had before. Blank: no end."),
    )
    grace_seconds = forms.IntegerField(
        label=gettext_lazy("Grace (s)"),
        min_value=0,
        max_value=MAX_SECONDS,
        initial=600,
        help_text=gettext_lazy("An occurrence found later than this (DCP was down) is recorded as missed."),
    )
    enabled = forms.BooleanField(label=gettext_lazy("Enabled"), required=False, initial=True)

    def setup(self) -> None:
        """The pools to pick from; DCP's time zone to start from."""
        super().setup()
        self.fields["time_zone"].initial = settings.DCP_TIME_ZONE

    @classmethod
    def from_api(cls, data: dict) -> dict:
        """The schedule as the API shows it; a one-off time as the wall-clock time of its own time zone."""
        initial = super().from_api(data)
        if data.get("run_at"):
            moment = datetime.fromisoformat(data["run_at"]).astimezone(timing.zone(data.get("time_zone", "UTC")))
            initial["run_at"] = moment.replace(tzinfo=None, second=0, microsecond=0)
        return initial

    def clean_cron(self) -> str:
        """Five fields croniter reads (spaces tidied), or blank."""
        value = " ".join(self.cleaned_data.get("cron", "").split())
        if value and timing.check_cron(value):
            raise forms.ValidationError(
                _(
                    "“%(cron)s” is not a cron expression: give five fields, minute hour day month weekday, "
                    "e.g. “0 20 * * 6”."
                )
                % {"cron": value}
            )
        return value

    def clean_time_zone(self) -> str:
        """An IANA time zone."""
        value = self.cleaned_data.get("time_zone", "").strip()
        if timing.check_time_zone(value):
            raise forms.ValidationError(
                _("Unknown time zone “%(zone)s”: use an IANA name such as UTC or Asia/Shanghai.") % {"zone": value}
            )
        return value

    def clean_delta(self):
        """Zero changes nothing."""
        value = self.cleaned_data.get("delta")
        if value == 0:
            raise forms.ValidationError(_("A delta of 0 changes nothing: give hosts to add, or negative to remove."))
        return value

    def clean(self):
        """One target, one time; a one-off time read in the time zone and in the future."""
        data = super().clean()
        if "desired_size" in data and "delta" in data:
            given = [data["desired_size"] is not None, data["delta"] is not None]
            if all(given):
                self.add_error("desired_size", _("Give a size or hosts to add or remove, not both: clear one."))
            elif not any(given):
                self.add_error("desired_size", _("Give a size to scale to, or hosts to add or remove."))
        if "cron" in data and "run_at" in self.fields and not self.has_error("run_at"):
            cron, run_at = data["cron"], data.get("run_at")
            if cron and run_at is not None:
                self.add_error("run_at", _("Give a cron expression or a one-off time, not both: clear one."))
            elif not cron and run_at is None:
                self.add_error("cron", _("Give a cron expression, or a one-off time below."))
            elif run_at is not None and data.get("time_zone"):
                if timezone.is_naive(run_at):
                    run_at = run_at.replace(tzinfo=timing.zone(data["time_zone"]))
                if run_at <= timezone.now():
                    self.add_error("run_at", _("A one-off time must be in the future."))
                data["run_at"] = run_at
        return data

    def to_api(self) -> dict:
        """The body: both times and both targets are sent, the one not given as blank (an edit may switch)."""
        body = super().to_api()
        body["cron"] = body.get("cron") or ""
        if body.get("run_at") is not None:
            body["run_at"] = body["run_at"].isoformat()  # as JSON carries it: the API takes text
        return body


class PolicyForm(PoolOwnedForm):
    """A scaling policy: which alert, how far out (and in), within which bounds, how often."""

    name = forms.CharField(label=gettext_lazy("Name"), max_length=100)
    alert_name = forms.CharField(
        label=gettext_lazy("Alert"),
        max_length=200,
        help_text=gettext_lazy("The alert's alertname label, e.g. HighLatency."),
    )
    step_out = forms.IntegerField(label=gettext_lazy("Step out"), min_value=1, max_value=MAX_SIZE)
    step_out_unit = forms.ChoiceField(label=gettext_lazy("Step out in"), initial=StepUnit.HOSTS)
    step_in = forms.IntegerField(
        label=gettext_lazy("Step in"),
        min_value=1,
        max_value=MAX_SIZE,
        required=False,
        help_text=gettext_lazy("Blank: the policy never removes hosts."),
    )
    step_in_unit = forms.ChoiceField(label=gettext_lazy("Step in in"), initial=StepUnit.HOSTS)
    stable_seconds = forms.IntegerField(
        label=gettext_lazy("Stable for (s)"),
        min_value=0,
        max_value=MAX_SECONDS,
        initial=600,
        help_text=gettext_lazy("How long the alert stays resolved before the policy steps in."),
    )
    min_size = forms.IntegerField(label=gettext_lazy("Minimum size"), min_value=0, max_value=MAX_SIZE, required=False)
    max_size = forms.IntegerField(
        label=gettext_lazy("Maximum size"),
        min_value=0,
        max_value=MAX_SIZE,
        required=False,
        help_text=gettext_lazy("Bounds of the policy's own, within the pool's; blank: the pool's."),
    )
    cooldown_seconds = forms.IntegerField(
        label=gettext_lazy("Cooldown (s)"),
        min_value=0,
        max_value=MAX_SECONDS,
        initial=300,
        help_text=gettext_lazy("The policy scales at most once in this long."),
    )
    enabled = forms.BooleanField(label=gettext_lazy("Enabled"), required=False, initial=True)

    def setup(self) -> None:
        """The pools to pick from; the units in the reader's language."""
        super().setup()
        units = [(value, _(text)) for value, text in StepUnit.CHOICES]
        self.fields["step_out_unit"].choices = units
        self.fields["step_in_unit"].choices = units
