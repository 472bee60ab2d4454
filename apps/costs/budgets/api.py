"""REST API of budgets: CRUD with this period's figures, the alerts fired, and a burn-down for charts."""

import django_filters
from django.utils import timezone
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from apps.core.api.filters import BaseFilterSet
from apps.core.api.views import ModelViewSet
from apps.costs.budgets.burndown import burndown
from apps.costs.budgets.choices import BudgetPeriod
from apps.costs.budgets.models import Budget
from apps.costs.budgets.serializers import BudgetAlertSerializer, BudgetSerializer


class BudgetFilterSet(BaseFilterSet):
    """?cluster=&pool=&period=&currency=&enforce="""

    period = django_filters.ChoiceFilter(choices=BudgetPeriod.CHOICES)

    class Meta:
        model = Budget
        fields = ("cluster", "pool", "period", "currency", "enforce")


DAY = inline_serializer(
    "BurndownDay",
    {
        "day": serializers.DateField(),
        "spent": serializers.DecimalField(
            max_digits=20, decimal_places=4, allow_null=True, help_text="Cumulative spend; null after today."
        ),
        "forecast": serializers.DecimalField(
            max_digits=20, decimal_places=4, allow_null=True, help_text="Cumulative forecast; null before today."
        ),
        "linear": serializers.DecimalField(max_digits=20, decimal_places=4, help_text="Straight-line extrapolation."),
    },
)
BURNDOWN = inline_serializer(
    "Burndown",
    {
        "budget": serializers.IntegerField(),
        "currency": serializers.CharField(),
        "amount": serializers.DecimalField(max_digits=20, decimal_places=4),
        "period_start": serializers.DateTimeField(),
        "period_end": serializers.DateTimeField(),
        "now": serializers.DateTimeField(),
        "spent": serializers.DecimalField(max_digits=20, decimal_places=4),
        "forecast": serializers.DecimalField(max_digits=20, decimal_places=4),
        "linear_forecast": serializers.DecimalField(max_digits=20, decimal_places=4),
        "days": DAY.__class__(many=True),
    },
)


class BudgetViewSet(ModelViewSet):
    """Budgets of the user's clusters: members read them, cluster admins manage them."""

    queryset = Budget.objects.select_related("cluster", "pool")
    serializer_class = BudgetSerializer
    filterset_class = BudgetFilterSet

    @extend_schema(responses={200: BudgetAlertSerializer(many=True)}, filters=False)
    @action(detail=True, methods=["get"])
    def alerts(self, request, pk=None):
        """The alerts this budget's thresholds fired, newest first, with each delivery's outcome."""
        budget = self.get_object()
        alerts = budget.alerts.prefetch_related("deliveries").order_by("-created_at", "-pk")
        page = self.paginate_queryset(alerts)
        return self.get_paginated_response(BudgetAlertSerializer(page, many=True).data)

    @extend_schema(responses={200: BURNDOWN}, filters=False)
    @action(detail=True, methods=["get"])
    def burndown(self, request, pk=None):
        """Cumulative spend per day of this period so far, and the forecast line to its end."""
        return Response(burndown(self.get_object(), timezone.now()))
