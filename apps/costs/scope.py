"""Which hosts a cost is summed over, as conditions on the host (h) and its pool (sp).

Kept as plain conditions rather than a host queryset: ``h.id IN (SELECT ...)``
over 100,000 hosts made PostgreSQL look each host up twice; a condition on the
pool's cluster against the (small) set of clusters the user may see does not.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Q, QuerySet

from apps.core.choices import Action
from apps.inventory.models import Cluster


@dataclass(frozen=True)
class Scope:
    """Hosts of the clusters the user may see (None: every cluster), narrowed by ids of pools, clusters, ..."""

    clusters: QuerySet | None = None
    narrow: dict[str, list[int]] = field(default_factory=dict)

    #: The column of each narrowing.
    COLUMNS = {"pool": "h.pool_id", "cluster": "sp.cluster_id", "provider": "h.provider_id", "host": "h.id"}
    ORM = {"pool": "pool_id", "cluster": "pool__cluster_id", "provider": "provider_id", "host": "pk"}

    @classmethod
    def for_user(cls, user, **narrow: list[int]) -> Scope:
        """The hosts user may view (restrict() on clusters), narrowed."""
        clusters = None if user.is_superuser else Cluster.objects.restrict(user, Action.VIEW).values("pk")
        return cls(clusters, narrow)

    def sql(self) -> tuple[str, list]:
        """`` AND ...`` conditions on h and sp, with their parameters."""
        parts, params = [], []
        if self.clusters is not None:
            subquery, sub_params = self.clusters.order_by().query.sql_with_params()
            parts.append(f"sp.cluster_id IN ({subquery})")
            params += sub_params
        for name, ids in self.narrow.items():
            parts.append(f"{self.COLUMNS[name]} IN ({', '.join(['%s'] * len(ids)) or 'NULL'})")
            params += list(ids)
        return "".join(f" AND {part}" for part in parts), params

    def q(self) -> Q:
        """The same as a filter on Host."""
        found = Q()
        if self.clusters is not None:
            found &= Q(pool__cluster_id__in=self.clusters)
        for name, ids in self.narrow.items():
            found &= Q(**{f"{self.ORM[name]}__in": list(ids)})
        return found
