"""Viewset base classes: restriction by role, audit of every change, thin subclasses."""

from django.db import transaction
from django.urls import reverse
from rest_framework import mixins, permissions, viewsets
from rest_framework.exceptions import PermissionDenied

from apps.core import audit
from apps.core.choices import Action
from apps.core.models import AuditAction


class RestrictedPermission(permissions.IsAuthenticated):
    """Signed in; global objects (no cluster) are changed by system administrators only."""

    message = "Only system administrators may change this."

    def has_permission(self, request, view):
        """Refuse writes to global objects early, before any validation."""
        if not super().has_permission(request, view):
            return False
        if request.method in permissions.SAFE_METHODS or request.user.is_superuser:
            return True
        model = view.get_queryset().model
        return getattr(model, "cluster_path", None) is not None


class RestrictedViewSetMixin:
    """Shows only what restrict(user, 'view') allows; checks the write action on every change."""

    permission_classes = [RestrictedPermission]
    write_action = Action.CHANGE

    def get_queryset(self):
        """The viewset's queryset narrowed to what the user may view, in the model's order.

        Django leaves ``Meta.ordering`` out of a query that groups rows (a list
        annotated with counts, such as jobs with their progress), which would
        page them in whatever order the database picks: the model's ordering
        and then the primary key are put back explicitly.
        """
        queryset = super().get_queryset().restrict(self.request.user, Action.VIEW)
        if not queryset.ordered:
            queryset = queryset.order_by(*queryset.model._meta.ordering, "pk")
        return queryset

    def check_write(self, instance, action: str | None = None) -> None:
        """403 unless the user's role allows action on instance."""
        allowed = type(instance).objects.restrict(self.request.user, action or self.write_action)
        if not allowed.filter(pk=instance.pk).exists():
            raise PermissionDenied("Your role on this cluster does not allow this.")

    def check_object_permissions(self, request, obj):
        """Writes need the write action, reads only visibility (already ensured by get_queryset)."""
        super().check_object_permissions(request, obj)
        if request.method not in permissions.SAFE_METHODS:
            self.check_write(obj, getattr(self, "object_action", None))

    def get_success_headers(self, data):
        """Location: the created object's URL (DRF's default copies a field named "url", e.g. a registry's)."""
        key = self.lookup_url_kwarg or self.lookup_field
        value = data.get("id") if key == "pk" else data.get(key)
        if value is None:
            return {}
        return {"Location": reverse(f"{self.basename}-detail", kwargs={**self.kwargs, key: value})}

    def perform_create(self, serializer):
        """Create, check the role on the new object's cluster (rolled back if refused), audit."""
        with transaction.atomic():
            instance = serializer.save()
            self.check_write(instance)
            audit.record(self.request.user, AuditAction.CREATE, instance, None, audit.snapshot(instance))

    def perform_update(self, serializer):
        """Update, re-check the role after the change, audit with before and after."""
        with transaction.atomic():
            before = audit.snapshot(serializer.instance)
            instance = serializer.save()
            self.check_write(instance)
            audit.record(self.request.user, AuditAction.UPDATE, instance, before, audit.snapshot(instance))

    def perform_destroy(self, instance):
        """Delete and audit."""
        with transaction.atomic():
            before = audit.snapshot(instance)
            object_id = instance.pk
            audit.record(self.request.user, AuditAction.DELETE, instance, before, None, object_id=object_id)
            instance.delete()


class ModelViewSet(RestrictedViewSetMixin, viewsets.ModelViewSet):
    """Full CRUD, restricted and audited."""

    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options"]


class ReadOnlyModelViewSet(RestrictedViewSetMixin, viewsets.ReadOnlyModelViewSet):
    """List and retrieve, restricted."""


class CreateReadDeleteViewSet(
    RestrictedViewSetMixin, mixins.CreateModelMixin, mixins.DestroyModelMixin, viewsets.ReadOnlyModelViewSet
):
    """Create, list, retrieve, delete; restricted and audited."""
