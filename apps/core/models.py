"""Base model, the audit log of every change made through the API or console, and worker heartbeats."""

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import models

from apps.core.querysets import RestrictedQuerySet


class BaseModel(models.Model):
    """Abstract base: creation/update times and a restricted default manager."""

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = RestrictedQuerySet.as_manager()

    # How this model reaches its cluster, for restrict(); None means global.
    cluster_path: str | None = None

    class Meta:
        abstract = True


class AuditAction:
    """What an audit entry records."""

    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    SCALE = "scale"
    CANCEL = "cancel"
    # Signing in: the attempts themselves, never the password.
    LOGIN = "login"
    LOGIN_FAILED = "login_failed"
    LOCKOUT = "lockout"
    CHOICES = (
        (CREATE, "Create"),
        (UPDATE, "Update"),
        (DELETE, "Delete"),
        (SCALE, "Scale"),
        (CANCEL, "Cancel"),
        (LOGIN, "Sign-in"),
        (LOGIN_FAILED, "Failed sign-in"),
        (LOCKOUT, "Lock-out"),
    )


class AuditEntry(models.Model):
    """One change a person or script made: who, what, when, to which object, before and after.

    Secrets never reach ``before``/``after``: snapshots leave out encrypted fields.
    """

    time = models.DateTimeField(auto_now_add=True, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="audit_entries"
    )
    username = models.CharField(max_length=150, help_text="Kept when the user is deleted.")
    action = models.CharField(max_length=20, choices=AuditAction.CHOICES)
    object_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="audit_entries")
    object_id = models.CharField(max_length=64)
    object_repr = models.CharField(max_length=200)
    cluster = models.ForeignKey(
        "inventory.Cluster", on_delete=models.SET_NULL, null=True, blank=True, related_name="audit_entries"
    )
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    request_id = models.CharField(max_length=36, blank=True)
    via = models.CharField(max_length=20, default="api", help_text="api, console or system")

    objects = RestrictedQuerySet.as_manager()
    cluster_path = "cluster"

    class Meta:
        ordering = ("-time", "-pk")
        verbose_name_plural = "audit entries"
        indexes = [models.Index(fields=("object_type", "object_id"), name="audit_object_idx")]

    def __str__(self) -> str:
        return f"{self.username} {self.action} {self.object_repr}"


class WorkerHeartbeat(models.Model):
    """One running Celery worker and the queues it consumes, as it last said (see apps.core.workers).

    A worker writes its row when it starts consuming and again every few seconds, and deletes it when it
    stops; a row that has not been written for a while is a worker that died without saying so.
    Times are the database's clock, so web and worker hosts need not agree on the time.
    """

    hostname = models.CharField(max_length=255, help_text="The worker's node name, e.g. celery@host.")
    pid = models.PositiveIntegerField(help_text="The worker's main process.")
    queues = models.JSONField(default=list, help_text="Names of the queues it consumes.")
    started_at = models.DateTimeField()
    seen_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ("hostname", "pid")
        constraints = [models.UniqueConstraint(fields=("hostname", "pid"), name="core_workerheartbeat_unique_process")]

    def __str__(self) -> str:
        return f"{self.hostname} ({self.pid})"
