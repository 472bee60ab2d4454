"""SSH key pairs, private registries, recorded host keys and the initialization run of each host."""

from django.db import models
from django.db.models import Q

from apps.configuration.choices import InitStatus
from apps.core.choices import Action
from apps.core.crypto import EncryptedTextField
from apps.core.models import BaseModel
from apps.core.querysets import RestrictedQuerySet
from apps.inventory.models import ServicePool


class SSHKeyQuerySet(RestrictedQuerySet):
    """Keys of provider accounts are global; a pool's key belongs to its cluster."""

    def restrict(self, user, action: str = Action.VIEW):
        """System administrators manage every key; others see account keys and the keys of their clusters' pools."""
        allowed = super().restrict(user, action)
        if action != Action.VIEW or not getattr(user, "is_authenticated", False) or user.is_superuser:
            return allowed
        pools = ServicePool.objects.restrict(user, Action.VIEW).values("pk")
        return allowed.filter(Q(pool__isnull=True) | Q(pool__in=pools))


class SSHKey(BaseModel):
    """The key pair DCP logs in to hosts with: one per provider account, or one per pool that wants its own.

    The private key is encrypted at rest and never served; the public key is
    what the cloud (key pair, image) or the physical machine's authorized_keys
    must carry. A rotated key keeps its previous pair until the next rotation:
    DCP still logs in with it to hosts not yet initialized since, and their next
    initialization replaces it in authorized_keys with the new one.
    """

    account = models.OneToOneField(
        "providers.CloudAccount", on_delete=models.CASCADE, null=True, blank=True, related_name="ssh_key"
    )
    pool = models.OneToOneField(
        "inventory.ServicePool", on_delete=models.CASCADE, null=True, blank=True, related_name="ssh_key"
    )
    public_key = models.TextField()
    private_key = EncryptedTextField()
    fingerprint = models.CharField(max_length=100)
    previous_public_key = models.TextField(blank=True)
    previous_private_key = EncryptedTextField(blank=True)
    rotated_at = models.DateTimeField(null=True, blank=True)

    objects = SSHKeyQuerySet.as_manager()

    class Meta:
        ordering = ("pk",)
        verbose_name = "SSH key"
        constraints = [
            models.CheckConstraint(
                condition=(Q(account__isnull=False) & Q(pool__isnull=True))
                | (Q(account__isnull=True) & Q(pool__isnull=False)),
                name="sshkey_one_owner",
            )
        ]

    def __str__(self) -> str:
        owner = f"account {self.account_id}" if self.account_id else f"pool {self.pool_id}"
        return f"SSH key of {owner} ({self.fingerprint})"


class Registry(BaseModel):
    """The company's private Docker registry: where hosts log in, and its replica (mirror) per IDC."""

    name = models.SlugField(max_length=64, unique=True)
    url = models.CharField(max_length=255, help_text="Registry address hosts log in to, e.g. registry.example.com.")
    mirrors = models.JSONField(default=dict, blank=True, help_text="IDC (zone) → mirror URL of its replica.")
    default_mirror = models.CharField(max_length=255, blank=True, help_text="Mirror for IDCs without their own.")
    insecure = models.BooleanField(default=False, help_text="Reach the registry and mirrors over plain HTTP.")
    username = models.CharField(max_length=150, blank=True)
    password = EncryptedTextField(blank=True)

    class Meta:
        ordering = ("name",)
        verbose_name_plural = "registries"

    def __str__(self) -> str:
        return self.name


class KnownHost(models.Model):
    """A host's SSH host keys, recorded at first contact and required to match on every contact after."""

    host = models.OneToOneField("inventory.Host", on_delete=models.CASCADE, related_name="known_host")
    address = models.GenericIPAddressField()
    keys = models.TextField(help_text="known_hosts lines, as ssh recorded them.")
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("host",)

    def __str__(self) -> str:
        return f"host keys of {self.host_id} at {self.address}"


class InitRun(BaseModel):
    """One initialization of one host (Ansible or Puppet): its outcome, counts, duration and output."""

    host = models.ForeignKey("inventory.Host", on_delete=models.CASCADE, related_name="init_runs")
    job = models.ForeignKey(
        "provisioning.Job", on_delete=models.SET_NULL, null=True, blank=True, related_name="init_runs"
    )
    method = models.CharField(max_length=20)
    status = models.CharField(max_length=20, choices=InitStatus.CHOICES, default=InitStatus.RUNNING)
    attempt = models.PositiveIntegerField(default=1, help_text="1 for the first run on this host, then 2, ...")
    rerun = models.BooleanField(default=False, help_text="Asked for by a person or script, not by the engine.")
    drift_check = models.BooleanField(default=False, help_text="A drift check: a check-mode run that changes nothing.")
    changes = models.JSONField(
        default=list, blank=True, help_text="A drift check's differences: resource and diff, secrets removed."
    )
    ok_tasks = models.PositiveIntegerField(default=0)
    changed_tasks = models.PositiveIntegerField(default=0)
    failed_tasks = models.PositiveIntegerField(default=0)
    message = models.CharField(max_length=2000, blank=True, help_text="Why it failed, or a one-line summary.")
    output = models.TextField(blank=True, help_text="The run's log for this host, secrets removed.")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)

    cluster_path = "host__pool__cluster"
    pool_path = "host__pool"

    class Meta:
        ordering = ("-started_at", "-pk")
        indexes = [
            models.Index(fields=("host", "status"), name="initrun_host_status_idx"),
            # Lists come newest first: a page is read off this index backwards.
            models.Index(fields=("started_at", "id"), name="initrun_started_order_idx"),
        ]

    def __str__(self) -> str:
        return f"init run {self.pk} of host {self.host_id}: {self.status}"
