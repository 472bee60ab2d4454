"""The parameters of a cost query, checked: every bad value is a 400 that says what to fix."""

import re
from datetime import datetime, timedelta

from django.conf import settings
from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.fields import empty

from apps.core.api.filters import BIGINT_MAX
from apps.costs.choices import Dimension, Step
from apps.costs.periods import buckets, midnight, this_month, zone
from apps.costs.queries import CostQuery
from apps.costs.serializers import reportable_currency

#: The longest window a query may cover, and the most buckets a series may have.
MAX_WINDOW = timedelta(days=1830)
MAX_BUCKETS = 1000


@extend_schema_field(OpenApiTypes.STR)
class InstantField(serializers.Field):
    """An ISO 8601 instant, or a date (its midnight in DCP_TIME_ZONE); without an offset, in DCP_TIME_ZONE."""

    def validate_empty_values(self, data):
        """An empty value (``?start=``) is not given: the default applies."""
        return super().validate_empty_values(empty if data == "" else data)

    def to_internal_value(self, data):
        """Parse; a clear message when it is neither."""
        text = str(data).strip()
        try:
            moment = parse_datetime(text)
            day = None if moment else parse_date(text)
        except ValueError:
            moment = day = None
        if day is not None:
            return midnight(day)
        if moment is None:
            raise serializers.ValidationError(
                f"{text!r} is not a date or an ISO 8601 instant: use e.g. 2026-01-31 or 2026-01-31T08:00:00Z."
            )
        return moment if moment.tzinfo else moment.replace(tzinfo=zone())

    def to_representation(self, value):
        """ISO 8601."""
        return value.isoformat()


class QueryIdField(serializers.IntegerField):
    """An id in a query string: digits only (``5.0`` is not an integer, though DRF would take it)."""

    def to_internal_value(self, data):
        """The id, or the field's 'invalid' error for a fraction or a word."""
        if not re.fullmatch(r"\s*\+?\d+\s*", str(data)):
            self.fail("invalid")
        return super().to_internal_value(data)


class CostQuerySerializer(serializers.Serializer):
    """?group_by=&start=&end=&step=&currency=&cluster=&pool=&provider= (and format=csv)."""

    group_by = serializers.CharField(
        default=Dimension.POOL,
        help_text=f"One or more of {', '.join(Dimension.values())}, comma-separated.",
    )
    start = InstantField(required=False, help_text="Default: the start of this month (DCP_TIME_ZONE).")
    end = InstantField(required=False, help_text="Default: the end of this month.")
    step = serializers.ChoiceField(choices=Step.CHOICES, required=False, help_text="A time series by calendar step.")
    currency = serializers.RegexField(
        r"^[A-Za-z]{3}$",
        required=False,
        help_text="ISO 4217; default DCP_CURRENCY.",
        error_messages={"invalid": "Give an ISO 4217 currency code of three letters, e.g. USD, EUR, CNY, JPY."},
    )
    cluster = QueryIdField(min_value=1, max_value=BIGINT_MAX, required=False)
    pool = QueryIdField(min_value=1, max_value=BIGINT_MAX, required=False)
    provider = QueryIdField(min_value=1, max_value=BIGINT_MAX, required=False)

    def validate_group_by(self, value):
        """Known dimensions, each once."""
        names = [name.strip() for name in value.split(",") if name.strip()]
        unknown = [name for name in names if name not in Dimension.values()]
        if not names or unknown:
            raise serializers.ValidationError(
                f"Unknown group_by {', '.join(unknown) or repr(value)}: use one or more of "
                f"{', '.join(Dimension.values())}, comma-separated."
            )
        if len(set(names)) != len(names):
            raise serializers.ValidationError("Name each group_by dimension once.")
        return names

    def validate_currency(self, value):
        """ISO 4217, with rates unless it is DCP's own currency."""
        return reportable_currency(value)

    def validate(self, attrs):
        """A window of at most MAX_WINDOW, end after start, at most MAX_BUCKETS buckets."""
        month = this_month(datetime.now(zone()))
        start = attrs.get("start") or month[0]
        end = attrs.get("end") or (month[1] if "start" not in attrs or start < month[1] else None)
        if end is None:
            raise serializers.ValidationError({"end": ["start is after this month: give end too."]})
        if end <= start:
            raise serializers.ValidationError({"end": [f"end ({end.isoformat()}) must be after start."]})
        if end - start > MAX_WINDOW:
            raise serializers.ValidationError(
                {"end": [f"The window may cover at most {MAX_WINDOW.days} days (five years); split the query."]}
            )
        step = attrs.get("step")
        if step and len(buckets(start, end, step)) > MAX_BUCKETS:
            raise serializers.ValidationError(
                {"step": [f"A series has at most {MAX_BUCKETS} buckets: use a longer step or a shorter window."]}
            )
        return {**attrs, "start": start, "end": end}

    def query(self) -> CostQuery:
        """The checked query."""
        data = self.validated_data
        return CostQuery(
            dimensions=data["group_by"],
            start=data["start"],
            end=data["end"],
            currency=data.get("currency") or settings.DCP_CURRENCY,
            step=data.get("step"),
            filters={key: data[key] for key in ("cluster", "pool", "provider") if key in data},
        )
