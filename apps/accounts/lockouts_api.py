"""REST API of sign-in lock-outs: system administrators see who is locked out and clear it.

A row counts the sign-in attempts of one client address or one username;
``locked`` says whether it refuses sign-ins now. Deleting a row lifts its
lock-out and forgets its count (audited). Anyone else sees none of them:
they tell who is being attacked, and from where.
"""

import django_filters
from django.utils import timezone
from rest_framework import mixins, serializers, viewsets

from apps.accounts import security
from apps.accounts.models import Lockout, LockoutScope
from apps.core.api.filters import BaseFilterSet, BooleanFilter
from apps.core.api.views import RestrictedViewSetMixin


class LockoutSerializer(serializers.ModelSerializer):
    """One count of sign-in attempts, and its lock-out if any."""

    locked = serializers.SerializerMethodField()

    class Meta:
        model = Lockout
        fields = ("id", "scope", "key", "attempts", "window_start", "locked", "locked_until", "last_address")
        read_only_fields = fields

    def get_locked(self, lockout) -> bool:
        """Whether sign-ins for this address or username are refused now."""
        return lockout.locked(timezone.now())


class LockoutFilterSet(BaseFilterSet):
    """?scope=address|username&key=&locked=true."""

    scope = django_filters.ChoiceFilter(choices=LockoutScope.CHOICES)
    locked = BooleanFilter(method="filter_locked")

    class Meta:
        model = Lockout
        fields = ("scope", "key", "locked")

    def filter_locked(self, queryset, name, value):
        """Locked now (true) or only counting (false)."""
        now_locked = {"locked_until__gt": timezone.now()}
        return queryset.filter(**now_locked) if value else queryset.exclude(**now_locked)


class LockoutViewSet(RestrictedViewSetMixin, mixins.DestroyModelMixin, viewsets.ReadOnlyModelViewSet):
    """Sign-in lock-outs: system administrators list them and delete one to lift it."""

    queryset = Lockout.objects.all()
    serializer_class = LockoutSerializer
    filterset_class = LockoutFilterSet

    def perform_destroy(self, instance):
        """Lift the lock-out, audited."""
        security.clear(self.request.user, instance)
