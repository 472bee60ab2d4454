"""Pagination for every list: ?limit=&offset=, answered as {count, next, previous, results}.

A limit or offset that is not a whole number in range is a 400 naming it:
DRF's own class would quietly fall back to its defaults, and a script asking
for ``limit=5000`` or ``offset=-1`` would read a page it did not ask for.
"""

from django.db.models import QuerySet
from rest_framework import pagination
from rest_framework.exceptions import ValidationError

from apps.core.api.filters import BIGINT_MAX, refuse_repeats
from apps.core.query import page_of


class LimitOffsetPagination(pagination.LimitOffsetPagination):
    """Limit/offset pages; limit from 1 to max_limit, offset from 0."""

    default_limit = 50
    max_limit = 1000

    def _whole_number(self, request, name: str, default: int, lowest: int, highest: int) -> int:
        """The parameter as an int in lowest..highest, default when absent or empty, else a 400 naming it."""
        refuse_repeats(request.query_params, [name])
        text = request.query_params.get(name, "")
        if not text:
            return default
        if text.isascii() and text.isdigit() and len(text) <= len(str(highest)) and lowest <= int(text) <= highest:
            return int(text)
        raise ValidationError({name: [f"Give {name} as a whole number from {lowest} to {highest}."]})

    def get_limit(self, request):
        """Rows per page: 1..max_limit, default_limit when not given."""
        return self._whole_number(request, self.limit_query_param, self.default_limit, 1, self.max_limit)

    def get_offset(self, request):
        """Rows to skip: 0 or more."""
        return self._whole_number(request, self.offset_query_param, 0, 0, BIGINT_MAX)

    def get_schema_operation_parameters(self, view):
        """DRF's parameters, with the ranges this class accepts; empty means the default."""
        ranges = {self.limit_query_param: (1, self.max_limit), self.offset_query_param: (0, BIGINT_MAX)}
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            lowest, highest = ranges[parameter["name"]]
            parameter["schema"].update(minimum=lowest, maximum=highest)
            parameter["allowEmptyValue"] = True  # ?offset= is the default, as an empty filter is no filter
        return parameters

    def paginate_queryset(self, queryset, request, view=None):
        """DRF's limit/offset paging, with the page's rows fetched by page_of()."""
        self.request = request
        self.limit = self.get_limit(request)
        if self.limit is None:
            return None
        self.count = self.get_count(queryset)
        self.offset = self.get_offset(request)
        if self.count > self.limit and self.template is not None:
            self.display_page_controls = True
        if self.count == 0 or self.offset > self.count:
            return []
        if not isinstance(queryset, QuerySet):
            return list(queryset[self.offset : self.offset + self.limit])
        return page_of(queryset, self.offset, self.limit)
