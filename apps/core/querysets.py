"""The one place that decides what a user may see and change: restrict()."""

from django.db import models
from django.db.models import Q

from apps.core.choices import Action


class RestrictedQuerySet(models.QuerySet):
    """A queryset that can narrow itself to what a user may do.

    A model says how it reaches its cluster with ``cluster_path`` (``"pk"`` for
    the cluster itself, ``"pool__cluster"`` for a host). Models without a
    cluster (provider accounts, templates, physical machines) are global:
    every signed-in user may view them, only system administrators change them.

    A model that belongs to one pool also says how it reaches it with
    ``pool_path``: the pool's administrators (apps.accounts.models.PoolAdmin)
    may view, scale and operate it, though their cluster role may not allow it.
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
        from apps.accounts.models import Membership, PoolAdmin

        clusters = Membership.objects.filter(user=user, role__in=Action.ROLES[action]).values("cluster_id")
        allowed = Q(**{f"{path}__in": clusters})
        pool_path = getattr(self.model, "pool_path", None)
        if pool_path is not None and action in Action.POOL_ADMIN:
            # Looked up first, so that everyone who administers no pool keeps the query they always had.
            pools = PoolAdmin.pools_of(user)
            if pools:
                allowed |= Q(**{f"{pool_path}__in": pools})
        return self.filter(allowed)
