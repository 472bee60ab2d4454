"""Filters of the price catalog and exchange rate lists."""

import django_filters

from apps.core.api.filters import BaseFilterSet, DateTimeFilter
from apps.costs.choices import Billing
from apps.costs.models import ExchangeRate, Price
from apps.providers.choices import ProviderKind


class PriceFilterSet(BaseFilterSet):
    """?provider=&kind=&region=&instance_type=&zone=&currency=&billing=&source=&at= (rows in force at an instant)."""

    kind = django_filters.ChoiceFilter(choices=ProviderKind.CHOICES)
    billing = django_filters.ChoiceFilter(choices=Billing.CHOICES)
    at = DateTimeFilter(method="filter_at", label="In force at this instant")

    class Meta:
        model = Price
        fields = ("provider", "kind", "region", "instance_type", "zone", "currency", "billing", "source")

    def filter_at(self, queryset, name, value):
        """Rows in force at the instant."""
        return queryset.filter(valid_from__lte=value).exclude(valid_to__lte=value)


class ExchangeRateFilterSet(BaseFilterSet):
    """?base=&quote=&since= (rates from that day on)."""

    since = django_filters.DateFilter(field_name="valid_from", lookup_expr="gte")

    class Meta:
        model = ExchangeRate
        fields = ("base", "quote")
