"""Filter base: foreign keys are filtered by plain id, never looked up on their own; booleans are true or false.

django-filter's default would validate ``?cluster=7`` against every cluster,
answering 400 for an id that does not exist but 200 for one the user may not
see, which tells a user that another cluster exists. Filtering by id over the
already restricted queryset answers both the same way: an empty list.

django-filter's boolean filter ignores a value it cannot read (``?is_active=7``
lists everyone); the schema calls that value invalid, so it is refused.
"""

import django_filters
from django import forms
from django.db import models
from django_filters.filterset import FILTER_FOR_DBFIELD_DEFAULTS
from django_filters.rest_framework import DjangoFilterBackend

ID_FILTER = {"filter_class": django_filters.NumberFilter}


class BooleanField(forms.Field):
    """A query value that is true or false (in any case); empty means no filter."""

    def to_python(self, value):
        """True, False, or None when not given; anything else is a clear error."""
        if value in (None, ""):
            return None
        if str(value).lower() not in ("true", "false"):
            raise forms.ValidationError("Give true or false.", code="invalid")
        return str(value).lower() == "true"


class BooleanFilter(django_filters.BooleanFilter):
    """A boolean filter that refuses what is neither true nor false instead of ignoring it."""

    field_class = BooleanField


class BaseFilterSet(django_filters.rest_framework.FilterSet):
    """A FilterSet whose foreign-key filters take ids without checking they exist."""

    FILTER_DEFAULTS = {
        **FILTER_FOR_DBFIELD_DEFAULTS,
        models.ForeignKey: ID_FILTER,
        models.OneToOneField: ID_FILTER,
        models.BooleanField: {"filter_class": BooleanFilter},
    }


class FilterBackend(DjangoFilterBackend):
    """The filter backend for every list: builds filtersets on BaseFilterSet."""

    filterset_base = BaseFilterSet
