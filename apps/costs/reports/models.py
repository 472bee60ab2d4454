"""Cost report schedules and the reports made from them.

A schedule belongs to its owner. With a cluster it covers that cluster (its
admins manage it, every member reads it and its reports); without one it covers
every cluster its owner may see at the time each report is made, and only the
owner (and system administrators) see it. A report is made once per schedule and
period: the unique constraint holds whatever beats run twice or crash halfway.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from apps.core.choices import Action
from apps.core.models import BaseModel
from apps.core.querysets import RestrictedQuerySet
from apps.costs.reports.choices import Delivery, Frequency


class ScheduleQuerySet(RestrictedQuerySet):
    """restrict() for schedules (``prefix`` ""), and for reports through their schedule (``prefix`` "schedule__").

    A cluster's schedules by role, as everywhere; a schedule without a cluster
    reaches across its owner's clusters, so only its owner may see or change it.
    """

    prefix = ""

    def restrict(self, user, action: str = Action.VIEW) -> "ScheduleQuerySet":
        """The schedules (or reports) this user may perform action on."""
        if user is None or not user.is_authenticated or not user.is_active:
            return self.none()
        if user.is_superuser:
            return self
        from apps.accounts.models import Membership

        clusters = Membership.objects.filter(user=user, role__in=Action.ROLES[action]).values("cluster_id")
        p = self.prefix
        return self.filter(Q(**{f"{p}cluster__in": clusters}) | Q(**{f"{p}cluster__isnull": True, f"{p}owner": user}))


class ReportQuerySet(ScheduleQuerySet):
    """Reports, restricted as their schedules are."""

    prefix = "schedule__"


class CostReportSchedule(BaseModel):
    """What to report, how often, in which time zone and files, and to whom."""

    name = models.CharField(max_length=100)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="cost_report_schedules")
    cluster = models.ForeignKey(
        "inventory.Cluster",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="cost_report_schedules",
        help_text="Empty: every cluster the owner may see when a report is made.",
    )
    group_by = models.CharField(max_length=200, help_text="Dimensions as the cost API takes them, comma-separated.")
    currency = models.CharField(max_length=3)
    frequency = models.CharField(max_length=10, choices=Frequency.CHOICES)
    time_zone = models.CharField(max_length=64, help_text="IANA time zone whose calendar cuts the periods.")
    formats = models.JSONField(help_text="Files attached and offered: csv, xlsx.")
    recipients = models.JSONField(help_text="E-mail addresses.")
    active = models.BooleanField(default=True)
    paused_reason = models.CharField(max_length=300, blank=True, help_text="Why DCP stopped this schedule, if it did.")

    objects = ScheduleQuerySet.as_manager()
    cluster_path = "cluster"

    class Meta:
        ordering = ("name", "pk")
        indexes = [models.Index(fields=("active",), name="cost_schedule_active_idx")]
        constraints = [
            models.CheckConstraint(condition=Q(frequency__in=Frequency.values()), name="cost_schedule_frequency"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.frequency})"


class CostReport(BaseModel):
    """The costs of one closed period of one schedule, as they were when it was made, and its e-mail's fate."""

    schedule = models.ForeignKey(CostReportSchedule, on_delete=models.CASCADE, related_name="reports")
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    group_by = models.CharField(max_length=200)
    currency = models.CharField(max_length=3)
    total = models.DecimalField(max_digits=24, decimal_places=4)
    previous_total = models.DecimalField(max_digits=24, decimal_places=4)
    host_hours = models.DecimalField(max_digits=24, decimal_places=4)
    unpriced_host_hours = models.DecimalField(max_digits=24, decimal_places=4)
    rows = models.JSONField(help_text="key, ids, cost, host_hours, unpriced_host_hours, previous_cost, change.")
    missing_rates = models.JSONField(default=list, help_text="Currencies and days with no exchange rate.")
    delivery = models.CharField(max_length=10, choices=Delivery.CHOICES, default=Delivery.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    delivery_error = models.CharField(max_length=500, blank=True)

    objects = ReportQuerySet.as_manager()
    cluster_path = "schedule__cluster"

    class Meta:
        ordering = ("-period_start", "schedule_id", "pk")
        indexes = [models.Index(fields=("delivery", "next_attempt_at"), name="cost_report_delivery_idx")]
        constraints = [
            models.UniqueConstraint(fields=("schedule", "period_start"), name="cost_report_one_per_period"),
            models.CheckConstraint(condition=Q(period_end__gt=models.F("period_start")), name="cost_report_period"),
            models.CheckConstraint(condition=Q(delivery__in=Delivery.values()), name="cost_report_delivery"),
        ]

    def __str__(self) -> str:
        return f"{self.schedule.name} {self.period_start:%Y-%m-%d}"
