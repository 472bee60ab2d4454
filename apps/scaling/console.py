"""The scaling sections of a pool's console page: its schedules and policies, and what they did."""

from django.db.models import Count, Value
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import mark_safe
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from apps.console.formatting import when
from apps.console.generic import shown
from apps.console.tables import Column, Table
from apps.scaling import timing
from apps.scaling.models import PolicyTrigger, ScalingPolicy, ScalingSchedule, ScheduleOccurrence

PER_PAGE = 20
#: How many of a schedule's next occurrences the pool's page shows.
NEXT_SHOWN = 3
#: The id of the pool page's one form that the rows' Enable and Disable buttons submit (each with its own action).
ENABLE_FORM = "scaling-enable"


def _target(schedule) -> str:
    return f"= {schedule.desired_size}" if schedule.desired_size is not None else f"{schedule.delta:+d}"


def _next(schedule) -> list:
    return timing.upcoming(schedule, timezone.now(), count=NEXT_SHOWN)


def upcoming_text(schedule) -> str:
    """The schedule's next occurrences as the console writes times (in its time zone), "" when none is left."""
    return ", ".join(when(moment) for moment in _next(schedule))


def _buttons(obj, kind: str, *links: tuple[str, str]) -> str:
    """A row's links to its pages (edit, delete...: each the last word of its URL's name), and the button that
    enables or disables it."""
    html = mark_safe("")
    for page, text in links:
        url = reverse(f"console:{kind}-{page}", args=[obj.pk])
        html += format_html('<a href="{}" data-action="{}">{}</a> ', url, page, text)
    return html + format_html(
        '<button type="submit" form="{}" formaction="{}" name="enabled" value="{}" data-action="enable">{}</button>',
        ENABLE_FORM,
        reverse(f"console:{kind}-enable", args=[obj.pk]),
        "0" if obj.enabled else "1",
        gettext("Disable") if obj.enabled else gettext("Enable"),
    )


def _schedule_actions(schedule) -> str:
    return _buttons(schedule, "scaling-schedule", ("edit", gettext("Edit")), ("delete", gettext("Delete")))


def _policy_actions(policy) -> str:
    links = (("edit", gettext("Edit")), ("rotate", gettext("Rotate token")), ("delete", gettext("Delete")))
    return _buttons(policy, "scaling-policy", *links)


SCHEDULE_ACTIONS = Column("actions", _("Actions"), order="", value=_schedule_actions)
POLICY_ACTIONS = Column("actions", _("Actions"), order="", value=_policy_actions)


def _step(amount, unit, sign: str) -> str:
    if amount is None:
        return ""
    return f"{sign}{amount} %" if unit == "percent" else f"{sign}{amount}"


def _bounds(policy) -> str:
    low = "" if policy.min_size is None else policy.min_size
    high = "" if policy.max_size is None else policy.max_size
    return f"{low}–{high}" if (low, high) != ("", "") else ""


def _sizes(row) -> str:
    return "" if row.size_before is None else f"{row.size_before} → {row.size_after}"


SCHEDULES = Table(
    "scaling-schedules",
    [
        Column("name", _("Schedule"), order=""),
        Column("target", _("Target"), value=_target, order=""),
        Column("cron", _("Cron"), order=""),
        Column("run_at", _("Once at"), order=""),
        Column("time_zone", _("Time zone"), order=""),
        Column("next", _("Next"), value=_next, order=""),
        Column("duration_minutes", _("Ends after (minutes)"), order=""),
        Column("grace_seconds", _("Grace (s)"), order="", default=False),
        Column("enabled", _("Enabled"), order=""),
    ],
)
OCCURRENCES = Table(
    "scaling-occurrences",
    [
        Column("time", _("Due"), order=""),
        Column("schedule", _("Schedule"), path="schedule.name", order=""),
        Column("kind", _("Kind"), labelled=True, order=""),
        Column("status", _("Status"), pill=True, order=""),
        Column("sizes", _("Desired"), value=_sizes, order=""),
        Column("job", _("Job"), path="job.pk", link="console:job", link_path="job", order=""),
        Column("message", _("Message"), said=True, order=""),
    ],
)
POLICIES = Table(
    "scaling-policies",
    [
        Column("name", _("Policy"), order=""),
        Column("alert_name", _("Alert"), order=""),
        Column("step_out", _("Step out"), value=lambda p: _step(p.step_out, p.step_out_unit, "+"), order=""),
        Column("step_in", _("Step in"), value=lambda p: _step(p.step_in, p.step_in_unit, "-"), order=""),
        Column("stable_seconds", _("Stable for (s)"), order=""),
        Column("cooldown_seconds", _("Cooldown (s)"), order=""),
        Column("bounds", _("Bounds"), value=_bounds, order=""),
        Column("enabled", _("Enabled"), order=""),
        Column("last_scaled_at", _("Last scaled"), order=""),
        Column("webhook", _("Webhook"), value=lambda p: f"/api/v1/scaling-policies/{p.pk}/alerts/", order=""),
        Column("token_prefix", _("Token"), value=lambda p: f"{p.token_prefix}…", order="", default=False),
    ],
)
TRIGGERS = Table(
    "scaling-triggers",
    [
        Column("time", _("Time"), order=""),
        Column("policy", _("Policy"), path="policy.name", order=""),
        Column("status", _("Alert"), pill=True, order=""),
        Column("decision", _("Decision"), pill=True, order=""),
        Column("sizes", _("Desired"), value=_sizes, order=""),
        Column("job", _("Job"), path="job.pk", link="console:job", link_path="job", order=""),
        Column("message", _("Message"), said=True, order=""),
    ],
)


#: The sections of a pool page whose rows section_counts() counts.
SECTION_COUNTS = {
    "schedules": (ScalingSchedule, "pool"),
    "occurrences": (ScheduleOccurrence, "schedule__pool"),
    "policies": (ScalingPolicy, "pool"),
    "triggers": (PolicyTrigger, "policy__pool"),
}


def section_counts(pool) -> dict[str, int]:
    """The rows of each scaling section of the pool, counted in one statement (four counts cost a page four
    round trips; as annotations of the pool's own query, four subqueries to plan)."""
    parts = [
        model.objects.filter(**{field: pool}).order_by().values(section=Value(name)).annotate(n=Count("*"))
        for name, (model, field) in SECTION_COUNTS.items()
    ]
    counted = dict(parts[0].union(*parts[1:], all=True).values_list("section", "n"))
    return {name: counted.get(name, 0) for name in SECTION_COUNTS}


def pool_sections(request, pool, can_operate: bool, can_appoint: bool) -> dict:
    """The context of a pool page's scaling sections (the pool is one the user may see): its schedules and
    policies, with the buttons that change them for those who run the pool (``can_operate``: restrict() allows
    OPERATE on it); its administrators, with the buttons that appoint and remove them for the cluster's admins
    (``can_appoint``: restrict() allows CHANGE on the pool)."""
    occurrences = ScheduleOccurrence.objects.filter(schedule__pool=pool).select_related("schedule", "job")
    triggers = PolicyTrigger.objects.filter(policy__pool=pool).select_related("policy", "job")
    counted = section_counts(pool)
    return {
        "schedules": shown(
            request,
            SCHEDULES,
            pool.scaling_schedules.order_by("name", "pk"),
            PER_PAGE,
            "schedules_page",
            count=counted["schedules"],
            extra=[SCHEDULE_ACTIONS] if can_operate else (),
        ),
        "occurrences": shown(
            request,
            OCCURRENCES,
            occurrences.order_by("-time", "-pk"),
            PER_PAGE,
            "occurrences_page",
            count=counted["occurrences"],
        ),
        "policies": shown(
            request,
            POLICIES,
            pool.scaling_policies.order_by("name", "pk"),
            PER_PAGE,
            "policies_page",
            count=counted["policies"],
            extra=[POLICY_ACTIONS] if can_operate else (),
        ),
        "triggers": shown(
            request, TRIGGERS, triggers.order_by("-time", "-pk"), PER_PAGE, "triggers_page", count=counted["triggers"]
        ),
        "pool_admins": [admin.user.username for admin in pool.admins.select_related("user").order_by("user__username")],
        "can_operate": can_operate,
        "can_appoint": can_appoint,
        "enable_form": ENABLE_FORM,
    }
