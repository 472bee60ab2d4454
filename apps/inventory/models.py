"""Clusters (business lines), service pools, hosts, and the physical machine inventory."""

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone

from apps.core.models import BaseModel
from apps.inventory.choices import DriftState, FailureReason, HostStatus, MachineState

HOURS_PER_MONTH = Decimal("730")


class Cluster(BaseModel):
    """A business line. Members have a role on it; it owns service pools."""

    name = models.SlugField(max_length=64, unique=True)
    description = models.CharField(max_length=500, blank=True)

    cluster_path = "pk"

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name


class ServicePool(BaseModel):
    """A set of interchangeable hosts, sized between min_size and max_size.

    ``desired_size`` changes only through scale requests; the reconciler makes
    the real hosts follow it. The ordered templates are the placement policy.
    """

    cluster = models.ForeignKey(Cluster, on_delete=models.PROTECT, related_name="pools")
    name = models.SlugField(max_length=64)
    description = models.CharField(max_length=500, blank=True)
    min_size = models.PositiveIntegerField(default=0)
    max_size = models.PositiveIntegerField(default=10)
    desired_size = models.PositiveIntegerField(default=0)
    below_desired_since = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Since when fewer hosts than desired_size are ready; empty while enough are.",
    )
    drift_check_interval = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(8760)],
        help_text="Hours between scheduled drift checks of the pool's ready hosts; empty: none (the default).",
    )
    templates = models.ManyToManyField(
        "providers.MachineTemplate", through="PoolTemplate", related_name="pools", blank=True
    )

    cluster_path = "cluster"
    pool_path = "pk"

    class Meta:
        ordering = ("cluster__name", "name")
        constraints = [
            models.UniqueConstraint(fields=("cluster", "name"), name="pool_unique_name_per_cluster"),
            models.CheckConstraint(condition=Q(min_size__lte=models.F("max_size")), name="pool_min_le_max"),
            models.CheckConstraint(
                condition=Q(desired_size__gte=models.F("min_size")) & Q(desired_size__lte=models.F("max_size")),
                name="pool_desired_within_bounds",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.cluster}/{self.name}"

    def note_ready(self, ready: int) -> None:
        """Record whether the pool, now with this many ready hosts, is below its desired size (and since when).

        Called under the pool's row lock wherever desired_size or the ready hosts change (a scale request, a
        reconciler pass), so /metrics can tell how long a pool has been short, whatever restarted meanwhile.
        """
        short = ready < self.desired_size
        if short == (self.below_desired_since is not None):
            return
        self.below_desired_since = timezone.now() if short else None
        self.save(update_fields=["below_desired_since"])

    def ordered_templates(self, only: tuple[str, ...] = ()):
        """The pool's templates in priority order; with ``only``, just those fields of each template (and
        ``provider__...`` of its account), so a page reading names does not decrypt the account's secrets."""
        links = self.template_links.select_related("template__provider")
        if only:
            links = links.only("pool", "template", *(f"template__{name}" for name in only))
        return [link.template for link in links]


class PoolTemplate(models.Model):
    """A template's place in a pool's placement order (lower priority value first)."""

    pool = models.ForeignKey(ServicePool, on_delete=models.CASCADE, related_name="template_links")
    template = models.ForeignKey("providers.MachineTemplate", on_delete=models.PROTECT, related_name="pool_links")
    priority = models.PositiveIntegerField()

    class Meta:
        ordering = ("pool", "priority")
        constraints = [
            models.UniqueConstraint(fields=("pool", "template"), name="pooltemplate_unique_template"),
            models.UniqueConstraint(fields=("pool", "priority"), name="pooltemplate_unique_priority"),
        ]

    def __str__(self) -> str:
        return f"{self.pool} #{self.priority}: {self.template}"


class PhysicalMachine(BaseModel):
    """A company-owned machine. The physical driver allocates free ones to pools and frees them again."""

    provider = models.ForeignKey("providers.CloudAccount", on_delete=models.PROTECT, related_name="machines")
    hostname = models.CharField(max_length=253, unique=True)
    ip = models.GenericIPAddressField(unique=True)
    cpu = models.PositiveIntegerField(validators=[MinValueValidator(1)])
    memory_gb = models.DecimalField(max_digits=8, decimal_places=2, validators=[MinValueValidator(Decimal("0.5"))])
    machine_class = models.CharField(max_length=64, db_index=True)
    idc = models.CharField(max_length=64, help_text="Data centre.")
    rack = models.CharField(max_length=64, blank=True)
    monthly_cost = models.DecimalField(
        max_digits=10, decimal_places=2, default=Decimal("0"), validators=[MinValueValidator(Decimal("0"))]
    )
    state = models.CharField(max_length=20, choices=MachineState.CHOICES, default=MachineState.FREE)
    # Set while allocated: the create call's idempotency token and DCP's tags.
    client_token = models.CharField(max_length=64, blank=True, db_index=True)
    tags = models.JSONField(default=dict, blank=True)
    allocated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("hostname",)
        indexes = [models.Index(fields=("provider", "state", "machine_class"), name="machine_alloc_idx")]

    #: The columns a MachineInterval copies: a change to any of them starts a new interval.
    HISTORY_FIELDS = ("provider_id", "hostname", "machine_class", "idc", "state", "monthly_cost", "client_token")

    def __str__(self) -> str:
        return self.hostname

    @classmethod
    def from_db(cls, db, field_names, values):
        """Remember the history columns as loaded, so save() knows whether a new interval starts."""
        machine = super().from_db(db, field_names, values)
        machine._history = machine.history_key()
        return machine

    def history_key(self) -> tuple | None:
        """The values an interval of this machine copies (None when some were not loaded)."""
        loaded = self.__dict__
        if any(name not in loaded for name in self.HISTORY_FIELDS):
            return None
        return tuple(loaded[name] for name in self.HISTORY_FIELDS)

    def save(self, *args, **kwargs):
        """Save, and start a new interval of its history when its state, cost or place changed."""
        from apps.inventory.machines import record_intervals

        with transaction.atomic():
            super().save(*args, **kwargs)
            key = self.history_key()
            if key is not None and key != getattr(self, "_history", None):
                record_intervals([self])
                self._history = key

    def delete(self, *args, **kwargs):
        """Delete, closing its open interval: it leaves the inventory (its history stays)."""
        from apps.inventory.machines import close_intervals

        with transaction.atomic():
            close_intervals([self.pk])
            return super().delete(*args, **kwargs)

    @property
    def hourly_cost(self) -> Decimal:
        """Amortised monthly cost as an hourly rate."""
        return (self.monthly_cost / HOURS_PER_MONTH).quantize(Decimal("0.000001"))


#: What a page of hosts never shows of their account, template and pool, deferred where they are read with
#: their hosts: the account's credentials (decrypted as each row is read) and settings, the template's
#: settings, the pool's description. A page's prices need only the account's kind and region and the
#: template's region and type.
HOST_PAGE_DEFERS = (
    "provider__credentials",
    "provider__options",
    "provider__endpoint_url",
    "template__zones",
    "template__security_groups",
    "template__init_vars",
    "template__image",
    "pool__description",
)


class Host(BaseModel):
    """One machine in one pool, from whichever provider placed it."""

    hostname = models.CharField(max_length=253)
    pool = models.ForeignKey(ServicePool, on_delete=models.PROTECT, related_name="hosts")
    provider = models.ForeignKey("providers.CloudAccount", on_delete=models.PROTECT, related_name="hosts")
    template = models.ForeignKey("providers.MachineTemplate", on_delete=models.PROTECT, related_name="hosts")
    job = models.ForeignKey(
        "provisioning.Job",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="hosts",
        help_text="The job that made this host.",
    )
    removal_job = models.ForeignKey(
        "provisioning.Job",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="removed_hosts",
        help_text="The job that removed this host.",
    )
    status = models.CharField(max_length=20, choices=HostStatus.CHOICES, default=HostStatus.PENDING)
    status_message = models.CharField(max_length=1000, blank=True)
    instance_id = models.CharField(max_length=255, blank=True)
    batch_token = models.CharField(max_length=64, blank=True, db_index=True)
    private_ip = models.GenericIPAddressField(null=True, blank=True)
    public_ip = models.GenericIPAddressField(null=True, blank=True)
    cpu = models.PositiveIntegerField(null=True, blank=True)
    memory_gb = models.DecimalField(max_digits=8, decimal_places=2, null=True, blank=True)
    zone = models.CharField(max_length=64, blank=True)
    hourly_price = models.DecimalField(max_digits=12, decimal_places=6, default=Decimal("0"))
    launched_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When its instance came to exist: the provider's launch time, else when DCP first saw it. "
        "A host costs from here until terminated_at.",
    )
    ready_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    failure_reason = models.CharField(
        max_length=40,
        choices=FailureReason.CHOICES,
        blank=True,
        help_text="Why the host failed, as a short code (capacity, auth, boot_timeout, init_failed, ...).",
    )
    terminated_at = models.DateTimeField(null=True, blank=True)
    drift_state = models.CharField(
        max_length=20,
        choices=DriftState.CHOICES,
        default=DriftState.UNKNOWN,
        help_text="Whether the host was in its base state when last checked or initialized.",
    )
    drift_checked_at = models.DateTimeField(null=True, blank=True)
    drift_summary = models.JSONField(
        default=list, blank=True, help_text="What differed at the last drift check: resource and diff, secrets removed."
    )

    cluster_path = "pool__cluster"
    pool_path = "pool"

    class Meta:
        # By the pool's id, not "pool" (which sorts by cluster and pool name through two joins, so no
        # index can give a page of hosts in order); the indexes below give the lists' pages in this order.
        ordering = ("pool_id", "pk")
        indexes = [
            # With the provider, /metrics counts hosts by pool, status and provider from this index alone, in
            # its order (an index-only scan and no sort); its prefix serves the pool-and-status look-ups.
            models.Index(fields=("pool", "status", "provider"), name="host_pool_status_provider_idx"),
            models.Index(fields=("template", "status"), name="host_template_status_idx"),
            models.Index(fields=("pool", "id"), name="host_pool_order_idx"),
            models.Index(fields=("status", "pool", "id"), name="host_status_order_idx"),
            models.Index(fields=("created_at", "id"), name="host_created_order_idx"),
            # ?ordering=hostname / -hostname: a page of hosts by name read off the index, either direction.
            # The console's search (hostname or instance id containing ?q=) has trigram indexes on PostgreSQL,
            # made in migration host_search_indexes: SQLite (make run's default) has no such index type.
            models.Index(fields=("hostname", "id"), name="host_hostname_order_idx"),
            models.Index(fields=("drift_state", "pool"), name="host_drift_state_idx"),
            # Kept pool and cluster costs (apps.costs.kept) look for hosts changed since they were computed.
            models.Index(fields=("updated_at",), name="host_updated_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=("provider", "instance_id"),
                condition=~Q(instance_id="") & ~Q(status=HostStatus.TERMINATED),
                name="host_unique_live_instance",
            )
        ]

    def __str__(self) -> str:
        return self.hostname


class MachineInterval(models.Model):
    """A stretch of a physical machine's time in the inventory in one state at one monthly cost.

    Written wherever a machine's state or cost changes (apps.inventory.machines), so
    its cost can be split exactly: allocated stretches are their host's cost, free
    and maintenance ones idle cost of the provider account. An allocated stretch
    names the batch (``client_token``): its host is the one of that batch whose
    instance id is the machine's hostname. The machine's own columns are copied,
    so its history outlives the machine's deletion from the inventory.
    """

    machine = models.ForeignKey(
        PhysicalMachine, on_delete=models.SET_NULL, null=True, blank=True, related_name="intervals"
    )
    provider = models.ForeignKey("providers.CloudAccount", on_delete=models.PROTECT, related_name="machine_intervals")
    hostname = models.CharField(max_length=253)
    machine_class = models.CharField(max_length=64)
    idc = models.CharField(max_length=64)
    state = models.CharField(max_length=20, choices=MachineState.CHOICES)
    monthly_cost = models.DecimalField(max_digits=10, decimal_places=2)
    client_token = models.CharField(max_length=64, blank=True)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True, help_text="Empty: the machine is in this state now.")

    class Meta:
        ordering = ("machine_id", "started_at")
        indexes = [models.Index(fields=("provider", "started_at"), name="interval_provider_start_idx")]
        constraints = [
            models.UniqueConstraint(
                fields=("machine",), condition=Q(ended_at__isnull=True), name="interval_one_open_per_machine"
            ),
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(ended_at__gte=models.F("started_at")),
                name="interval_ends_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.hostname} {self.state} from {self.started_at:%Y-%m-%d %H:%M}"
