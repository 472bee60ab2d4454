"""Scale jobs, their event log, and the orphan instances the sweep finds."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from apps.core.choices import Action
from apps.core.models import BaseModel
from apps.core.querysets import RestrictedQuerySet
from apps.provisioning.choices import EventKind, JobKind, JobStatus, OrphanState


class JobQuerySet(RestrictedQuerySet):
    """Jobs that can come with their progress counts: ``with_progress()`` counts them once the rows are fetched,
    for those rows alone, as ``prefetch_related()`` fetches relatives (apps.provisioning.api.count_progress)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._with_progress = False

    def with_progress(self) -> "JobQuerySet":
        """The same jobs, each fetched with n_ready, n_failed, ... (see count_progress())."""
        clone = self._chain()
        clone._with_progress = True
        return clone

    def _clone(self):
        clone = super()._clone()
        clone._with_progress = self._with_progress
        return clone

    def _fetch_all(self):
        fetching = self._result_cache is None
        super()._fetch_all()
        if fetching and self._with_progress and self._iterable_class is models.query.ModelIterable:
            from apps.provisioning.api import count_progress

            count_progress(self._result_cache)


class Job(BaseModel):
    """One scale request on one pool, with its outcome and event log.

    ``delta`` is what was asked; ``desired_before``/``desired_after`` are the
    pool's desired size around the request; ``plan`` is the placement decided.
    """

    pool = models.ForeignKey("inventory.ServicePool", on_delete=models.CASCADE, related_name="jobs")
    kind = models.CharField(max_length=20, choices=JobKind.CHOICES)
    status = models.CharField(max_length=20, choices=JobStatus.CHOICES, default=JobStatus.PENDING)
    delta = models.IntegerField()
    desired_before = models.PositiveIntegerField()
    desired_after = models.PositiveIntegerField()
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="jobs"
    )
    idempotency_key = models.CharField(max_length=255, blank=True)
    request_fingerprint = models.CharField(max_length=64, blank=True)
    plan = models.JSONField(default=list, blank=True)
    trigger = models.CharField(
        max_length=200,
        blank=True,
        help_text="What asked for the job when no person did: a scaling schedule's occurrence or a policy's alert.",
    )
    message = models.CharField(max_length=2000, blank=True, help_text="Why the job ended as it did.")
    gave_up = models.BooleanField(
        default=False,
        help_text="No more hosts will be made for this job (fatal provider error, no capacity, retries spent).",
    )
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    cluster_path = "pool__cluster"
    pool_path = "pool"

    objects = JobQuerySet.as_manager()

    class Meta:
        ordering = ("-created_at", "-pk")
        indexes = [
            models.Index(fields=("pool", "status"), name="job_pool_status_idx"),
            # Lists come newest first: a page is read off one of these backwards, whole or of one pool or status
            # (a busy pool's jobs, or the few running among years of finished ones, without sorting them all).
            models.Index(fields=("created_at", "id"), name="job_created_order_idx"),
            models.Index(fields=("pool", "created_at", "id"), name="job_pool_created_order_idx"),
            models.Index(fields=("status", "created_at", "id"), name="job_status_created_order_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=("requested_by", "idempotency_key"),
                condition=~Q(idempotency_key=""),
                name="job_unique_idempotency_key",
            )
        ]

    def __str__(self) -> str:
        return f"job {self.pk} {self.kind} {self.delta:+d} on {self.pool_id}"

    @property
    def size(self) -> int:
        """How many hosts the job adds or removes."""
        return abs(self.delta)


class JobEvent(models.Model):
    """One step in a job's timeline, for the job or one of its hosts."""

    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="events")
    host = models.ForeignKey("inventory.Host", on_delete=models.SET_NULL, null=True, blank=True, related_name="events")
    time = models.DateTimeField(auto_now_add=True)
    kind = models.CharField(max_length=20, choices=EventKind.CHOICES)
    message = models.CharField(max_length=2000, blank=True)

    class Meta:
        ordering = ("time", "pk")

    def __str__(self) -> str:
        return f"{self.time:%H:%M:%S} {self.kind} {self.message}"


class OrphanQuerySet(RestrictedQuerySet):
    """Orphans belong to provider accounts, which system administrators manage: nobody else sees them."""

    def restrict(self, user, action: str = Action.VIEW) -> "OrphanQuerySet":
        """Everything for an active system administrator, nothing for anyone else."""
        if user is None or not user.is_authenticated or not user.is_active or not user.is_superuser:
            return self.none()
        return self


class OrphanInstance(BaseModel):
    """An instance carrying DCP's tags that no host claims, found by the periodic sweep.

    Either nothing in the database ever claimed it (made behind DCP's back, or
    left over from a create whose hosts were removed meanwhile), or its host is
    terminated while the instance still lives (a terminate that was lost).
    The sweep reports it, destroys it when the account's ``terminate_orphans``
    option says so, and marks it ``gone`` when it disappears on its own.
    Provider accounts are global, so only system administrators see these.
    """

    provider = models.ForeignKey("providers.CloudAccount", on_delete=models.CASCADE, related_name="orphans")
    instance_id = models.CharField(max_length=255)
    name = models.CharField(max_length=255, blank=True)
    state = models.CharField(max_length=20, choices=OrphanState.CHOICES, default=OrphanState.REPORTED)
    reason = models.CharField(max_length=500, blank=True, help_text="Why no host claims the instance.")
    host = models.ForeignKey(
        "inventory.Host",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="orphans",
        help_text="The terminated host whose instance this was, if any.",
    )
    tags = models.JSONField(default=dict, blank=True)
    first_seen = models.DateTimeField(help_text="When a sweep first found it an orphan (this time round).")
    last_seen = models.DateTimeField(help_text="When a sweep last found it an orphan.")
    terminated_at = models.DateTimeField(null=True, blank=True)

    objects = OrphanQuerySet.as_manager()

    class Meta:
        ordering = ("-last_seen", "-pk")
        indexes = [models.Index(fields=("provider", "state"), name="orphan_provider_state_idx")]
        constraints = [models.UniqueConstraint(fields=("provider", "instance_id"), name="orphan_unique_instance")]

    def __str__(self) -> str:
        return f"orphan {self.instance_id} on {self.provider_id} ({self.state})"
