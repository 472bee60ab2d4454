"""The one place that decides what a user may see and change: restrict()."""

from django.db import models

from apps.core.choices import Action


class RestrictedQuerySet(models.QuerySet):
    """A queryset that can narrow itself to what a user may do.

    A model says how it reaches its cluster with ``cluster_path`` (``"pk"`` for
    the cluster itself, ``"pool__cluster"`` for a host). Models without a
    cluster (provider accounts, templates, physical machines) are global:
    every signed-in user may view them, only system administrators change them.
    """

    def restrict(self, user, action: str = Action.VIEW) -> "RestrictedQuerySet":
        """Return only the objects this user may perform action on."""
        if user is None or not user.is_authenticated or not user.is_active:
            return self.none()
        if user.is_superuser:
            return self
        path = getattr(self.model, "cluster_path", None)
        if path is None:
            return self if action == Action.VIEW else self.none()
        from apps.accounts.models import Membership

        clusters = Membership.objects.filter(user=user, role__in=Action.ROLES[action]).values("cluster_id")
        return self.filter(**{f"{path}__in": clusters})
