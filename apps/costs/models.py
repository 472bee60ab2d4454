"""The dated price catalog and exchange rates.

Both are global (no cluster): every signed-in user reads them, system
administrators write them. History is never re-priced: a new price is a new row
from the moment it applies, and the row it replaces is closed at that moment.
"""

from decimal import Decimal

from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import F, Q

from apps.core.models import BaseModel
from apps.costs.choices import Billing, PriceSource
from apps.providers.choices import ProviderKind

#: Prices and rates are kept with this many decimals: a cloud's cheapest types cost fractions of a cent an hour.
PRICE_PLACES = 8
RATE_PLACES = 10


class Price(BaseModel):
    """One price of one key over one stretch of time.

    The key is a provider account (or, for every account of a kind, the kind),
    a region (empty: any region), an instance type and a zone (empty: any zone).
    Rows of one key never overlap (``valid_to`` empty: open-ended). Where several
    keys match a host, the most specific applies: the account's own over the
    kind's, a named region over any region, a named zone over any zone.
    """

    provider = models.ForeignKey(
        "providers.CloudAccount", on_delete=models.CASCADE, null=True, blank=True, related_name="prices"
    )
    kind = models.CharField(max_length=20, choices=ProviderKind.CHOICES, blank=True)
    region = models.CharField(max_length=64, blank=True, help_text="Empty: any region.")
    instance_type = models.CharField(max_length=64)
    zone = models.CharField(max_length=64, blank=True, help_text="Empty: any zone.")
    currency = models.CharField(max_length=3, help_text="ISO 4217 code.")
    hourly_price = models.DecimalField(
        max_digits=18, decimal_places=PRICE_PLACES, validators=[MinValueValidator(Decimal("0.00000001"))]
    )
    billing = models.CharField(max_length=20, choices=Billing.CHOICES, default=Billing.PER_SECOND)
    minimum_seconds = models.PositiveIntegerField(default=0)
    valid_from = models.DateTimeField()
    valid_to = models.DateTimeField(null=True, blank=True, help_text="Empty: in force until a new price replaces it.")
    source = models.CharField(max_length=64, default=PriceSource.MANUAL)
    confirmed_at = models.DateTimeField(null=True, blank=True, help_text="When the source last confirmed this price.")

    class Meta:
        ordering = ("provider_id", "kind", "region", "instance_type", "zone", "valid_from")
        indexes = [models.Index(fields=("instance_type", "valid_from"), name="price_type_from_idx")]
        constraints = [
            models.CheckConstraint(
                condition=(Q(provider__isnull=True) & ~Q(kind="")) | (Q(provider__isnull=False) & Q(kind="")),
                name="price_account_or_kind",
            ),
            models.CheckConstraint(condition=Q(hourly_price__gt=0), name="price_positive"),
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gt=F("valid_from")), name="price_valid_to_after_from"
            ),
            models.CheckConstraint(
                condition=Q(billing=Billing.PER_SECOND) | Q(minimum_seconds=0), name="price_minimum_per_second_only"
            ),
            # Non-overlap of one key's rows is enforced by an exclusion constraint on PostgreSQL (added by
            # migration 0002, which SQLite cannot hold) and checked under a lock by apps.costs.catalog.
        ]

    def __str__(self) -> str:
        owner = self.provider.name if self.provider_id else self.kind
        where = "/".join(part for part in (owner, self.region, self.zone) if part)
        return f"{where} {self.instance_type} {self.hourly_price} {self.currency}/h from {self.valid_from:%Y-%m-%d}"


class ExchangeRate(BaseModel):
    """1 ``base`` = ``rate`` ``quote``, in force from ``valid_from`` (a day in DCP_TIME_ZONE) until the next rate.

    The same rate read backwards converts quote to base; no rate is ever guessed
    across a third currency.
    """

    base = models.CharField(max_length=3)
    quote = models.CharField(max_length=3)
    rate = models.DecimalField(
        max_digits=24, decimal_places=RATE_PLACES, validators=[MinValueValidator(Decimal("0.0000000001"))]
    )
    valid_from = models.DateField()

    class Meta:
        ordering = ("base", "quote", "valid_from")
        constraints = [
            models.UniqueConstraint(fields=("base", "quote", "valid_from"), name="rate_unique_day"),
            models.CheckConstraint(condition=~Q(base=F("quote")), name="rate_two_currencies"),
            models.CheckConstraint(condition=Q(rate__gt=0), name="rate_positive"),
        ]

    def __str__(self) -> str:
        return f"1 {self.base} = {self.rate} {self.quote} from {self.valid_from}"


class KeptGroupCost(models.Model):
    """A pool's or cluster's run-rate and cost this month as computed at ``computed_at`` (apps.costs.kept).

    Lists of pools and clusters read these instead of accruing every host of the page at each request.
    ``inputs`` is the signature of the cost inputs (catalog, rates, machine intervals) they were computed
    from; amounts are exact decimal strings, unrounded (the answer rounds them once).
    """

    dimension = models.CharField(max_length=10)
    object_id = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    run_rate = models.CharField(max_length=80, help_text="Per hour, exact decimal.")
    this_month = models.CharField(max_length=80, help_text="Price-seconds this month (÷ 3600), exact decimal.")
    unpriced_hosts = models.PositiveIntegerField(default=0)
    month_start = models.DateTimeField()
    inputs = models.CharField(max_length=500)
    computed_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=("dimension", "object_id"), name="keptgroupcost_unique_object"),
        ]

    def __str__(self) -> str:
        return f"{self.dimension} {self.object_id} at {self.computed_at}"


# Budgets live in their own package; imported here so Django registers their models.
from apps.costs.budgets.models import AlertDelivery, Budget, BudgetAlert  # noqa: E402, F401

# Scheduled cost reports live in their own package; imported here so Django registers their models.
from apps.costs.reports.models import CostReport, CostReportSchedule  # noqa: E402, F401
