"""Cost fields for other apps' serializers: a host's rate and cost, a pool's or cluster's run-rate and month.

The figures of a whole page are computed together, on the first object's field,
in a constant number of queries (apps.costs.services); a lone object is computed alone.
"""

from decimal import Decimal

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.serializers import ListSerializer

from apps.costs import kept, services


def page_figures(serializer, obj, compute):
    """The figures of obj, computing them for every object of the serializer's page at once."""
    cache = serializer.context.setdefault(f"costs:{compute.__name__}", {})
    if obj.pk not in cache:
        root = serializer.root
        page = list(root.instance) if isinstance(root, ListSerializer) and root.instance is not None else [obj]
        if obj not in page:
            page = [obj]
        cache.update(compute(page, timezone.now()))
    return cache[obj.pk]


def _money(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


class HostCostMixin(serializers.Serializer):
    """hourly_price (in force now, or when it ended), currency, cost so far, unpriced_hours."""

    hourly_price = serializers.SerializerMethodField(help_text="The catalog's price in force; null when unknown.")
    currency = serializers.SerializerMethodField()
    cost = serializers.SerializerMethodField(help_text="Cost so far (decimal string); null while partly unpriced.")
    unpriced_hours = serializers.SerializerMethodField(help_text="Hours of its life no price covers.")

    def _figures(self, host) -> services.HostCost:
        return page_figures(self, host, services.host_costs)

    @extend_schema_field({"type": "string", "nullable": True, "format": "decimal"})
    def get_hourly_price(self, host) -> str | None:
        """Price per hour in force."""
        return _money(self._figures(host).hourly_price)

    def get_currency(self, host) -> str:
        """ISO 4217 code of the price and cost."""
        return self._figures(host).currency

    @extend_schema_field({"type": "string", "nullable": True, "format": "decimal"})
    def get_cost(self, host) -> str | None:
        """Cost from launch until now (or termination)."""
        return _money(self._figures(host).cost)

    @extend_schema_field({"type": "string", "format": "decimal"})
    def get_unpriced_hours(self, host) -> str:
        """Unpriced hours so far."""
        return str(self._figures(host).unpriced_hours)


def _group(dimension: str, listed: bool):
    def compute(objs, now):
        if listed:
            return kept.page_costs(dimension, [o.pk for o in objs], now)
        return {obj.pk: kept.live_costs(dimension, obj.pk, now) for obj in objs}

    compute.__name__ = f"group_costs_{dimension}_{'listed' if listed else 'live'}"
    return compute


class GroupCostField(serializers.Field):
    """A pool's or cluster's costs: {currency, run_rate_per_hour, cost_this_month, unpriced_hosts, as_of}.

    A lone pool or cluster is computed now; a list's page reads what apps.costs.kept keeps where it is
    still true, so ``as_of`` may be up to DCP_COST_FIGURES_MAX_AGE seconds ago there.
    """

    def __init__(self, dimension: str, **kwargs):
        self.listed, self.live = _group(dimension, True), _group(dimension, False)
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, obj):
        """The figures of obj: with its page's, as kept, in a list; computed now alone."""
        listed = isinstance(self.parent.root, ListSerializer)
        return page_figures(self.parent, obj, self.listed if listed else self.live)


GROUP_COST_SCHEMA = {
    "type": "object",
    "properties": {
        "currency": {"type": "string"},
        "run_rate_per_hour": {"type": "string", "format": "decimal"},
        "cost_this_month": {"type": "string", "format": "decimal"},
        "unpriced_hosts": {"type": "integer"},
        "as_of": {
            "type": "string",
            "format": "date-time",
            "description": "When these figures were computed: now for one pool or cluster; in a list, up to "
            "DCP_COST_FIGURES_MAX_AGE seconds ago (the cost this month leaves out the time since).",
        },
    },
}
GroupCostField = extend_schema_field(GROUP_COST_SCHEMA)(GroupCostField)
