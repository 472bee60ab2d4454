"""REST API of the costs app: the price catalog, exchange rates, and cost queries."""

from django.db import transaction
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import permissions, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from apps.core import audit
from apps.core.api.parsers import CSVParser, JSONParser
from apps.core.api.views import ModelViewSet
from apps.core.exceptions import ServiceError
from apps.core.models import AuditAction
from apps.costs import catalog
from apps.costs.choices import PriceSource
from apps.costs.filtersets import ExchangeRateFilterSet, PriceFilterSet
from apps.costs.models import ExchangeRate, Price
from apps.costs.params import CostQuerySerializer
from apps.costs.queries import answer
from apps.costs.render import CostCSVRenderer, csv_lines
from apps.costs.serializers import ExchangeRateSerializer, PriceSerializer
from apps.inventory.machines import rows_from_request


class PriceViewSet(ModelViewSet):
    """The price catalog: every signed-in user reads it, system administrators write it."""

    queryset = Price.objects.select_related("provider")
    serializer_class = PriceSerializer
    filterset_class = PriceFilterSet

    @extend_schema(
        request=PriceSerializer(many=True),
        responses={201: PriceSerializer(many=True)},
        description="Add many prices at once (JSON list or CSV with a header row); all or nothing, errors by row.",
    )
    @action(
        detail=False, methods=["post"], url_path="import", parser_classes=[JSONParser, CSVParser], filter_backends=[]
    )
    def bulk_import(self, request):
        """Import prices; each is checked, then all are added in order of valid_from, or none."""
        rows = rows_from_request(request, "prices")
        context = self.get_serializer_context()
        checked = [PriceSerializer(data={"source": PriceSource.IMPORT, **row}, context=context) for row in rows]
        errors = {str(i + 1): s.errors for i, s in enumerate(checked) if not s.is_valid()}
        if errors:
            raise ValidationError({"rows": errors})
        order = sorted(range(len(checked)), key=lambda i: checked[i].validated_data["valid_from"])
        created = [None] * len(checked)
        with transaction.atomic():
            for i in order:
                try:
                    with transaction.atomic():
                        created[i] = catalog.add_price(checked[i].validated_data, request.user)
                except ServiceError as exc:
                    errors[str(i + 1)] = exc.as_data()
            if errors:
                transaction.set_rollback(True)
            else:
                for price in created:
                    audit.record(request.user, AuditAction.CREATE, price, None, audit.snapshot(price))
        if errors:
            raise ValidationError({"rows": dict(sorted(errors.items(), key=lambda item: int(item[0])))})
        # Read back: a row the import closed with a later row of its own has its valid_to only in the database.
        stored = Price.objects.select_related("provider").in_bulk([price.pk for price in created])
        created = [stored[price.pk] for price in created]
        return Response(PriceSerializer(created, many=True, context=context).data, status=status.HTTP_201_CREATED)


class ExchangeRateViewSet(ModelViewSet):
    """Exchange rates: every signed-in user reads them, system administrators write them."""

    queryset = ExchangeRate.objects.all()
    serializer_class = ExchangeRateSerializer
    filterset_class = ExchangeRateFilterSet


COST_ROW = inline_serializer(
    "CostRow",
    {
        "key": serializers.CharField(),
        "ids": serializers.DictField(),
        "cost": serializers.DecimalField(max_digits=20, decimal_places=4),
        "host_hours": serializers.DecimalField(max_digits=20, decimal_places=4),
        "unpriced_host_hours": serializers.DecimalField(max_digits=20, decimal_places=4),
    },
)
COST_ANSWER = inline_serializer(
    "CostAnswer",
    {
        "currency": serializers.CharField(),
        "start": serializers.DateTimeField(),
        "end": serializers.DateTimeField(),
        "total": serializers.DecimalField(max_digits=20, decimal_places=4),
        "host_hours": serializers.DecimalField(max_digits=20, decimal_places=4),
        "unpriced_host_hours": serializers.DecimalField(max_digits=20, decimal_places=4),
        "rows": COST_ROW.__class__(many=True),
        "idle": COST_ROW.__class__(many=True, required=False, help_text="System administrators only."),
        "idle_total": serializers.DecimalField(max_digits=20, decimal_places=4, required=False),
        "series": serializers.ListField(child=serializers.DictField(), required=False),
        "missing_rates": serializers.ListField(child=serializers.DictField()),
        "unconverted": serializers.ListField(child=serializers.DictField(), required=False),
        "note": serializers.CharField(required=False),
    },
)


class CostViewSet(viewsets.ViewSet):
    """Cost of the hosts the user may see, grouped and in a series: ``GET /api/v1/costs/``."""

    permission_classes = [permissions.IsAuthenticated]
    renderer_classes = [JSONRenderer, CostCSVRenderer]
    single_answer = True  # list() answers one cost answer, not a list of them
    query_empty_is_omitted = True  # ?step= is no step, as DRF reads an empty optional query value

    @extend_schema(
        parameters=[CostQuerySerializer],
        responses={
            (200, "application/json"): COST_ANSWER,
            (200, "text/csv"): OpenApiResponse(
                {"type": "string"}, description="With ?format=csv: a header line, then one line per row and step."
            ),
        },
    )
    def list(self, request):
        """The cost answer (JSON, or CSV with ?format=csv)."""
        params = CostQuerySerializer(data=request.query_params)
        params.is_valid(raise_exception=True)
        result = answer(request.user, params.query(), timezone.now())
        if getattr(request.accepted_renderer, "format", "") == "csv":
            name = f"costs-{result['start'][:10]}-{result['end'][:10]}.csv"
            return Response(
                csv_lines(result, params.validated_data["group_by"]),
                headers={"Content-Disposition": f'attachment; filename="{name}"'},
            )
        return Response(result)
