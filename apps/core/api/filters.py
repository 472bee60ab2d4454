"""Filter and ordering backends of every list.

Foreign keys are filtered by plain id, never looked up on their own:
django-filter's default would validate ``?cluster=7`` against every cluster,
answering 400 for an id that does not exist but 200 for one the user may not
see, which tells a user that another cluster exists. Filtering by id over the
already restricted queryset answers both the same way: an empty list.

Every list is ordered, and its order ends on the primary key, so paging
through it shows each row once.
"""

import django_filters
from django.db import models
from django_filters.filterset import FILTER_FOR_DBFIELD_DEFAULTS
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import filters

ID_FILTER = {"filter_class": django_filters.NumberFilter}


class BaseFilterSet(django_filters.rest_framework.FilterSet):
    """A FilterSet whose foreign-key filters take ids without checking they exist."""

    FILTER_DEFAULTS = {
        **FILTER_FOR_DBFIELD_DEFAULTS,
        models.ForeignKey: ID_FILTER,
        models.OneToOneField: ID_FILTER,
    }


class FilterBackend(DjangoFilterBackend):
    """The filter backend for every list: builds filtersets on BaseFilterSet."""

    filterset_base = BaseFilterSet


class MultipleChoiceFilter(django_filters.MultipleChoiceFilter):
    """``?status=a&status=b`` on a column of the row itself: no DISTINCT.

    django-filter adds DISTINCT by default in case the field spans a to-many
    relation, where a row could match twice. On the row's own column it cannot,
    and DISTINCT only makes PostgreSQL compare every column of every matching
    row before it can return the first page or count them.
    """

    def __init__(self, *args, distinct: bool = False, **kwargs):
        super().__init__(*args, distinct=distinct, **kwargs)


def with_tiebreak(ordering) -> list:
    """The ordering with the primary key added last (same direction as the last term) unless it is there."""
    ordering = list(ordering)
    names = [term.lstrip("-") for term in ordering if isinstance(term, str)]
    if "pk" in names or "id" in names:
        return ordering
    last = ordering[-1] if ordering else ""
    return [*ordering, "-pk" if isinstance(last, str) and last.startswith("-") else "pk"]


class OrderingFilter(filters.OrderingFilter):
    """``?ordering=`` as DRF's, and an explicit ORDER BY on every list, ending on the primary key.

    Rows equal on the ordering fields (hosts made in one batch, jobs in one
    instant) would otherwise come in whatever order the plan of the moment
    yields, so a row could show on two pages or on none. The order is set
    explicitly even without ``?ordering=``: a query that aggregates drops the
    model's ``Meta.ordering``.
    """

    def filter_queryset(self, request, queryset, view):
        """Order by ?ordering=, else the queryset's own or the model's ordering; the primary key last."""
        ordering = (
            self.get_ordering(request, queryset, view) or queryset.query.order_by or queryset.model._meta.ordering
        )
        return queryset.order_by(*with_tiebreak(ordering))
