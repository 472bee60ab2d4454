"""Provider accounts (credentials encrypted at rest) and machine templates."""

from decimal import Decimal

from django.core.validators import MinValueValidator
from django.db import models

from apps.core.crypto import EncryptedJSONField
from apps.core.models import BaseModel
from apps.providers.choices import InitMethod, ProviderKind


class CloudAccount(BaseModel):
    """An account on one provider in one region. Credentials are write-only and encrypted."""

    name = models.SlugField(max_length=64, unique=True)
    kind = models.CharField(max_length=20, choices=ProviderKind.CHOICES)
    region = models.CharField(max_length=64, blank=True)
    endpoint_url = models.URLField(max_length=500, blank=True, help_text="A private endpoint or an emulator.")
    credentials = EncryptedJSONField(blank=True, default=dict)
    options = models.JSONField(default=dict, blank=True)
    max_hosts = models.PositiveIntegerField(
        null=True, blank=True, help_text="Quota: live hosts on this account at most, over all its templates."
    )

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name


class MachineTemplate(BaseModel):
    """Where and what to create: account, zone, instance type (or machine class), image, init profile."""

    name = models.SlugField(max_length=64, unique=True)
    provider = models.ForeignKey(CloudAccount, on_delete=models.PROTECT, related_name="templates")
    region = models.CharField(max_length=64, blank=True)
    zone = models.CharField(max_length=64, blank=True)
    zones = models.JSONField(
        default=list,
        blank=True,
        help_text='Zones to spread hosts over, evenly: names, or {"zone", "subnet"} where the subnet '
        "(VPC subnet, vSwitch) belongs to one zone. Empty: only zone (if any).",
    )
    instance_type = models.CharField(max_length=64, help_text="Instance type, flavor, or physical machine class.")
    image = models.CharField(max_length=255, blank=True)
    cpu = models.PositiveIntegerField(null=True, blank=True, help_text="Minimum cores a host must have.")
    memory_gb = models.DecimalField(
        max_digits=8,
        decimal_places=2,
        null=True,
        blank=True,
        validators=[MinValueValidator(Decimal("0"))],
        help_text="Minimum memory a host must have.",
    )
    network = models.CharField(max_length=255, blank=True)
    subnet = models.CharField(max_length=255, blank=True)
    security_groups = models.JSONField(default=list, blank=True)
    key_name = models.CharField(max_length=255, blank=True)
    init_method = models.CharField(max_length=20, choices=InitMethod.CHOICES, default=InitMethod.NONE)
    init_profile = models.CharField(
        max_length=100, blank=True, help_text="Profile roles added after the base state, comma-separated."
    )
    init_vars = models.JSONField(
        default=dict, blank=True, help_text="Variables of the init roles (dcp_*), checked against their specs."
    )
    registry = models.ForeignKey(
        "configuration.Registry",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="templates",
        help_text="Private registry the hosts log in to and pull through.",
    )
    max_hosts = models.PositiveIntegerField(null=True, blank=True, help_text="Quota: live hosts at most.")
    hourly_price = models.DecimalField(
        max_digits=12, decimal_places=6, null=True, blank=True, validators=[MinValueValidator(Decimal("0"))]
    )

    class Meta:
        ordering = ("name",)

    def __str__(self) -> str:
        return self.name

    def zone_choices(self) -> list[str]:
        """The zones hosts of this template may go to ("" when the provider picks)."""
        names = [item["zone"] if isinstance(item, dict) else item for item in self.zones or []]
        return names or [self.zone]

    def subnet_for(self, zone: str) -> str:
        """The subnet hosts in zone are created on: the zone's own, else the template's."""
        for item in self.zones or []:
            if isinstance(item, dict) and item.get("zone") == zone and item.get("subnet"):
                return item["subnet"]
        return self.subnet
