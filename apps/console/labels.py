"""How the console names the values of states and kinds, in the reader's language.

The API speaks in values (``ready``, ``scale_out``). In English the console
shows those same words, so a page reads as the API answers; in another language
each value is translated. Pills keep the value as their CSS class and CSV
exports keep the value itself.
"""

from functools import lru_cache

from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from apps.core import sentences

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
    "initialize": _("initialize"),
    "checked": _("checked"),
    "check": _("check"),
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
    # Scaling schedules and policies
    "start": _("start"),
    "end": _("end"),
    "scaled": _("scaled"),
    "unchanged": _("unchanged"),
    "at_bound": _("at_bound"),
    "budget_refused": _("budget_refused"),
    "refused": _("refused"),
    "missed": _("missed"),
    "cooldown": _("cooldown"),
    "unknown_alert": _("unknown_alert"),
    "disabled": _("disabled"),
    "waiting": _("waiting"),
    "resolved": _("resolved"),
    "firing": _("firing"),
    # Drift of a host from its base state
    "unknown": _("unknown"),
    "in_sync": _("in_sync"),
    "drifted": _("drifted"),
    # Roles
    "admin": _("admin"),
    "developer": _("developer"),
    "guest": _("guest"),
    # Job timeline events (those not above)
    "requested": _("requested"),
    "planned": _("planned"),
    "created": _("created"),
    "initialized": _("initialized"),
    "retrying": _("retrying"),
    "info": _("info"),
    "error": _("error"),
    "finished": _("finished"),
    # Audit log: actions and where they came from
    "create": _("create"),
    "update": _("update"),
    "delete": _("delete"),
    "scale": _("scale"),
    "cancel": _("cancel"),
    "login": _("login"),
    "login_failed": _("login_failed"),
    "lockout": _("lockout"),
    "api": _("api"),
    "console": _("console"),
    "system": _("system"),
    # Provider kinds and initialization methods
    "aws": _("aws"),
    "aliyun": _("aliyun"),
    "openstack": _("openstack"),
    "physical": _("physical"),
    "libcloud": _("libcloud"),
    "ansible": _("ansible"),
    "puppet": _("puppet"),
    "none": _("none"),
    # Budget periods
    "month": _("month"),
    "quarter": _("quarter"),
    "year": _("year"),
    # Kinds of objects in the audit log (their model names)
    "cluster": _("cluster"),
    "membership": _("membership"),
    "servicepool": _("servicepool"),
    "pooltemplate": _("pooltemplate"),
    "host": _("host"),
    "job": _("job"),
    "cloudaccount": _("cloudaccount"),
    "machinetemplate": _("machinetemplate"),
    "physicalmachine": _("physicalmachine"),
    "registry": _("registry"),
    "sshkey": _("sshkey"),
    "orphaninstance": _("orphaninstance"),
    "initrun": _("initrun"),
    "price": _("price"),
    "exchangerate": _("exchangerate"),
    "budget": _("budget"),
    "costreportschedule": _("costreportschedule"),
    "user": _("user"),
    "token": _("token"),
    # Why a host failed
    "capacity": _("capacity"),
    "auth": _("auth"),
    "quota": _("quota"),
    "invalid_request": _("invalid_request"),
    "not_found": _("not_found"),
    "provider_error": _("provider_error"),
    "instance_error": _("instance_error"),
    "boot_timeout": _("boot_timeout"),
    "no_address": _("no_address"),
    "init_failed": _("init_failed"),
    # Budgets and cost reports (those not above)
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
    if value in LABELS:
        return _label(value, get_language())
    return str(value)


@lru_cache(maxsize=1024)
def _label(value: str, language: str) -> str:
    """A label translated once per language: a page draws the same few statuses a hundred times, and each
    translation of a lazy string looks the language up again."""
    return str(LABELS[value])


def said(line) -> str:
    """A line the engine wrote, in the active language (apps.core.sentences); the API keeps its English."""
    return sentences.translate(str(line), label) if line else ""


#: Labels of list filters that are not also a column of their table (a filter otherwise takes its column's).
FILTER_LABELS = {
    "cluster": _("Cluster"),
    "pool": _("Pool"),
    "provider": _("Provider"),
    "status": _("Status"),
    "state": _("State"),
    "kind": _("Kind"),
    "action": _("Action"),
    "object_type": _("Object type"),
}
