"""Template filters of the console."""

from functools import lru_cache

from django import template
from django.urls import get_script_prefix, reverse

from apps.console import formatting, labels

register = template.Library()


@register.filter
def label(value) -> str:
    """A state's or kind's value as the console names it in the active language (see apps.console.labels)."""
    return labels.label(value)


@register.filter
def said(value) -> str:
    """A line the engine wrote (a job's or host's message, a timeline event) in the active language."""
    return labels.said(value)


# Times, figures and money in the reader's format (apps.console.formatting): {{ host.created_at|when }},
# {{ event.time|clock }}, {{ host.memory_gb|number }}, {{ cost.total|money:cost.currency }}.
for _name in ("when", "clock", "number", "money"):
    register.filter(_name, getattr(formatting, _name))


@register.simple_tag
def path(name: str, *args) -> str:
    """``{% url %}`` for the console's fixed addresses (the navigation's, a table's column chooser's): reversed
    once per name, arguments and script prefix. ``{% url %}`` reverses at every use, about 40 µs, and every
    page's navigation has twenty. Not for addresses of objects (their keys have no end)."""
    return _reversed(name, tuple(str(arg) for arg in args), get_script_prefix())


@lru_cache(maxsize=256)
def _reversed(name: str, args: tuple, prefix: str) -> str:
    return reverse(name, args=args)
