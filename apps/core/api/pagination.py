"""Pagination for every list: ?limit=&offset=, answered as {count, next, previous, results}."""

from django.db.models import QuerySet
from rest_framework import pagination

from apps.core.query import page_of


class LimitOffsetPagination(pagination.LimitOffsetPagination):
    """Limit/offset pages; a limit above max_limit is cut to it."""

    default_limit = 50
    max_limit = 1000

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
