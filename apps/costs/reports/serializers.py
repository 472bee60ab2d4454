"""API serializers of cost report schedules and reports."""

from decimal import Decimal

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.core.api.fields import FullMatch, ObjectField
from apps.core.api.serializers import RestrictedModelSerializer
from apps.core.api.types import decimal_pattern
from apps.costs.choices import Dimension
from apps.costs.currencies import round_money
from apps.costs.params import CostQuerySerializer
from apps.costs.reports import services
from apps.costs.reports.choices import Frequency, ReportFormat
from apps.costs.reports.models import CostReport, CostReportSchedule
from apps.costs.reports.periods import time_zones
from apps.inventory.models import Cluster

MAX_RECIPIENTS = 50
#: The addresses DCP sends to: a dot-atom local part and a host name with a top-level domain, as Django's own
#: EmailValidator takes them (it also takes quoted local parts and IP literals, which no mail relay here needs).
EMAIL = (
    r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"
)
MONEY = serializers.DecimalField(max_digits=24, decimal_places=4)


def _unique_list(child: dict, most: int) -> dict:
    return {"type": "array", "items": child, "minItems": 1, "maxItems": most, "uniqueItems": True}


class UniqueListField(serializers.ListField):
    """A list of at least one item, each given once."""

    default_error_messages = {"duplicate": "Give each value once: {value!r} is repeated."}

    def to_internal_value(self, data):
        """The items, checked; a repeated one is named."""
        items = super().to_internal_value(data)
        seen = set()
        for item in items:
            if item in seen:
                self.fail("duplicate", value=item)
            seen.add(item)
        return items


@extend_schema_field(_unique_list({"type": "string", "enum": Dimension.values()}, len(Dimension.values())))
class DimensionsField(UniqueListField):
    """group_by: dimensions as the cost API takes them, kept comma-separated."""

    def __init__(self, **kwargs):
        super().__init__(child=serializers.ChoiceField(choices=Dimension.CHOICES), min_length=1, **kwargs)

    def to_representation(self, value):
        """The stored comma-separated names as a list."""
        return value.split(",")


@extend_schema_field(_unique_list({"type": "string", "enum": ReportFormat.values()}, len(ReportFormat.values())))
class FormatsField(UniqueListField):
    """The report's files: csv, xlsx."""

    def __init__(self, **kwargs):
        super().__init__(child=serializers.ChoiceField(choices=ReportFormat.CHOICES), min_length=1, **kwargs)


@extend_schema_field(_unique_list({"type": "string", "pattern": f"^{EMAIL}$", "maxLength": 254}, MAX_RECIPIENTS))
class RecipientsField(UniqueListField):
    """E-mail addresses, at least one."""

    def __init__(self, **kwargs):
        address = serializers.CharField(
            max_length=254,
            validators=[FullMatch(EMAIL, message="Give an e-mail address such as finance@example.com.")],
        )
        super().__init__(child=address, min_length=1, max_length=MAX_RECIPIENTS, **kwargs)


@extend_schema_field({"type": "string", "enum": sorted(time_zones())})
class TimeZoneField(serializers.ChoiceField):
    """An IANA time zone name (the enum is documented without a line per zone)."""

    def __init__(self, **kwargs):
        super().__init__(choices=sorted(time_zones()), **kwargs)


class CostReportScheduleSerializer(RestrictedModelSerializer):
    """A schedule; its owner is whoever creates it."""

    cluster = serializers.PrimaryKeyRelatedField(
        queryset=Cluster.objects.all(),
        required=False,
        allow_null=True,
        help_text="The cluster reported (its admins manage the schedule, its members read it); "
        "null: every cluster the owner may see when each report is made (only the owner sees the schedule).",
    )
    group_by = DimensionsField(default=[Dimension.POOL])
    currency = serializers.CharField(min_length=3, max_length=3, required=False, help_text="Default DCP_CURRENCY.")
    frequency = serializers.ChoiceField(choices=Frequency.CHOICES, default=Frequency.MONTHLY)
    time_zone = TimeZoneField(
        required=False,
        help_text="IANA time zone whose calendar days, weeks (from Monday) and months are reported; default "
        "DCP_TIME_ZONE.",
    )
    formats = FormatsField(default=[ReportFormat.CSV])
    recipients = RecipientsField()

    class Meta:
        model = CostReportSchedule
        fields = (
            "id",
            "name",
            "owner",
            "cluster",
            "group_by",
            "currency",
            "frequency",
            "time_zone",
            "formats",
            "recipients",
            "active",
            "paused_reason",
            "created_at",
            "updated_at",
        )
        read_only_fields = ("owner", "paused_reason")

    def validate_group_by(self, value):
        """Kept as the cost API's comma-separated text."""
        return ",".join(value)

    def validate_currency(self, value):
        """An ISO 4217 code the cost API can answer in (DCP_CURRENCY, or one with exchange rates)."""
        check = CostQuerySerializer(data={"currency": value})
        if not check.is_valid() and "currency" in check.errors:
            raise serializers.ValidationError(check.errors["currency"])
        return check.validated_data["currency"]

    def validate(self, attrs):
        """No recipient who is a DCP user may be sent a report covering a cluster they may not see."""
        instance = self.instance
        owner = instance.owner if instance is not None else self.context["request"].user
        cluster = attrs["cluster"] if "cluster" in attrs else getattr(instance, "cluster", None)
        recipients = attrs["recipients"] if "recipients" in attrs else getattr(instance, "recipients", [])
        refused = services.recipients_who_may_not_see(owner, cluster, recipients)
        if refused:
            raise serializers.ValidationError(
                {"recipients": [f"{line}: remove the address, or make the user a member first." for line in refused]}
            )
        return attrs

    def create(self, validated_data):
        """Owned by the requesting user; currency and time zone default to DCP's."""
        validated_data.setdefault("currency", settings.DCP_CURRENCY)
        validated_data.setdefault("time_zone", settings.DCP_TIME_ZONE)
        return super().create({**validated_data, "owner": self.context["request"].user})

    def update(self, instance, validated_data):
        """Switched on again, a schedule DCP stopped forgets why."""
        if validated_data.get("active"):
            validated_data["paused_reason"] = ""
        return super().update(instance, validated_data)


def _money(value: Decimal, currency: str) -> str:
    return str(round_money(value, currency))


@extend_schema_field({"type": "string", "pattern": decimal_pattern(MONEY, signed=True)})
class FigureField(serializers.CharField):
    """A figure as the cost API writes it: a decimal string (money to the currency's minor unit)."""

    def __init__(self, **kwargs):
        super().__init__(read_only=True, **kwargs)

    def to_representation(self, value):
        """The decimal as text."""
        return str(value)


class CostReportRowSerializer(serializers.Serializer):
    """One group's figures, beside its cost in the period before."""

    key = serializers.CharField(read_only=True)
    ids = ObjectField(read_only=True, help_text="The group's id (or name) by dimension.")
    cost = FigureField()
    host_hours = FigureField()
    unpriced_host_hours = FigureField()
    previous_cost = FigureField(help_text="0 if the group had no hosts then.")
    change = FigureField(help_text="cost - previous_cost.")


@extend_schema_field({"type": "string", "pattern": decimal_pattern(MONEY, signed=True)})
class MoneyField(serializers.Field):
    """An amount of the report, rounded to its currency's minor unit, as a decimal string."""

    def __init__(self, **kwargs):
        super().__init__(read_only=True, source="*", **kwargs)

    def to_representation(self, report):
        """The amount named by field_name, or the change of the total."""
        if self.field_name == "change":
            return _money(report.total - report.previous_total, report.currency)
        return _money(getattr(report, self.field_name), report.currency)


class CostReportSerializer(serializers.ModelSerializer):
    """A report as it was made (read-only); ?format=csv or ?format=xlsx on one report downloads it."""

    group_by = DimensionsField(read_only=True)
    total = MoneyField(help_text="Equals GET /api/v1/costs/ for the same period, grouping, scope and currency.")
    previous_total = MoneyField(help_text="The total of the period before.")
    change = MoneyField(help_text="total - previous_total.")
    host_hours = FigureField()
    unpriced_host_hours = FigureField()
    rows = CostReportRowSerializer(many=True, read_only=True)
    missing_rates = serializers.ListField(
        child=ObjectField(), read_only=True, help_text="Currencies and days with no exchange rate."
    )

    class Meta:
        model = CostReport
        fields = (
            "id",
            "schedule",
            "period_start",
            "period_end",
            "group_by",
            "currency",
            "total",
            "previous_total",
            "change",
            "host_hours",
            "unpriced_host_hours",
            "rows",
            "missing_rates",
            "delivery",
            "attempts",
            "next_attempt_at",
            "delivered_at",
            "delivery_error",
            "created_at",
        )
        read_only_fields = fields
