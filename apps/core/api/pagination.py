"""Pagination for every list: ?limit=&offset=, answered as {count, next, previous, results}."""

from rest_framework import pagination


class LimitOffsetPagination(pagination.LimitOffsetPagination):
    """Limit/offset pages; a limit above max_limit is cut to it."""

    default_limit = 50
    max_limit = 1000
