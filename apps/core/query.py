"""Query helpers shared by the apps' lists."""

from django.db.models import Count, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce


def count_related(model, field: str, condition: Q | None = None) -> Coalesce:
    """An annotation counting the rows of model whose field points at the outer row (and match condition).

    As NetBox's ``count_related``: a correlated subquery, not ``Count()`` over
    a join. A join makes the list a GROUP BY query, which drops the model's
    ``Meta.ordering`` (pages come in no set order) and must aggregate every
    row before it can sort or count them; a subquery is worked out only for
    the rows of the page, and ``count()`` leaves it out.
    """
    rows = model.objects.filter(**{field: OuterRef("pk")})
    if condition is not None:
        rows = rows.filter(condition)
    counted = rows.order_by().values(field).annotate(n=Count("*")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def page_of(queryset: QuerySet, offset: int, limit: int) -> list:
    """The rows offset..offset+limit of an ordered queryset, found by primary key first.

    PostgreSQL skips an OFFSET by producing every row before it, joins and
    per-row subqueries (a job's progress, a pool's size) included; and where
    the order is not an index's (a member's hosts by name, or by pool when the
    member's first pool holds 10,000 hosts), it sorts every matching row,
    joined, before the first page. Asking for the page's primary keys first
    reads and sorts only what the filter and the order need, usually one
    index; the rows, with their joins and counts, are then fetched for the
    page alone (a member's first page of hosts: 18 ms for the joined sort,
    3 ms for the keys). Where an index gives the order, it costs one more
    statement of about a millisecond.
    """
    ids = list(queryset.values_list("pk", flat=True)[offset : offset + limit])
    rows = {row.pk: row for row in queryset.order_by().filter(pk__in=ids)}
    return [rows[pk] for pk in ids if pk in rows]
