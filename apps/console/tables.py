"""A small table layer for the console: columns declared once, shown as HTML and exported as CSV.

django-tables2 would bring its own paginator and ordering; the console's lists
already page through apps.console.paging (a page's rows fetched by primary key)
and order through the API's OrderingFilter (so ``?ordering=`` means the same on
a page as on the API), so a table here is only what to show in each column.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.urls import reverse
from django.utils.formats import date_format
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeData, mark_safe
from django.utils.timezone import localtime

from apps.console.formatting import number, when
from apps.console.labels import label, said


def attribute(obj, path: str):
    """obj.a.b for path "a.b"; None when a link on the way is missing."""
    for name in path.split("."):
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

    def raw(self, obj):
        """The cell's value as read from the object."""
        return self.value(obj) if self.value else attribute(obj, self.path)

    def text(self, obj) -> str:
        """The cell's value as text (what CSV exports)."""
        return plain(self.raw(obj))

    def html(self, obj) -> str:
        """The cell as HTML: a link, a pill, or the text (times and figures in the reader's format)."""
        raw = self.raw(obj)
        if isinstance(raw, SafeData):
            return raw
        if isinstance(raw, list | tuple) and raw and all(isinstance(item, datetime) for item in raw):
            times = ((item.isoformat(), when(item)) for item in raw)
            return format_html_join(mark_safe("<br>"), '<time datetime="{}">{}</time>', times)
        text = plain(raw)
        if isinstance(raw, datetime):
            return format_html('<time datetime="{}">{}</time>', raw.isoformat(), when(raw))
        if isinstance(raw, Decimal):
            return format_html("{}", number(raw))
        if self.pill and text:
            return format_html('<span class="pill status-{}" data-value="{}">{}</span>', text, text, label(text))
        if self.labelled and text:
            return format_html("{}", label(text))
        if self.said and text:
            return format_html("{}", said(text))
        if self.link and text:
            target = attribute(obj, self.link_path) if self.link_path else obj
            if target is not None:
                return format_html('<a href="{}">{}</a>', reverse(self.link, args=[target.pk]), text)
        return format_html("{}", text) if text else "–"


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
