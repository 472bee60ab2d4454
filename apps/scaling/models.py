"""Scaling schedules and their occurrences; scaling policies and their triggers."""

from django.db import models
from django.db.models import Q

from apps.core.crypto import EncryptedTextField
from apps.core.models import BaseModel
from apps.core.querysets import RestrictedQuerySet
from apps.scaling.choices import Decision, OccurrenceKind, OccurrenceStatus, StepUnit, TriggerSource


class ScalingSchedule(BaseModel):
    """A planned scale of one pool: to ``desired_size`` or by ``delta``, on a cron expression or once at
    ``run_at``, read in ``time_zone``.

    With ``duration_minutes`` each occurrence ends that long after it started, and the pool returns to the
    size it had before. An occurrence runs once (``ScheduleOccurrence`` is unique per schedule, time and
    kind); one found more than ``grace_seconds`` late (DCP was down) is recorded as missed instead.
    ``checked_until`` is how far occurrences have been looked for, ``next_at`` the first occurrence after it
    (so a tick looks only at schedules with something due).
    """

    pool = models.ForeignKey("inventory.ServicePool", on_delete=models.CASCADE, related_name="scaling_schedules")
    name = models.CharField(max_length=100)
    desired_size = models.PositiveIntegerField(null=True, blank=True)
    delta = models.IntegerField(null=True, blank=True)
    cron = models.CharField(max_length=100, blank=True, help_text="Five fields: minute hour day month weekday.")
    run_at = models.DateTimeField(null=True, blank=True, help_text="A one-off time, instead of cron.")
    time_zone = models.CharField(max_length=64, default="UTC")
    duration_minutes = models.PositiveIntegerField(null=True, blank=True)
    grace_seconds = models.PositiveIntegerField(default=600)
    enabled = models.BooleanField(default=True)
    checked_until = models.DateTimeField()
    next_at = models.DateTimeField(
        null=True, blank=True, help_text="The first occurrence after checked_until (none: nothing left to run)."
    )

    cluster_path = "pool__cluster"
    pool_path = "pool"

    class Meta:
        ordering = ("pool", "name", "pk")
        constraints = [
            models.UniqueConstraint(fields=("pool", "name"), name="scalingschedule_unique_name_per_pool"),
            models.CheckConstraint(
                condition=Q(desired_size__isnull=True) ^ Q(delta__isnull=True),
                name="scalingschedule_one_target",
            ),
            models.CheckConstraint(condition=Q(cron="") ^ Q(run_at__isnull=True), name="scalingschedule_one_time"),
        ]
        indexes = [models.Index(fields=("next_at",), name="scalingschedule_next_at_idx")]

    def __str__(self) -> str:
        return f"schedule {self.name}"

    def look_from(self, moment) -> None:
        """Look for occurrences after moment from now on (not saved)."""
        from apps.scaling.timing import next_after

        self.checked_until = moment
        self.next_at = next_after(self, moment)


class ScheduleOccurrence(models.Model):
    """One occurrence of a schedule (its start, or its end) and what became of it.

    Unique per schedule, time and kind: however many ticks, workers or duplicate messages find the
    same occurrence due, one of them records it and the others find it done.
    """

    schedule = models.ForeignKey(ScalingSchedule, on_delete=models.CASCADE, related_name="occurrences")
    time = models.DateTimeField(help_text="When the occurrence was due (for an end: when its start was due).")
    kind = models.CharField(max_length=10, choices=OccurrenceKind.CHOICES, default=OccurrenceKind.START)
    status = models.CharField(max_length=20, choices=OccurrenceStatus.CHOICES)
    job = models.ForeignKey(
        "provisioning.Job", on_delete=models.SET_NULL, null=True, blank=True, related_name="schedule_occurrences"
    )
    size_before = models.PositiveIntegerField(null=True, blank=True)
    size_after = models.PositiveIntegerField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True, help_text="A start's end, when the schedule has one.")
    message = models.CharField(max_length=2000, blank=True)
    ran_at = models.DateTimeField(auto_now_add=True)

    objects = RestrictedQuerySet.as_manager()
    cluster_path = "schedule__pool__cluster"
    pool_path = "schedule__pool"

    class Meta:
        ordering = ("-time", "-pk")
        constraints = [
            models.UniqueConstraint(fields=("schedule", "time", "kind"), name="scheduleoccurrence_once"),
        ]

    def __str__(self) -> str:
        return f"{self.schedule_id} {self.kind} {self.time:%Y-%m-%d %H:%M} {self.status}"


class ScalingPolicy(BaseModel):
    """Scales one pool when its alert fires: out by ``step_out`` (hosts or percent), and optionally in by
    ``step_in`` once the alert has stayed resolved for ``stable_seconds``; within bounds of its own (inside
    the pool's) and at most once per ``cooldown_seconds``.

    Alerts reach it through its webhook, authenticated by the policy's token (``secret``, encrypted; the
    token is shown once, when made). ``firing_since``, ``resolved_since`` and ``last_scaled_at`` are its state.
    """

    pool = models.ForeignKey("inventory.ServicePool", on_delete=models.CASCADE, related_name="scaling_policies")
    name = models.CharField(max_length=100)
    alert_name = models.CharField(max_length=200, help_text="The alert (its alertname label) this policy acts on.")
    step_out = models.PositiveIntegerField()
    step_out_unit = models.CharField(max_length=10, choices=StepUnit.CHOICES, default=StepUnit.HOSTS)
    step_in = models.PositiveIntegerField(null=True, blank=True)
    step_in_unit = models.CharField(max_length=10, choices=StepUnit.CHOICES, default=StepUnit.HOSTS)
    stable_seconds = models.PositiveIntegerField(default=600)
    min_size = models.PositiveIntegerField(null=True, blank=True)
    max_size = models.PositiveIntegerField(null=True, blank=True)
    cooldown_seconds = models.PositiveIntegerField(default=300)
    enabled = models.BooleanField(default=True)
    secret = EncryptedTextField()
    token_prefix = models.CharField(max_length=8)
    firing_since = models.DateTimeField(null=True, blank=True)
    resolved_since = models.DateTimeField(null=True, blank=True)
    last_scaled_at = models.DateTimeField(null=True, blank=True)

    cluster_path = "pool__cluster"
    pool_path = "pool"

    class Meta:
        ordering = ("pool", "name", "pk")
        verbose_name_plural = "scaling policies"
        constraints = [
            models.UniqueConstraint(fields=("pool", "name"), name="scalingpolicy_unique_name_per_pool"),
            models.CheckConstraint(condition=Q(step_out__gte=1), name="scalingpolicy_step_out_positive"),
        ]
        indexes = [models.Index(fields=("resolved_since",), name="scalingpolicy_resolved_idx")]

    def __str__(self) -> str:
        return f"policy {self.name}"


class PolicyTrigger(models.Model):
    """One trigger of a policy (an alert payload, or a stable period that ended) and its decision."""

    policy = models.ForeignKey(ScalingPolicy, on_delete=models.CASCADE, related_name="triggers")
    time = models.DateTimeField(auto_now_add=True)
    source = models.CharField(max_length=20, choices=TriggerSource.CHOICES)
    status = models.CharField(max_length=10, help_text="firing or resolved: what the payload said.")
    alerts = models.JSONField(default=list, blank=True, help_text="The payload's alerts: name, status, fingerprint.")
    decision = models.CharField(max_length=20, choices=Decision.CHOICES)
    job = models.ForeignKey(
        "provisioning.Job", on_delete=models.SET_NULL, null=True, blank=True, related_name="policy_triggers"
    )
    size_before = models.PositiveIntegerField(null=True, blank=True)
    size_after = models.PositiveIntegerField(null=True, blank=True)
    message = models.CharField(max_length=2000, blank=True)

    objects = RestrictedQuerySet.as_manager()
    cluster_path = "policy__pool__cluster"
    pool_path = "policy__pool"

    class Meta:
        ordering = ("-time", "-pk")
        indexes = [models.Index(fields=("policy", "time"), name="policytrigger_policy_time_idx")]

    def __str__(self) -> str:
        return f"{self.policy_id} {self.status} {self.decision}"
