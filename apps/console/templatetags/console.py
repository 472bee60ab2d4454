"""Template filters of the console."""

from django import template

from apps.console import labels

register = template.Library()


@register.filter
def label(value) -> str:
    """A state's or kind's value as the console names it in the active language (see apps.console.labels)."""
    return labels.label(value)
