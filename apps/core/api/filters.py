"""Filter base: foreign keys are filtered by plain id, never looked up on their own.

django-filter's default would validate ``?cluster=7`` against every cluster,
answering 400 for an id that does not exist but 200 for one the user may not
see, which tells a user that another cluster exists. Filtering by id over the
already restricted queryset answers both the same way: an empty list.
"""

import django_filters
from django.db import models
from django_filters.filterset import FILTER_FOR_DBFIELD_DEFAULTS
from django_filters.rest_framework import DjangoFilterBackend

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
