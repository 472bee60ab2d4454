"""REST API of orphan instances: what the periodic sweep found on the provider accounts (read-only).

Provider accounts are global objects that system administrators manage, and
an orphan can be any cluster's leftover: only system administrators see them.
"""

from rest_framework import permissions, serializers

from apps.core.api.fields import StringMapField
from apps.core.api.filters import BaseFilterSet, MultipleChoiceFilter
from apps.core.api.serializers import QuickRepresentationMixin
from apps.core.api.views import ReadOnlyModelViewSet
from apps.provisioning.choices import OrphanState
from apps.provisioning.models import OrphanInstance


class SystemAdminPermission(permissions.IsAuthenticated):
    """Signed in as a system administrator: anyone else signed in gets 403, anonymous 401."""

    message = "Only system administrators may see orphan instances."

    def has_permission(self, request, view):
        """Authenticated and a system administrator, for every method."""
        return super().has_permission(request, view) and request.user.is_superuser


class OrphanInstanceSerializer(QuickRepresentationMixin, serializers.ModelSerializer):
    """One orphan instance, with its account's name and, for a lost terminate, its host's name."""

    provider_name = serializers.CharField(source="provider.name", read_only=True)
    hostname = serializers.CharField(source="host.hostname", default=None, read_only=True, allow_null=True)
    tags = StringMapField(read_only=True, help_text="The instance's tags at the provider.")

    class Meta:
        model = OrphanInstance
        fields = (
            "id",
            "provider",
            "provider_name",
            "instance_id",
            "name",
            "state",
            "reason",
            "host",
            "hostname",
            "tags",
            "first_seen",
            "last_seen",
            "terminated_at",
            "created_at",
            "updated_at",
        )
        read_only_fields = fields


class OrphanInstanceFilterSet(BaseFilterSet):
    """?provider=&state=&instance_id=."""

    state = MultipleChoiceFilter(choices=OrphanState.CHOICES)

    class Meta:
        model = OrphanInstance
        fields = ("provider", "state", "instance_id")


class OrphanInstanceViewSet(ReadOnlyModelViewSet):
    """Orphan instances found by the sweep: system administrators only."""

    queryset = OrphanInstance.objects.select_related("provider", "host")
    serializer_class = OrphanInstanceSerializer
    filterset_class = OrphanInstanceFilterSet
    permission_classes = [SystemAdminPermission]
