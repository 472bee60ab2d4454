"""REST API of the audit log (read-only)."""

import django_filters
from rest_framework import serializers

from apps.core.api.fields import ObjectField
from apps.core.api.filters import BaseFilterSet, DateTimeFilter
from apps.core.api.serializers import QuickRepresentationMixin
from apps.core.api.views import ReadOnlyModelViewSet
from apps.core.models import AuditAction, AuditEntry


class AuditEntrySerializer(QuickRepresentationMixin, serializers.ModelSerializer):
    """One audit entry."""

    object_type = serializers.SerializerMethodField()
    before = ObjectField(read_only=True, allow_null=True, help_text="The object's fields before; null for a create.")
    after = ObjectField(read_only=True, allow_null=True, help_text="The object's fields after; null for a delete.")

    class Meta:
        model = AuditEntry
        fields = (
            "id",
            "time",
            "user",
            "username",
            "action",
            "object_type",
            "object_id",
            "object_repr",
            "cluster",
            "before",
            "after",
            "request_id",
            "via",
        )
        read_only_fields = fields

    def get_object_type(self, entry) -> str:
        """app_label.model of the changed object."""
        return f"{entry.object_type.app_label}.{entry.object_type.model}"


class AuditEntryFilterSet(BaseFilterSet):
    """?user=&cluster=&action=&object_type=app.model&object_id=."""

    action = django_filters.ChoiceFilter(choices=AuditAction.CHOICES)
    object_type = django_filters.CharFilter(method="filter_object_type")
    since = DateTimeFilter(field_name="time", lookup_expr="gte")

    class Meta:
        model = AuditEntry
        fields = ("user", "cluster", "action", "object_id")

    def filter_object_type(self, queryset, name, value):
        """Filter by app_label.model."""
        app_label, _, model = value.partition(".")
        return queryset.filter(object_type__app_label=app_label, object_type__model=model)


class AuditEntryViewSet(ReadOnlyModelViewSet):
    """The audit log: system administrators see all of it, members the entries of their clusters."""

    queryset = AuditEntry.objects.select_related("object_type")
    serializer_class = AuditEntrySerializer
    filterset_class = AuditEntryFilterSet
