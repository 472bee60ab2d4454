"""Filter and ordering bases for every list: query-string values are checked as the database will take them.

Foreign keys are filtered by plain id, never looked up on their own.
django-filter's default would validate ``?cluster=7`` against every cluster,
answering 400 for an id that does not exist but 200 for one the user may not
see, which tells a user that another cluster exists. Filtering by id over the
already restricted queryset answers both the same way: an empty list. An id
too large for any database column is answered the same way, without a query:
no object can have it.

Every other number and every date is checked before it reaches the database:
a value the column cannot hold (a number past its range, a time-zone offset
PostgreSQL refuses, a year that leaves 1..9999 once turned into UTC) is a 400
that names the parameter, never a database error.

Every list is ordered, and its order ends on the primary key, so paging
through it shows each row once.

django-filter's boolean filter ignores a value it cannot read (``?is_active=7``
lists everyone); the schema calls that value invalid, so it is refused.
"""

import datetime
import re

import django_filters
from django import forms
from django.core.exceptions import FieldError
from django.db import models
from django.db.models.constants import LOOKUP_SEP
from django.db.models.functions import Concat
from django.utils.translation import gettext
from django_filters.fields import IsoDateTimeField
from django_filters.filterset import FILTER_FOR_DBFIELD_DEFAULTS
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.filters import OrderingFilter as DRFOrderingFilter

#: PostgreSQL's bigint, the widest integer column (ids are bigint).
BIGINT_MIN, BIGINT_MAX = -(2**63), 2**63 - 1


class WholeNumberField(forms.IntegerField):
    """Digits only, as the schema's ``integer`` says.

    Django's own field also takes ``5.0`` (it strips a zero fraction), which
    the schema calls invalid; so a fraction of any kind is refused here.
    """

    whole = re.compile(r"\s*[+-]?\d+\s*")

    def to_python(self, value):
        """The number, or a 400 naming the parameter for anything but digits."""
        if value not in self.empty_values and not self.whole.fullmatch(str(value)):
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
        return super().to_python(value)


class IdField(WholeNumberField):
    """An object id: a whole number."""

    default_error_messages = {"invalid": "Give a whole number (an object id)."}


class IdFilter(django_filters.NumberFilter):
    """Filter by an object's id; an id outside bigint matches nothing and never reaches the database."""

    field_class = IdField

    def filter(self, qs, value):
        """The restricted queryset narrowed to this id, or nothing for an id no row can have."""
        if value is not None and not BIGINT_MIN <= value <= BIGINT_MAX:
            return qs.none()
        return super().filter(qs, value)


class IntegerField(WholeNumberField):
    """A whole number that fits a bigint column."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", BIGINT_MIN)
        kwargs.setdefault("max_value", BIGINT_MAX)
        super().__init__(*args, **kwargs)


class IntegerFilter(django_filters.NumberFilter):
    """Filter by a whole-number column: a fraction, a word or a number past bigint is a 400."""

    field_class = IntegerField


class UTCDateTimeField(IsoDateTimeField):
    """An ISO 8601 date and time, turned into UTC before the database sees it.

    Python takes offsets up to ±23:59, PostgreSQL only up to ±15:59 ("time zone
    displacement out of range"); in UTC the offset no longer matters. A time
    that leaves years 1..9999 on the way (0001-01-01T00:00+01:00) is a 400.
    """

    default_error_messages = {
        "invalid": "Give a date and time in ISO 8601, e.g. 2026-01-01T00:00:00Z or 2026-01-01T08:00:00+08:00.",
        "range": "Give a date and time between 0001-01-01 and 9999-12-31 in UTC.",
    }

    def to_python(self, value):
        """The parsed time in UTC."""
        value = super().to_python(value)
        if value is None:
            return None
        try:
            return value.astimezone(datetime.UTC)
        except (OverflowError, ValueError):
            raise forms.ValidationError(self.error_messages["range"], code="range") from None


class DateTimeFilter(django_filters.IsoDateTimeFilter):
    """Filter by a date and time column; see UTCDateTimeField."""

    field_class = UTCDateTimeField


def _decimal_bounds(field: models.DecimalField) -> dict:
    """A decimal filter takes no more digits than its column holds."""
    return {"max_digits": field.max_digits, "decimal_places": field.decimal_places}


ID_FILTER = {"filter_class": IdFilter}
INTEGER_FILTER = {"filter_class": IntegerFilter}
DATETIME_FILTER = {"filter_class": DateTimeFilter}


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
    """A FilterSet whose id filters take ids without checking they exist, and whose values fit their columns.

    Filters declared on a subclass use IdFilter, IntegerFilter and
    DateTimeFilter from this module, not django-filter's own.
    """

    FILTER_DEFAULTS = {
        **FILTER_FOR_DBFIELD_DEFAULTS,
        models.AutoField: ID_FILTER,
        models.BigAutoField: ID_FILTER,
        models.ForeignKey: ID_FILTER,
        models.OneToOneField: ID_FILTER,
        models.IntegerField: INTEGER_FILTER,
        models.BigIntegerField: INTEGER_FILTER,
        models.SmallIntegerField: INTEGER_FILTER,
        models.PositiveIntegerField: INTEGER_FILTER,
        models.PositiveBigIntegerField: INTEGER_FILTER,
        models.PositiveSmallIntegerField: INTEGER_FILTER,
        models.DateTimeField: DATETIME_FILTER,
        models.DecimalField: {"filter_class": django_filters.NumberFilter, "extra": _decimal_bounds},
        models.BooleanField: {"filter_class": BooleanFilter},
    }


def refuse_repeats(query, names) -> None:
    """A 400 for each of names given more than once (``?job=1&job=2``): which one was meant cannot be told."""
    repeated = {name: [f"Give {name} once."] for name in names if len(query.getlist(name)) > 1}
    if repeated:
        raise ValidationError(repeated)


class FilterBackend(DjangoFilterBackend):
    """The filter backend for every list: builds filtersets on BaseFilterSet; a single-valued filter given
    twice is a 400 (django-filter would take the last value)."""

    filterset_base = BaseFilterSet

    def get_filterset(self, request, queryset, view):
        """The filterset, once the query string names each single-valued filter at most once."""
        filterset = super().get_filterset(request, queryset, view)
        if filterset is not None:
            many = (django_filters.MultipleChoiceFilter, django_filters.BaseInFilter)
            refuse_repeats(
                request.query_params,
                [name for name, field in filterset.filters.items() if not isinstance(field, many)],
            )
        return filterset


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


class OrderingFilter(DRFOrderingFilter):
    """``?ordering=name,-created_at``: by the fields a list shows, unknown names refused, ties broken by id.

    The names are the serializer's field names as the client reads them
    (``cluster``, not the ``pool__cluster_id`` DRF would want). Fields that
    are computed in Python or hold many values (a pool's templates) cannot
    order a query and are not offered. An unknown or empty name is a 400
    listing the names that work. ``pk`` is added last, so equal values come
    in a stable order and pages neither repeat nor skip rows.
    """

    def orderable_fields(self, queryset, view, request) -> dict[str, str]:
        """Field name → the query path it orders by, for every field this list can be ordered by."""
        serializer = view.get_serializer_class()(context={"request": request})
        allowed = getattr(view, "ordering_fields", None)  # a view may offer fewer (what everyone may see)
        fields = {}
        for name, field in serializer.fields.items():
            if allowed not in (None, "__all__") and name not in allowed:
                continue
            path = _ordering_path(field)
            ordered_by = _orderable(queryset, path) if path else None
            if ordered_by:
                fields[name] = ordered_by
        return fields

    def get_ordering(self, request, queryset, view):
        """The query's ordering from ?ordering=, or the view's default; a 400 for names that are not fields."""
        refuse_repeats(request.query_params, [self.ordering_param])
        param = request.query_params.get(self.ordering_param, "").strip(" ")
        if not param:
            return self.get_default_ordering(view)
        fields = self.orderable_fields(queryset, view, request)
        ordering, unknown = [], []
        for term in (part.strip(" ") for part in param.split(",")):
            name = term.removeprefix("-")
            if name in fields:
                ordering.append(("-" if term.startswith("-") else "") + fields[name])
            else:
                unknown.append(term)
        if unknown or not ordering:
            shown = ", ".join(repr(term[:100]) for term in unknown) or gettext("nothing")
            message = gettext(
                "Cannot order by %(unknown)s: give one or more of %(names)s, "
                "comma-separated, each with - in front for descending order."
            ) % {"unknown": shown, "names": ", ".join(sorted(fields))}
            raise ValidationError({self.ordering_param: [message]})
        return [*ordering, "pk"]

    def get_schema_operation_parameters(self, view):
        """``ordering`` with the pattern the server reads: names the list can be ordered by, comma-separated."""
        parameters = super().get_schema_operation_parameters(view)
        try:
            queryset = view.get_queryset()
        except Exception:  # noqa: BLE001 - a view whose queryset needs a real user: its class queryset will do
            queryset = view.queryset
        names = sorted(self.orderable_fields(queryset, view, getattr(view, "request", None)))
        if names:
            term = f"-?(?:{'|'.join(re.escape(name) for name in names)})"
            for parameter in parameters:
                parameter["schema"]["pattern"] = f"^ *(?:{term} *(?:, *{term} *)*)?$"
                parameter["description"] = f"Order by {', '.join(names)} (comma-separated; - for descending)."
        return parameters

    def filter_queryset(self, request, queryset, view):
        """Order by ?ordering=, else the queryset's own or the model's ordering; the primary key last.

        Rows equal on the ordering fields (hosts made in one batch, jobs in one
        instant) would otherwise come in whatever order the plan of the moment
        yields, so a row could show on two pages or on none. The order is set
        explicitly even without ``?ordering=``: a query that aggregates drops the
        model's ``Meta.ordering``.
        """
        ordering = with_tiebreak(
            self.get_ordering(request, queryset, view) or queryset.query.order_by or queryset.model._meta.ordering
        )
        sorted_for_members = getattr(view, "sorted_for_members", ())
        if sorted_for_members and not getattr(getattr(request, "user", None), "is_superuser", False):
            ordering = [sorted_not_walked(term) if _named(term) in sorted_for_members else term for term in ordering]
        return queryset.order_by(*ordering)


def _named(term) -> str:
    return term.lstrip("-") if isinstance(term, str) else ""


def sorted_not_walked(term: str):
    """The same order by an expression no index holds, so PostgreSQL sorts the rows the user may see.

    A member sees some clusters' hosts; ordered by a column with an index, PostgreSQL walks that index from
    one end and passes over every other cluster's rows until a page of the member's is found: 85,000 hosts
    for a member whose host names sort last among 100,000 (70 ms). Sorting the member's own rows costs what
    they are, whatever the rest of the fleet is. The expression sorts exactly as the column does (same
    value, same collation); system administrators, who see every row, keep the index.
    """
    name = term.lstrip("-")
    expression = Concat(models.F(name), models.Value(""), output_field=models.CharField())
    return expression.desc() if term.startswith("-") else expression.asc()


def _ordering_path(field) -> str | None:
    """The query path a serializer field's values come from, or None if a query cannot order by it."""
    many = (serializers.ListField, serializers.ManyRelatedField, serializers.BaseSerializer)
    if field.write_only or field.source == "*" or isinstance(field, many):
        return None
    path = LOOKUP_SEP.join(field.source_attrs)
    if isinstance(field, serializers.SlugRelatedField):
        path = f"{path}{LOOKUP_SEP}{field.slug_field}"
    return path


def _orderable(queryset, path: str) -> str | None:
    """The path a query orders by, if path is an annotation or a column reached through single-valued relations.

    A foreign key orders by its id column: by the related model's own
    ordering it would join that model (and whatever its ordering joins).
    """
    if path in queryset.query.annotations:
        return path
    try:
        infos, final, _, rest = queryset.query.names_to_path(path.split(LOOKUP_SEP), queryset.model._meta)
    except FieldError:
        return None
    if rest or not final.concrete or any(info.m2m for info in infos):
        return None
    if final.is_relation:
        return LOOKUP_SEP.join([*path.split(LOOKUP_SEP)[:-1], final.attname])
    return path
