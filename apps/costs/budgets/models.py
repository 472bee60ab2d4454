"""Budgets of a cluster (or one of its pools), the alerts their thresholds fire, and each alert's deliveries.

Imported by apps.costs.models, so Django registers them with the costs app.
An alert row is unique per budget, threshold and period: however many beats
check at once, and across restarts, a threshold fires once per period.
"""

from decimal import Decimal

from django.db import models
from django.db.models import Q

from apps.core.crypto import EncryptedJSONField, EncryptedTextField
from apps.core.models import BaseModel
from apps.costs.budgets.choices import AlertBasis, BudgetPeriod, DeliveryChannel, DeliveryStatus, WebhookShape
from apps.costs.currencies import round_money

#: Budget amounts and spend figures keep four decimals (the most any currency DCP knows has).
MONEY_DIGITS, MONEY_PLACES = 20, 4


class Budget(BaseModel):
    """What a cluster (or one pool of it) may spend per calendar period, in one currency.

    ``thresholds`` is a list of ``{"percent": p, "of": "actual"|"forecast"}``; the
    recipients (e-mail addresses and webhook URLs, which often carry an access
    token) are kept encrypted. With ``enforce`` on, a scale-out whose forecast
    would pass the amount is refused unless a cluster admin overrides it.
    """

    cluster = models.ForeignKey("inventory.Cluster", on_delete=models.CASCADE, related_name="budgets")
    pool = models.ForeignKey(
        "inventory.ServicePool",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="budgets",
        help_text="Empty: the whole cluster.",
    )
    name = models.CharField(max_length=100, blank=True)
    period = models.CharField(max_length=10, choices=BudgetPeriod.CHOICES, default=BudgetPeriod.MONTH)
    amount = models.DecimalField(max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES)
    currency = models.CharField(max_length=3, help_text="ISO 4217 code.")
    thresholds = models.JSONField(default=list, blank=True)
    recipients = EncryptedJSONField(default=dict, blank=True, help_text='{"notify": [...]}, encrypted.')
    enforce = models.BooleanField(default=False)

    cluster_path = "cluster"

    class Meta:
        ordering = ("cluster_id", "pk")
        constraints = [models.CheckConstraint(condition=Q(amount__gt=0), name="budget_amount_positive")]

    def __str__(self) -> str:
        scope = f"{self.cluster}/{self.pool.name}" if self.pool_id else str(self.cluster)
        return f"{self.name or 'budget'} {scope} {self.amount} {self.currency}/{self.period}"

    @property
    def shown_amount(self) -> Decimal:
        """The amount to its currency's minor unit, as money is shown (1000.00 USD, not the column's 1000.0000)."""
        return round_money(self.amount, self.currency)

    @property
    def notify(self) -> list[dict]:
        """The recipients: ``{"email": ...}`` or ``{"url": ..., "shape": ...}`` items."""
        return list((self.recipients or {}).get("notify", []))


class BudgetAlert(BaseModel):
    """One threshold of one budget crossed in one period, with the figures at that moment."""

    budget = models.ForeignKey(Budget, on_delete=models.CASCADE, related_name="alerts")
    period_start = models.DateTimeField()
    period_end = models.DateTimeField()
    percent = models.PositiveSmallIntegerField()
    of = models.CharField(max_length=10, choices=AlertBasis.CHOICES)
    amount = models.DecimalField(max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES)
    currency = models.CharField(max_length=3)
    spent = models.DecimalField(max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES)
    forecast = models.DecimalField(max_digits=MONEY_DIGITS, decimal_places=MONEY_PLACES)

    cluster_path = "budget__cluster"

    class Meta:
        ordering = ("-created_at", "-pk")
        constraints = [
            models.UniqueConstraint(fields=("budget", "percent", "of", "period_start"), name="budgetalert_once"),
        ]

    def __str__(self) -> str:
        return f"{self.budget_id}: {self.percent}% of {self.of} from {self.period_start:%Y-%m-%d}"

    @property
    def shown(self) -> dict[str, Decimal]:
        """amount, spent and forecast to the currency's minor unit, as money is shown."""
        return {name: round_money(getattr(self, name), self.currency) for name in ("amount", "spent", "forecast")}

    @property
    def reached(self) -> Decimal:
        """The figure the threshold is a percentage of."""
        return self.spent if self.of == AlertBasis.ACTUAL else self.forecast


class AlertDelivery(BaseModel):
    """One alert to one recipient: tried, retried with back-off, and then sent or failed (never dropped)."""

    alert = models.ForeignKey(BudgetAlert, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.CharField(max_length=10, choices=DeliveryChannel.CHOICES)
    target = models.CharField(max_length=500, help_text="The e-mail address, or the webhook URL without its secrets.")
    url = EncryptedTextField(blank=True, help_text="The whole webhook URL, encrypted.")
    shape = models.CharField(max_length=10, choices=WebhookShape.CHOICES, blank=True)
    status = models.CharField(max_length=10, choices=DeliveryStatus.CHOICES, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt = models.DateTimeField(null=True, blank=True, help_text="When a pending delivery is tried next.")
    last_error = models.CharField(max_length=1000, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    cluster_path = "alert__budget__cluster"

    class Meta:
        ordering = ("alert_id", "pk")
        indexes = [models.Index(fields=("status", "next_attempt"), name="alertdelivery_due_idx")]

    def __str__(self) -> str:
        return f"{self.channel} to {self.target}: {self.status}"
