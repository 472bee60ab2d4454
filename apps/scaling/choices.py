"""Choice sets of scaling schedules and policies."""

from apps.core.choices import ChoiceSet


class StepUnit(ChoiceSet):
    """What a policy's step counts: hosts, or percent of the pool's desired size (rounded up, at least 1)."""

    HOSTS = "hosts"
    PERCENT = "percent"
    CHOICES = ((HOSTS, "Hosts"), (PERCENT, "Percent"))


class OccurrenceKind(ChoiceSet):
    """A schedule's occurrence starts (scales as the schedule says) or ends (returns to the size before)."""

    START = "start"
    END = "end"
    CHOICES = ((START, "Start"), (END, "End"))


class OccurrenceStatus(ChoiceSet):
    """What became of one occurrence."""

    SCALED = "scaled"
    UNCHANGED = "unchanged"
    AT_BOUND = "at_bound"
    BUDGET_REFUSED = "budget_refused"
    REFUSED = "refused"
    MISSED = "missed"
    CHOICES = (
        (SCALED, "Scaled"),
        (UNCHANGED, "Already at that size"),
        (AT_BOUND, "At the pool's bound"),
        (BUDGET_REFUSED, "Refused by the budget"),
        (REFUSED, "Refused"),
        (MISSED, "Missed"),
    )


class Decision(ChoiceSet):
    """What a policy decided on one trigger (an alert payload, or the end of a stable period)."""

    SCALED = "scaled"
    COOLDOWN = "cooldown"
    AT_BOUND = "at_bound"
    BUDGET_REFUSED = "budget_refused"
    REFUSED = "refused"
    UNKNOWN_ALERT = "unknown_alert"
    DISABLED = "disabled"
    WAITING = "waiting"
    RESOLVED = "resolved"
    CHOICES = (
        (SCALED, "Scaled"),
        (COOLDOWN, "In cooldown"),
        (AT_BOUND, "At bound"),
        (BUDGET_REFUSED, "Refused by the budget"),
        (REFUSED, "Refused"),
        (UNKNOWN_ALERT, "Unknown alert"),
        (DISABLED, "Policy disabled"),
        (WAITING, "Resolved: waiting for the stable period"),
        (RESOLVED, "Resolved: nothing to do"),
    )


class TriggerSource(ChoiceSet):
    """Where a trigger came from."""

    ALERTMANAGER = "alertmanager"
    JSON = "json"
    STABLE = "stable"
    CHOICES = ((ALERTMANAGER, "Alertmanager"), (JSON, "Plain JSON"), (STABLE, "Stable period ended"))
