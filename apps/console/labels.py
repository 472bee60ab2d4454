"""How the console names the values of states and kinds, in the reader's language.

The API speaks in values (``ready``, ``scale_out``). In English the console
shows those same words, so a page reads as the API answers; in another language
each value is translated. Pills keep the value as their CSS class and CSV
exports keep the value itself.
"""

from django.utils.translation import gettext_lazy as _

LABELS = {
    # Hosts
    "pending": _("pending"),
    "creating": _("creating"),
    "initializing": _("initializing"),
    "ready": _("ready"),
    "failed": _("failed"),
    "lost": _("lost"),
    "terminating": _("terminating"),
    "terminated": _("terminated"),
    # Jobs
    "running": _("running"),
    "succeeded": _("succeeded"),
    "partial": _("partial"),
    "cancelled": _("cancelled"),
    "scale_out": _("scale_out"),
    "scale_in": _("scale_in"),
    # Physical machines and orphans
    "free": _("free"),
    "allocated": _("allocated"),
    "maintenance": _("maintenance"),
    "reported": _("reported"),
    "gone": _("gone"),
    # Initialization runs
    "ok": _("ok"),
    "changed": _("changed"),
    "unreachable": _("unreachable"),
    # Roles
    "admin": _("admin"),
    "developer": _("developer"),
    "guest": _("guest"),
    # Budgets and cost reports
    "month": _("month"),
    "quarter": _("quarter"),
    "year": _("year"),
    "warning": _("warning"),
    "exceeded": _("exceeded"),
    "daily": _("daily"),
    "weekly": _("weekly"),
    "monthly": _("monthly"),
    "sent": _("sent"),
    "True": _("yes"),
    "False": _("no"),
}


def label(value) -> str:
    """The value's label in the active language, or the value itself when it has none."""
    return str(LABELS.get(value, value))
