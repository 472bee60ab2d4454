"""API serializers of the price catalog and exchange rates."""

from django.conf import settings
from rest_framework import serializers

from apps.core.api.serializers import RestrictedModelSerializer
from apps.costs import catalog, rates
from apps.costs.choices import Billing
from apps.costs.currencies import is_currency
from apps.costs.models import ExchangeRate, Price
from apps.providers.choices import ProviderKind
from apps.providers.models import CloudAccount

#: What identifies a price and what it is: fixed once written (history is never re-priced).
FIXED = ("provider", "kind", "region", "instance_type", "zone", "currency", "hourly_price", "billing", "valid_from")
FIXED += ("minimum_seconds",)
REPRICE = "A price is never re-priced: add a new row from the moment the new price applies (it closes this one)."
PHYSICAL = (
    "Physical machines are priced by their own monthly_cost (/api/v1/physical-machines/); "
    "the catalog prices cloud instance types."
)


def currency_code(value: str) -> str:
    """An ISO 4217 code, upper-cased."""
    code = (value or "").strip().upper()
    if not is_currency(code):
        raise serializers.ValidationError(f"{value!r} is not an ISO 4217 currency code: use e.g. USD, EUR, CNY, JPY.")
    return code


def reportable_currency(value: str) -> str:
    """An ISO 4217 code that DCP can convert to: DCP_CURRENCY, or one with exchange rates."""
    code = currency_code(value)
    if code != settings.DCP_CURRENCY and not rates.has_rates(code):
        raise serializers.ValidationError(
            f"No exchange rates to or from {code}: add them under /api/v1/exchange-rates/ "
            f"or use another currency (default {settings.DCP_CURRENCY})."
        )
    return code


class PriceSerializer(RestrictedModelSerializer):
    """A catalog row. Key and price are fixed once written; valid_to, source and confirmed_at may change."""

    provider = serializers.PrimaryKeyRelatedField(queryset=CloudAccount.objects.all(), required=False, allow_null=True)
    hourly_price = serializers.DecimalField(max_digits=18, decimal_places=8, coerce_to_string=True)

    class Meta:
        model = Price
        fields = (
            "id",
            "provider",
            "kind",
            "region",
            "instance_type",
            "zone",
            "currency",
            "hourly_price",
            "billing",
            "minimum_seconds",
            "valid_from",
            "valid_to",
            "source",
            "confirmed_at",
            "created_at",
            "updated_at",
        )
        extra_kwargs = {"minimum_seconds": {"max_value": 31 * 86400}}

    def validate_currency(self, value):
        """ISO 4217."""
        return currency_code(value)

    def validate_hourly_price(self, value):
        """Above 0: a price of 0 is an unknown price."""
        if value <= 0:
            raise serializers.ValidationError(
                "A price of 0 or less is an unknown price: leave the type out of the catalog instead "
                "(its hours are then reported as unpriced)."
            )
        return value

    def validate(self, attrs):
        """Account or kind (not physical), a minimum only with per-second billing, fixed fields unchanged."""
        if self.instance is not None:
            changed = [f for f in FIXED if f in attrs and attrs[f] != getattr(self.instance, f)]
            if changed:
                raise serializers.ValidationError({changed[0]: [REPRICE]})
            catalog.check_new_end(self.instance, attrs.get("valid_to", self.instance.valid_to))
            return attrs
        provider, kind = attrs.get("provider"), attrs.get("kind", "")
        if (provider is None) == (not kind):
            raise serializers.ValidationError(
                {"provider": ["Give provider (an account id) or kind (every account of that kind), exactly one."]}
            )
        if (provider.kind if provider else kind) == ProviderKind.PHYSICAL:
            raise serializers.ValidationError({"provider" if provider else "kind": [PHYSICAL]})
        if attrs.get("billing") == Billing.PER_HOUR and attrs.get("minimum_seconds"):
            raise serializers.ValidationError(
                {"minimum_seconds": ["per_hour bills every started hour whole: leave minimum_seconds at 0."]}
            )
        if attrs.get("valid_to") is not None and attrs["valid_to"] <= attrs["valid_from"]:
            raise serializers.ValidationError({"valid_to": ["valid_to must be after valid_from (or empty)."]})
        return attrs

    def create(self, validated_data):
        """Add the row, closing the one in force at its start."""
        return catalog.add_price(validated_data, self.context["request"].user)


class ExchangeRateSerializer(RestrictedModelSerializer):
    """1 base = rate quote, from valid_from (a day in DCP_TIME_ZONE) until the pair's next rate."""

    rate = serializers.DecimalField(max_digits=24, decimal_places=10, coerce_to_string=True)

    class Meta:
        model = ExchangeRate
        fields = ("id", "base", "quote", "rate", "valid_from", "created_at", "updated_at")
        # The day's uniqueness is checked in validate(), with a message that says what to do.
        validators: list = []

    def validate_base(self, value):
        """ISO 4217."""
        return currency_code(value)

    def validate_quote(self, value):
        """ISO 4217."""
        return currency_code(value)

    def validate_rate(self, value):
        """Above 0."""
        if value <= 0:
            raise serializers.ValidationError("A rate must be above 0.")
        return value

    def validate(self, attrs):
        """Two different currencies; one rate per pair and day."""
        merged = {
            **{f: getattr(self.instance, f) for f in ("base", "quote", "valid_from") if self.instance},
            **attrs,
        }
        if merged["base"] == merged["quote"]:
            raise serializers.ValidationError({"quote": ["quote must differ from base."]})
        taken = ExchangeRate.objects.filter(base=merged["base"], quote=merged["quote"], valid_from=merged["valid_from"])
        if self.instance is not None:
            taken = taken.exclude(pk=self.instance.pk)
        if taken.exists():
            raise serializers.ValidationError(
                {
                    "valid_from": [
                        f"{merged['base']}/{merged['quote']} already has a rate from {merged['valid_from']}; "
                        "change that one instead."
                    ]
                }
            )
        return attrs
