"""Template filters of the console."""

from django import template

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
