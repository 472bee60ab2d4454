"""REST API of cost reports: schedules (``/api/v1/cost-report-schedules/``) and what they made
(``/api/v1/cost-reports/``, one report downloadable as CSV or XLSX with ``?format=``)."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response

from apps.core.api.views import ModelViewSet, ReadOnlyModelViewSet
from apps.costs.reports import files
from apps.costs.reports.choices import ReportFormat
from apps.costs.reports.filtersets import CostReportFilterSet, CostReportScheduleFilterSet
from apps.costs.reports.models import CostReport, CostReportSchedule
from apps.costs.reports.serializers import CostReportScheduleSerializer, CostReportSerializer


class CostReportScheduleViewSet(ModelViewSet):
    """Schedules: a cluster's admins manage its schedules and its members read them; a schedule without a
    cluster is its owner's alone."""

    queryset = CostReportSchedule.objects.select_related("owner", "cluster")
    serializer_class = CostReportScheduleSerializer
    filterset_class = CostReportScheduleFilterSet


class FileRenderer(BaseRenderer):
    """A report file made by apps.costs.reports.files, passed through as it is."""

    charset = None
    render_style = "binary"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        """The file's bytes."""
        return data


class CSVRenderer(FileRenderer):
    """?format=csv."""

    media_type = files.CONTENT_TYPES[ReportFormat.CSV]
    format = ReportFormat.CSV


class XLSXRenderer(FileRenderer):
    """?format=xlsx."""

    media_type = files.CONTENT_TYPES[ReportFormat.XLSX]
    format = ReportFormat.XLSX


class CostReportViewSet(ReadOnlyModelViewSet):
    """Reports made by the schedules the user may see."""

    queryset = CostReport.objects.select_related("schedule")
    serializer_class = CostReportSerializer
    filterset_class = CostReportFilterSet

    def get_renderers(self):
        """JSON; one report also as CSV or XLSX."""
        if getattr(self, "action", None) == "retrieve":
            return [JSONRenderer(), CSVRenderer(), XLSXRenderer()]
        return [JSONRenderer()]

    @extend_schema(
        responses={
            (200, "application/json"): CostReportSerializer,
            (200, files.CONTENT_TYPES[ReportFormat.CSV]): OpenApiResponse(
                OpenApiTypes.STR, description="?format=csv: a line per row, then the total."
            ),
            (200, files.CONTENT_TYPES[ReportFormat.XLSX]): OpenApiResponse(
                OpenApiTypes.BINARY, description="?format=xlsx: the same lines as a workbook."
            ),
        }
    )
    def retrieve(self, request, *args, **kwargs):
        """The report (JSON), or its file with ?format=csv or ?format=xlsx."""
        kind = getattr(request.accepted_renderer, "format", "json")
        if kind not in files.RENDER:
            return super().retrieve(request, *args, **kwargs)
        report = self.get_object()
        name = files.filename(report, kind)
        return Response(
            files.render(report, kind),
            content_type=files.CONTENT_TYPES[kind],
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
