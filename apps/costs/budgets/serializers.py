"""API serializers of budgets and their alerts."""

from decimal import Decimal
from urllib.parse import urlsplit, urlunsplit

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import EmailValidator, URLValidator
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from apps.core.api.serializers import RestrictedModelSerializer, Serializer
from apps.costs.budgets.choices import AlertBasis, BudgetStatus, WebhookShape
from apps.costs.budgets.figures import figures_of
from apps.costs.budgets.models import AlertDelivery, Budget, BudgetAlert
from apps.costs.currencies import MINOR_UNITS
from apps.costs.fields import page_figures
from apps.costs.serializers import reportable_currency
from apps.inventory.models import Cluster, ServicePool

MAX_PERCENT = 1000
MAX_THRESHOLDS = 20
MAX_RECIPIENTS = 20
MAX_URL = 500
#: Stands for a webhook URL's query (its access token, typically) wherever the URL is shown.
HIDDEN_QUERY = "***"


class ThresholdSerializer(Serializer):
    """A percentage of actual or forecast spend that, once reached in a period, alerts the recipients."""

    percent = serializers.IntegerField(
        min_value=1, max_value=MAX_PERCENT, help_text="A whole percentage above 0 and at most 1000 (e.g. 80, 120)."
    )
    of = serializers.ChoiceField(choices=AlertBasis.CHOICES, default=AlertBasis.ACTUAL)


def redacted(url: str) -> str:
    """A webhook URL as shown: no user or password, the query (which holds the robot's token) hidden."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, HIDDEN_QUERY if parts.query else "", ""))


RECIPIENT_SCHEMA = {
    "oneOf": [
        {
            "type": "object",
            "properties": {"email": {"type": "string", "format": "email", "maxLength": 254}},
            "required": ["email"],
            "additionalProperties": False,
        },
        {
            "type": "object",
            "properties": {
                "url": {"type": "string", "format": "uri", "maxLength": MAX_URL, "pattern": "^https?://"},
                "shape": {"type": "string", "enum": WebhookShape.values()},
            },
            "required": ["url"],
            "additionalProperties": False,
        },
    ]
}


@extend_schema_field(RECIPIENT_SCHEMA)
class RecipientField(serializers.Field):
    """``{"email": "..."}``, or ``{"url": "https://...", "shape": "json"|"dingtalk"|"wecom"}`` (default json).

    A webhook URL is shown with its query hidden (it holds the robot's token); sent back as shown, it
    keeps the stored URL.
    """

    def to_internal_value(self, data):
        """A checked recipient."""
        if not isinstance(data, dict):
            raise serializers.ValidationError('Give an object: {"email": ...} or {"url": ..., "shape": ...}.')
        keys = set(data)
        if keys == {"email"}:
            return {"email": self._email(data["email"])}
        if "url" in keys and keys <= {"url", "shape"}:
            shape = data.get("shape", WebhookShape.JSON)
            if shape not in WebhookShape.values():
                raise serializers.ValidationError(
                    f"A webhook's shape must be one of {', '.join(WebhookShape.values())}."
                )
            return {"url": self._url(data["url"]), "shape": shape}
        raise serializers.ValidationError(
            'Give {"email": "ops@example.com"} or {"url": "https://...", "shape": "json"}, with no other keys.'
        )

    def _email(self, value) -> str:
        if not isinstance(value, str) or len(value) > 254:
            raise serializers.ValidationError("email: give an e-mail address of at most 254 characters.")
        try:
            EmailValidator()(value)
        except DjangoValidationError:
            raise serializers.ValidationError(f"email: {value!r} is not an e-mail address.") from None
        return value

    def _url(self, value) -> str:
        if not isinstance(value, str) or len(value) > MAX_URL:
            raise serializers.ValidationError(f"url: give an http(s) URL of at most {MAX_URL} characters.")
        try:
            URLValidator(schemes=["http", "https"])(value)
        except DjangoValidationError:
            raise serializers.ValidationError(f"url: {value!r} is not an http or https URL.") from None
        return value

    def to_representation(self, value):
        """E-mail addresses as they are, webhook URLs without their secrets."""
        if "email" in value:
            return {"email": value["email"]}
        return {"url": redacted(value["url"]), "shape": value.get("shape", WebhookShape.JSON)}


def _budget_figures(budgets, now):
    return {pk: figures.as_json() for pk, figures in figures_of(budgets, now).items()}


class FiguresField(serializers.Field):
    """A budget's read-only figures this period, computed with the rest of its page."""

    def __init__(self, name: str, **kwargs):
        self.figure = name
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, obj):
        """One figure of obj."""
        return page_figures(self.parent, obj, _budget_figures)[self.figure]


def _figure(name: str, schema: dict, help_text: str) -> FiguresField:
    """A read-only figure field with its own schema (one class per figure: the schema is a class attribute)."""
    field_class = extend_schema_field(schema)(type(f"{name.title()}Figure", (FiguresField,), {}))
    return field_class(name, help_text=help_text)


MONEY = {"type": "string", "format": "decimal"}


class BudgetSerializer(RestrictedModelSerializer):
    """A budget of a cluster (or one pool of it), with this period's figures."""

    cluster = serializers.PrimaryKeyRelatedField(queryset=Cluster.objects.all())
    pool = serializers.PrimaryKeyRelatedField(queryset=ServicePool.objects.all(), required=False, allow_null=True)
    amount = serializers.DecimalField(max_digits=20, decimal_places=4, coerce_to_string=True)
    thresholds = ThresholdSerializer(many=True, required=False, max_length=MAX_THRESHOLDS)
    notify = serializers.ListField(child=RecipientField(), required=False, max_length=MAX_RECIPIENTS)
    period_start = _figure("period_start", {"type": "string", "format": "date-time"}, "This period's start.")
    period_end = _figure("period_end", {"type": "string", "format": "date-time"}, "This period's end.")
    spent = _figure("spent", MONEY, "Spend so far this period.")
    forecast = _figure("forecast", MONEY, "Spend expected by the period's end (fleet, accepted scale jobs).")
    linear_forecast = _figure("linear_forecast", MONEY, "Spend so far extrapolated in a straight line.")
    percent = _figure("percent", MONEY, "Spent as a percentage of amount.")
    forecast_percent = _figure("forecast_percent", MONEY, "Forecast as a percentage of amount.")
    status = _figure("status", {"type": "string", "enum": BudgetStatus.values()}, "ok, warning or exceeded.")
    unpriced_host_hours = _figure("unpriced_host_hours", MONEY, "Host hours this period with no price (not in spent).")
    unpriced_planned_hosts = _figure(
        "unpriced_planned_hosts", {"type": "integer"}, "Hosts still to come whose price is unknown (not in forecast)."
    )
    missing_rates = _figure(
        "missing_rates",
        {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"currency": {"type": "string"}, "day": {"type": "string", "format": "date"}},
            },
        },
        "Currencies and days with no exchange rate: those amounts are not in spent.",
    )

    class Meta:
        model = Budget
        fields = (
            "id",
            "cluster",
            "pool",
            "name",
            "period",
            "amount",
            "currency",
            "thresholds",
            "notify",
            "enforce",
            "period_start",
            "period_end",
            "spent",
            "forecast",
            "linear_forecast",
            "percent",
            "forecast_percent",
            "status",
            "unpriced_host_hours",
            "unpriced_planned_hosts",
            "missing_rates",
            "created_at",
            "updated_at",
        )

    def to_representation(self, instance):
        """The amount to its currency's minor unit, as spent and forecast are."""
        data = super().to_representation(instance)
        data["amount"] = str(instance.shown_amount)
        return data

    def validate_currency(self, value):
        """ISO 4217, with exchange rates unless it is DCP_CURRENCY."""
        return reportable_currency(value)

    def validate_amount(self, value):
        """Above 0."""
        if value <= 0:
            raise serializers.ValidationError("Give an amount above 0.")
        return value

    def validate_thresholds(self, value):
        """Each threshold once, each with its percent (a PATCH leaves nested fields optional, so it is checked here)."""
        if any("percent" not in t for t in value):
            raise serializers.ValidationError('Give each threshold its percent, e.g. {"percent": 80}.')
        value = [{"percent": t["percent"], "of": t.get("of", AlertBasis.ACTUAL)} for t in value]
        keys = [(t["percent"], t["of"]) for t in value]
        if len(set(keys)) != len(keys):
            raise serializers.ValidationError("Give each threshold (percent and of) once.")
        return [{"percent": t["percent"], "of": t["of"]} for t in value]

    def validate(self, attrs):
        """The pool is the cluster's; the amount fits the currency; recipients when there are thresholds."""
        merged = {
            "cluster": getattr(self.instance, "cluster", None),
            "pool": getattr(self.instance, "pool", None),
            "currency": getattr(self.instance, "currency", None),
            "amount": getattr(self.instance, "amount", None),
            "thresholds": getattr(self.instance, "thresholds", []),
            "notify": self.instance.notify if self.instance else [],
            **attrs,
        }
        if merged["pool"] is not None and merged["pool"].cluster_id != merged["cluster"].pk:
            message = f"Pool {merged['pool']} is not in cluster {merged['cluster']}: pick one of its pools."
            raise serializers.ValidationError({"pool": [message]})
        places = MINOR_UNITS[merged["currency"]]
        amount = merged["amount"]
        if amount is not None and amount != amount.quantize(Decimal(1).scaleb(-places)):
            message = f"{merged['currency']} has {places} decimal places: give the amount with at most {places}."
            raise serializers.ValidationError({"amount": [message]})
        if merged["thresholds"] and not merged["notify"]:
            raise serializers.ValidationError(
                {"notify": ["Thresholds alert someone: give at least one e-mail address or webhook URL in notify."]}
            )
        if "notify" in attrs:
            attrs["notify"] = self._restore_urls(attrs["notify"])
        return attrs

    def _restore_urls(self, notify: list[dict]) -> list[dict]:
        """A webhook URL sent back as shown (query hidden) keeps the stored URL it stands for."""
        stored = {redacted(i["url"]): i["url"] for i in (self.instance.notify if self.instance else []) if "url" in i}
        restored = []
        for item in notify:
            if "url" in item and item["url"] in stored:
                item = {**item, "url": stored[item["url"]]}
            elif "url" in item and HIDDEN_QUERY in urlsplit(item["url"]).query.split("&"):
                raise serializers.ValidationError(
                    {"notify": [f"{item['url']} hides its query: give the whole URL, token included."]}
                )
            restored.append(item)
        return restored

    def create(self, validated_data):
        """Store the recipients encrypted."""
        notify = validated_data.pop("notify", [])
        return super().create({**validated_data, "recipients": {"notify": notify}})

    def update(self, instance, validated_data):
        """Store the recipients encrypted."""
        if "notify" in validated_data:
            validated_data["recipients"] = {"notify": validated_data.pop("notify")}
        return super().update(instance, validated_data)


class AlertDeliverySerializer(serializers.ModelSerializer):
    """One alert's delivery to one recipient."""

    class Meta:
        model = AlertDelivery
        fields = ("id", "channel", "target", "shape", "status", "attempts", "next_attempt", "last_error", "sent_at")


class BudgetAlertSerializer(serializers.ModelSerializer):
    """A threshold crossed in a period, the figures then, and how its deliveries went."""

    amount = serializers.DecimalField(max_digits=20, decimal_places=4, coerce_to_string=True)
    spent = serializers.DecimalField(max_digits=20, decimal_places=4, coerce_to_string=True)
    forecast = serializers.DecimalField(max_digits=20, decimal_places=4, coerce_to_string=True)
    deliveries = AlertDeliverySerializer(many=True, read_only=True)

    class Meta:
        model = BudgetAlert
        fields = (
            "id",
            "budget",
            "period_start",
            "period_end",
            "percent",
            "of",
            "amount",
            "currency",
            "spent",
            "forecast",
            "deliveries",
            "created_at",
        )

    def to_representation(self, instance):
        """Amount, spent and forecast to the currency's minor unit, as the budget shows them."""
        data = super().to_representation(instance)
        data.update({name: str(value) for name, value in instance.shown.items()})
        return data
