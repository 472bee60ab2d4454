"""Filters of the cost report schedule and report lists."""

import django_filters

from apps.core.api.filters import BaseFilterSet, DateTimeFilter, MultipleChoiceFilter
from apps.costs.reports.choices import Delivery, Frequency
from apps.costs.reports.models import CostReport, CostReportSchedule


class CostReportScheduleFilterSet(BaseFilterSet):
    """?cluster=&owner=&frequency=&active=."""

    frequency = django_filters.ChoiceFilter(choices=Frequency.CHOICES)

    class Meta:
        model = CostReportSchedule
        fields = ("cluster", "owner", "frequency", "active")


class CostReportFilterSet(BaseFilterSet):
    """?schedule=&delivery=&since= (periods starting at or after)."""

    delivery = MultipleChoiceFilter(choices=Delivery.CHOICES)
    since = DateTimeFilter(field_name="period_start", lookup_expr="gte")

    class Meta:
        model = CostReport
        fields = ("schedule", "delivery")
