"""A small table layer for the console: columns declared once, shown as HTML and exported as CSV.

django-tables2 would bring its own paginator and ordering; the console's lists
already page through apps.console.paging (a page's rows fetched by primary key)
and order through the API's OrderingFilter (so ``?ordering=`` means the same on
a page as on the API), so a table here is only what to show in each column.
"""

import html
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from functools import lru_cache

from django.urls import get_script_prefix, reverse
from django.utils.formats import date_format
from django.utils.html import format_html_join
from django.utils.safestring import SafeData, SafeString, mark_safe
from django.utils.timezone import localtime

from apps.console.formatting import number, when
from apps.console.labels import label, said


def attribute(obj, path: str | tuple[str, ...]):
    """obj.a.b for path "a.b" (or ("a", "b"), split once by the caller); None when a link on the way is missing."""
    for name in path.split(".") if isinstance(path, str) else path:
        if obj is None:
            return None
        obj = getattr(obj, name)
    return obj


def plain(value) -> str:
    """A value as text: empty for None, times in the console's time zone, choices by their value."""
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return ", ".join(plain(item) for item in value)
    if hasattr(value, "tzinfo") and hasattr(value, "hour"):
        return date_format(localtime(value), "Y-m-d H:i:s")
    return str(value)


def escaped(value) -> str:
    """value as HTML text: as it is if already HTML (marked safe), else escaped as Django escapes (& < > " ')."""
    if isinstance(value, SafeData):
        return str(value)
    return html.escape(str(value), quote=True)


def html_of(template: str, *args) -> SafeString:
    """format_html for the cells of a page: the same escaping without Django's lazy-string wrappers, which
    cost a page of hosts several milliseconds."""
    return mark_safe(template.format(*(escaped(arg) for arg in args)))  # noqa: S308 - every argument escaped


#: A stand-in primary key: reversed once per URL name, then replaced by each row's own.
_STAND_IN = 8_642_097_531


@lru_cache(maxsize=256)
def _link_pattern(name: str, prefix: str) -> tuple[str, str]:
    head, _, tail = reverse(name, args=[_STAND_IN]).partition(str(_STAND_IN))
    return head, tail


def link_to(name: str, pk: int) -> str:
    """reverse(name, args=[pk]) for a URL taking one integer, reversed once per name (reverse costs about
    40 µs, and a page of hosts links 100 cells)."""
    head, tail = _link_pattern(name, get_script_prefix())
    return f"{head}{int(pk)}{tail}"


@dataclass
class Column:
    """One column: its key (also the API field it shows), label, how to read and link its value.

    ``order`` is the API ordering name that sorts by this column (``""``: the
    column cannot be sorted). ``link`` names a console URL taking the object
    (or the object at ``link_path``) as its one argument. ``pill`` shows the
    value's label as a coloured status pill, ``labelled`` its label alone. A
    value that is already HTML (marked safe, such as a row's buttons) is drawn
    as it is; a list of times one per line.
    """

    key: str
    label: str
    path: str = ""
    order: str | None = None
    link: str = ""
    link_path: str = ""
    pill: bool = False
    labelled: bool = False
    said: bool = False
    value: Callable | None = None
    default: bool = True

    def __post_init__(self):
        self.path = self.path or self.key
        if self.order is None:
            self.order = self.key
        self._names = tuple(self.path.split("."))

    def raw(self, obj):
        """The cell's value as read from the object."""
        return self.value(obj) if self.value else attribute(obj, self._names)

    def text(self, obj) -> str:
        """The cell's value as text (what CSV exports)."""
        return plain(self.raw(obj))

    def html(self, obj) -> str:
        """The cell as HTML: a link, a pill, or the text (times and figures in the reader's format)."""
        raw = self.raw(obj)
        if type(raw) is str:  # most cells: text as it is (not HTML: SafeString is a subclass)
            text = raw
        elif isinstance(raw, SafeData):
            return raw
        elif isinstance(raw, list | tuple) and raw and all(isinstance(item, datetime) for item in raw):
            times = ((item.isoformat(), when(item)) for item in raw)
            return format_html_join(mark_safe("<br>"), '<time datetime="{}">{}</time>', times)
        elif isinstance(raw, datetime):
            return html_of('<time datetime="{}">{}</time>', raw.isoformat(), when(raw))
        elif isinstance(raw, Decimal):
            return html_of("{}", number(raw))
        else:
            text = plain(raw)
        if self.pill and text:
            return html_of('<span class="pill status-{}" data-value="{}">{}</span>', text, text, label(text))
        if self.labelled and text:
            return html_of("{}", label(text))
        if self.said and text:
            return html_of("{}", said(text))
        if self.link and text:
            target = attribute(obj, self.link_path) if self.link_path else obj
            if target is not None:
                return html_of('<a href="{}">{}</a>', link_to(self.link, target.pk), text)
        return mark_safe(html.escape(text)) if text else "–"  # noqa: S308 - escaped here


#: Every table, by name: the column chooser looks a name up here.
TABLES: dict[str, "Table"] = {}


@dataclass
class Table:
    """A named set of columns; the name keys the user's remembered choice of columns (and TABLES)."""

    name: str
    columns: list[Column]
    defaults: list[str] = field(default_factory=list)

    def __post_init__(self):
        self.by_key = {column.key: column for column in self.columns}
        self.defaults = self.defaults or [column.key for column in self.columns if column.default]
        TABLES[self.name] = self

    def chosen(self, keys) -> list[Column]:
        """The columns named in keys (unknown names dropped), or the defaults when none is left."""
        found = [self.by_key[key] for key in keys or () if key in self.by_key]
        return found or [self.by_key[key] for key in self.defaults]
