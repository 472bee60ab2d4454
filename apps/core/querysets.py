"""The one place that decides what a user may see and change: restrict()."""

from django.db import models
from django.db.models import Q, Value

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

    def restrict(
        self,
        user,
        action: str = Action.VIEW,
        administered: list[int] | None = None,
        roles: dict[int, str] | None = None,
    ) -> "RestrictedQuerySet":
        """Return only the objects this user may perform action on.

        ``administered``: the user's PoolAdmin.pools_of(), and ``roles``: the user's role in each cluster
        they are a member of, when the caller has just read them for several checks of one request (see
        visible_with()); read by the statement otherwise.
        """
        if user is None or not user.is_authenticated or not user.is_active:
            return self.none()
        if user.is_superuser:
            return self
        path = getattr(self.model, "cluster_path", None)
        if path is None:
            return self if action == Action.VIEW else self.none()
        from apps.accounts.models import Membership, PoolAdmin

        if roles is None:
            clusters = Membership.objects.filter(user=user, role__in=Action.ROLES[action]).values("cluster_id")
        else:
            clusters = sorted(cluster for cluster, role in roles.items() if role in Action.ROLES[action])
        allowed = Q(**{f"{path}__in": clusters})
        pool_path = getattr(self.model, "pool_path", None)
        if pool_path is not None and action in Action.POOL_ADMIN:
            # Looked up first, so that everyone who administers no pool keeps the query they always had.
            pools = PoolAdmin.pools_of(user) if administered is None else administered
            if pools:
                allowed |= Q(**{f"{pool_path}__in": pools})
        return self.filter(allowed)


def _restrict(queryset, user, action: str, administered: list[int] | None, roles: dict[int, str] | None):
    """queryset.restrict(), handing it the administered pools and the roles where it is restrict() itself."""
    if type(queryset).restrict is RestrictedQuerySet.restrict:
        return queryset.restrict(user, action, administered=administered, roles=roles)
    return queryset.restrict(user, action)


def visible_with(queryset, user, **checks: tuple[type[models.Model], str, str]):
    """The objects of queryset the user may view, each with ``may_<name>`` for each check: several of
    restrict()'s answers about an object and its relatives in the statement that fetches it.

    Each check names a model, an action and the field of the object's model holding that model's key:
    ``visible_with(ServicePool.objects.all(), user, scale=(ServicePool, Action.SCALE, "pk"),
    budgets=(Cluster, Action.CHANGE, "cluster_id"))`` gives the pools the user sees, each saying whether
    restrict() lets the user scale it (``may_scale``) and change its cluster (``may_budgets``). A page that
    asked five such questions one by one sent ten statements or more (each one's membership and
    pool-administrator lookups); this reads the user's administered pools and roles once and asks the rest as
    EXISTS in the query that fetches the object. The rules stay restrict()'s own.
    """
    from apps.accounts.models import Membership, PoolAdmin

    if user is None or not user.is_authenticated or not user.is_active:
        return queryset.none()
    administered = roles = None
    if not user.is_superuser:
        # Read in one statement: the user's role in each of their clusters (each check would otherwise carry
        # its own subquery of them, built and planned again) and the pools they administer (PoolAdmin.pools_of()).
        memberships = Membership.objects.filter(user=user).values_list("cluster_id", "role")
        appointments = PoolAdmin.of(user).values_list("pool_id", Value(""))
        administered, roles = [], {}
        for key, role in memberships.union(appointments, all=True):
            if role:
                roles[key] = role
            else:
                administered.append(key)
    flags = {
        f"may_{name}": models.Exists(
            _restrict(model.objects.all(), user, action, administered, roles).filter(pk=models.OuterRef(field))
        )
        for name, (model, action, field) in checks.items()
    }
    return _restrict(queryset, user, Action.VIEW, administered, roles).annotate(**flags)
