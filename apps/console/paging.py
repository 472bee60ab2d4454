"""Paging of the console's tables: a page of rows, with links that keep the page's other parameters."""

from django.core import paginator

from apps.core.query import page_of


class Paginator(paginator.Paginator):
    """Django's paginator, fetching a page's rows by primary key first (as the API's lists do).

    ``count``, when the caller already knows it, saves counting the rows again.
    """

    def __init__(self, object_list, per_page: int, count: int | None = None):
        super().__init__(object_list, per_page)
        if count is not None:
            self.count = count  # takes the place of the cached property Django would work out

    def page(self, number):
        """The page of that number; its rows come from page_of() (a deep page costs no per-row work)."""
        number = self.validate_number(number)
        rows = page_of(self.object_list, (number - 1) * self.per_page, self.per_page) if self.count else []
        return self._get_page(rows, number, self)


def paged(request, queryset, per_page: int, param: str = "page", count: int | None = None) -> paginator.Page:
    """The page of an ordered queryset asked for by ?<param>= (a bad number gives the first or last page).

    The page carries ``previous_url`` and ``next_url`` (empty at the ends):
    the current query string with only ``param`` changed, so paging hosts keeps
    the status filter and the page of jobs. ``count`` is the number of rows,
    when the caller knows it already.
    """
    page = Paginator(queryset, per_page, count).get_page(request.GET.get(param))

    def link(number: int) -> str:
        query = request.GET.copy()
        query[param] = number
        return f"?{query.urlencode()}"

    page.previous_url = link(page.previous_page_number()) if page.has_previous() else ""
    page.next_url = link(page.next_page_number()) if page.has_next() else ""
    return page
