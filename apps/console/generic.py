"""The console's generic pages: a list is a declaration (API viewset, table, filters, search), as in NetBox.

A list page asks the API's own viewset for its queryset, permission check,
filter set and ordering, so a user sees on a page exactly what the API would
list for them, filtered and ordered by the same query-string parameters
(``?status=ready&ordering=-created_at`` means the same in both places).
"""

import csv
from dataclasses import dataclass

from django import forms
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.core.paginator import Page
from django.db.models import Q
from django.forms.utils import flatatt
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View
from django.views.decorators.http import require_POST
from rest_framework import exceptions as drf_exceptions
from rest_framework.parsers import BaseParser
from rest_framework.request import Request

from apps.console.labels import FILTER_LABELS, label
from apps.console.models import forget, preference, remember
from apps.console.paging import paged
from apps.console.tables import TABLES, Column, Table, escaped, html_of
from apps.core.api.filters import FilterBackend, OrderingFilter


def back_to(request) -> str:
    """The ``next`` address of a POST when it is on this site, else the home page."""
    back = request.POST.get("next", "")
    return back if url_has_allowed_host_and_scheme(back, {request.get_host()}, request.is_secure()) else "/"


class NoBody(BaseParser):
    """A console button's form (its CSRF token and nothing else) read as the empty body an API action takes."""

    media_type = "*/*"

    def parse(self, stream, media_type=None, parser_context=None) -> dict:
        """Nothing, whatever was sent."""
        return {}


def api_view(viewset_class, request, action: str = "list", *, body: bool = True, **kwargs):
    """The API viewset as it would serve this user, after the API's own permission check (403 if refused).

    ``body=False`` for an action that takes no body: the button's form is not passed on as one.
    """
    drf_request = Request(request, authenticators=[], parsers=None if body else [NoBody()])
    drf_request.user = request.user
    view = viewset_class(request=drf_request, args=(), kwargs=kwargs, action=action, format_kwarg=None)
    try:
        view.check_permissions(drf_request)
    except (drf_exceptions.PermissionDenied, drf_exceptions.NotAuthenticated) as exc:
        raise PermissionDenied(str(exc.detail)) from None
    return view


CHECKED = mark_safe(" checked")


@dataclass
class Header:
    """A column heading: its label and, for a sortable column, the link that sorts by it and the current direction."""

    column: Column
    url: str = ""
    direction: str = ""


@dataclass
class Shown:
    """A table ready to draw: the page of rows as cells, the headings, the page's links."""

    table: Table
    columns: list[Column]
    headers: list[Header]
    page: Page
    rows: list[list[str]]
    ident: str
    pick: str = ""
    live: int = 0

    def _head(self, push: str) -> str:
        cells = []
        for h in self.headers:
            if h.url:
                arrow = {"asc": " ▲", "desc": " ▼"}.get(h.direction, "")
                cell = html_of(
                    '<a href="{}" hx-get="{}" hx-select="#{}" hx-push-url="{}">{}</a>{}',
                    h.url, h.url, self.ident, push, h.column.label, arrow,
                )  # fmt: skip
            else:
                cell = escaped(h.column.label)
            cells.append(f'<th data-column="{escaped(h.column.key)}">{cell}</th>')
        return mark_safe("".join(cells))  # noqa: S308 - every part escaped here

    def head(self) -> str:
        """The headings (a sortable one links to its order, the page's address following it), drawn here as the
        rows are: the template's loop cost a page of six tables about 2 ms."""
        return self._head("true")

    def related_head(self) -> str:
        """The headings of a table among others on an object's page: sorting it leaves the address alone."""
        return self._head("false")

    def column_choices(self) -> str:
        """The column chooser's checkboxes, every column of the table, those shown ticked."""
        shown = {column.key for column in self.columns}
        return mark_safe(  # noqa: S308 - every part escaped here
            "".join(
                html_of(
                    '<label><input type="checkbox" name="columns" value="{}"{}> {}</label>',
                    column.key,
                    CHECKED if column.key in shown else "",
                    column.label,
                )  # fmt: skip
                for column in self.table.columns
            )
        )

    def body(self) -> str:
        """The rows as HTML, joined here: a template loop costs about 15 µs a cell, 10 ms for a page of hosts."""
        return mark_safe(  # noqa: S308 - every cell is escaped here
            "".join("<tr>" + "".join(f"<td>{escaped(cell)}</td>" for cell in row) + "</tr>\n" for row in self.rows)
        )


def pick_cell(obj, form: str) -> str:
    """A row's checkbox, belonging to the bulk-action form of that id (the form may be elsewhere on the page)."""
    return format_html(
        '<input type="checkbox" name="hosts" value="{}" form="{}" aria-label="{}">',
        obj.pk,
        form,
        _("Pick %(name)s") % {"name": obj},
    )


def shown(
    request,
    table: Table,
    queryset,
    per_page: int,
    param: str = "page",
    orderable=(),
    count=None,
    pick: str = "",
    prepare=None,
    live: int = 0,
    extra=(),
) -> Shown:
    """A page of queryset drawn with the user's columns; sortable headings for the names in orderable.

    ``pick`` (a form's id) adds a checkbox per row for that form's bulk actions; ``prepare`` is called
    with the page's objects before they are drawn (to attach figures computed for the whole page at
    once); ``live`` redraws the table every so many seconds; ``extra`` columns (such as an Edit link) follow
    the user's own.
    """
    columns = [*table.chosen(preference(request.user, f"table:{table.name}")), *extra]
    page = paged(request, queryset, per_page, param=param, count=count)
    if prepare is not None:
        prepare(page.object_list)
    current = request.GET.get("ordering", "")
    headers = []
    for column in columns:
        header = Header(column)
        if column.order and column.order in orderable:
            header.direction = {column.order: "asc", f"-{column.order}": "desc"}.get(current, "")
            query = request.GET.copy()
            query.pop(param, None)
            query["ordering"] = f"-{column.order}" if header.direction == "asc" else column.order
            header.url = f"?{query.urlencode()}"
        headers.append(header)
    rows = [[column.html(obj) for column in columns] for obj in page]
    if pick:
        rows = [[pick_cell(obj, pick), *row] for obj, row in zip(page, rows, strict=True)]
    return Shown(table, columns, headers, page, rows, ident=f"table-{table.name}", pick=pick, live=live)


def choice_options(queryset) -> list[tuple]:
    """(pk, label) of each object: the label read in SQL where the queryset annotates ``choice_label``."""
    if "choice_label" in queryset.query.annotations:
        return list(queryset.values_list("pk", "choice_label"))
    return [(obj.pk, str(obj)) for obj in queryset]


SELECTED = mark_safe(" selected")


class QuickSelect(forms.Select):
    """A drop-down drawn in Python. Django's widget templates draw each option through its own include, about
    0.1 ms an option: a filter of 500 pools cost a list page 50 ms. Same markup, same escaping."""

    def render(self, name, value, attrs=None, renderer=None):
        """<select> with its options, the current value(s) selected."""
        chosen = {str(item) for item in self.format_value(value)}
        # html_of's steps, written out: a drop-down of 500 pools draws 500 options.
        options = "".join(
            f'<option value="{escaped(key)}"{SELECTED if str(key) in chosen else ""}>{escaped(text)}</option>'
            for key, text in self.choices
        )
        final = self.build_attrs(self.attrs, attrs)
        return html_of('<select name="{}"{}>{}</select>', name, flatatt(final), mark_safe(options))  # noqa: S308


class OneOf(QuickSelect):
    """A drop-down for a filter that takes several values: one is chosen here, as a list of one."""

    def value_from_datadict(self, data, files, name):
        """The values given (a list, as the filter of several values expects); none for "any"."""
        return [value for value in data.getlist(name) if value]


class ListPage(LoginRequiredMixin, View):
    """A list of one kind of object: the API's rows for this user, filtered, searched, sorted, paged, exported.

    Subclasses declare ``viewset`` (the API's), ``table``, ``title``, the
    ``filters`` of the viewset's filter set to offer, ``choices`` (filter name
    → the queryset whose restricted rows fill its drop-down), ``search`` (fields
    ``?q=`` looks in) and ``section`` (the navigation entry to highlight);
    ``add``, ``edit`` and ``bulk_import`` name the console's add, edit and
    import pages, offered to those whose role allows them (``editable(user)``).
    """

    viewset = None
    table: Table
    title = ""
    section = ""
    filters: tuple[str, ...] = ()
    choices: dict = {}
    search: tuple[str, ...] = ()
    select_related: tuple[str, ...] = ()
    per_page = 50
    live = 0
    template_name = "console/list.html"
    add = ""
    edit = ""
    bulk_import = ""

    def editable(self, user) -> bool:
        """Whether the user may add and edit these objects (global ones: system administrators)."""
        return user.is_superuser

    def pick(self, request) -> str:
        """The id of the bulk-action form whose checkboxes the rows get, "" for none (the default)."""
        return ""

    def prepare(self, objects) -> None:
        """Attach to a page's objects what its columns show that is computed for the page at once."""

    def get_queryset(self, view):
        """The API's queryset for this user; subclasses may narrow or annotate it."""
        queryset = view.get_queryset()
        return queryset.select_related(*self.select_related) if self.select_related else queryset

    def get(self, request):
        """The page, its table alone (an HTMX request), or CSV of every matching row (?export=csv)."""
        view = api_view(self.viewset, request)
        queryset = self.get_queryset(view)
        filterset = FilterBackend().get_filterset_class(view, queryset)(
            data=request.GET, queryset=queryset, request=view.request
        )
        self._offer_choices(filterset.form, request.user)
        errors = {}
        if filterset.is_valid():
            queryset = filterset.qs
        else:
            errors.update(filterset.errors)
            queryset = queryset.none()
        query = request.GET.get("q", "").strip()[:200]
        if query and self.search:
            match = Q()
            for name in self.search:
                match |= Q(**{f"{name}__icontains": query})
            queryset = queryset.filter(match)
        ordering = OrderingFilter()
        try:
            queryset = ordering.filter_queryset(view.request, queryset, view)
        except drf_exceptions.ValidationError as exc:
            errors.update(exc.detail)
            queryset = queryset.none().order_by("pk")
        if request.GET.get("export") == "csv" and not errors:
            return self.csv(request, queryset)
        editable = self.editable(request.user)
        table = shown(
            request,
            self.table,
            queryset,
            self.per_page,
            orderable=ordering.orderable_fields(queryset, view, view.request),
            pick=self.pick(request),
            prepare=self.prepare,
            live=self.live,
            extra=[edit_column(self.edit)] if self.edit and editable else (),
        )
        context = {
            "title": self.title,
            "section": self.section,
            "shown": table,
            "form": filterset.form,
            "filters": [filterset.form[name] for name in self.filters],
            "errors": errors,
            "query": query,
            "searchable": bool(self.search),
            "add_url": reverse(self.add) if self.add and editable else "",
            "import_url": reverse(self.bulk_import) if self.bulk_import and editable else "",
        }
        # Going back in history, htmx asks for the whole page again (it keeps no copies: historyCacheSize 0).
        fragment = request.htmx and not request.htmx.history_restore_request
        template = "console/table.html" if fragment else self.template_name
        return render(request, template, context, status=400 if errors else 200)

    def _offer_choices(self, form, user) -> None:
        """Filters as drop-downs labelled like the table's columns.

        An id filter lists the objects the user may see (the first 500 of
        them); a filter of several values (``?status=a&status=b`` in the API)
        offers one value at a time, which the API's filter takes as well.
        """
        for name in self.filters:
            field = form.fields[name]
            if name in self.table.by_key:
                field.label = self.table.by_key[name].label
            elif name in FILTER_LABELS:
                field.label = FILTER_LABELS[name]
            if name in self.choices:
                options = choice_options(self.choices[name].restrict(user)[:500])
                field.widget = QuickSelect(choices=[("", _("any")), *options])
            elif isinstance(field, forms.ChoiceField):
                options = [(value, label(value)) for value, _label in field.choices if value != ""]
                widget = OneOf if isinstance(field, forms.MultipleChoiceField) else QuickSelect
                field.widget = widget(choices=[("", _("any")), *options])

    def csv(self, request, queryset) -> StreamingHttpResponse:
        """Every row the filters match, with the user's columns, as CSV."""
        columns = self.table.chosen(preference(request.user, f"table:{self.table.name}"))

        class Echo:
            def write(self, value):
                return value

        writer = csv.writer(Echo())

        def lines():
            yield writer.writerow([str(column.label) for column in columns])
            for obj in queryset.iterator(chunk_size=2000):
                yield writer.writerow([column.text(obj) for column in columns])

        response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{self.table.name}.csv"'
        return response


def edit_column(url_name: str) -> Column:
    """A column of Edit links to each row's edit page."""
    return Column("edit", gettext_lazy("Edit"), order="", link=url_name, value=lambda obj: _("Edit"))


@require_POST
def choose_columns(request, table: str):
    """Remember the columns the user ticked for a table (``reset`` brings back the defaults), then go back."""
    back = back_to(request)
    if not request.user.is_authenticated:
        return redirect("console:login")
    found = TABLES.get(table)
    if found is None:
        raise Http404(_("No such table."))
    keys = [key for key in request.POST.getlist("columns") if key in found.by_key]
    if request.POST.get("reset") or not keys:
        forget(request.user, f"table:{table}")
    else:
        remember(request.user, f"table:{table}", keys)
    return redirect(back)
