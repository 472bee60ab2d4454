"""Users, their roles on clusters, and API tokens (stored hashed)."""

import hashlib
import secrets

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.utils import timezone

from apps.core.choices import Action, Role
from apps.core.models import BaseModel
from apps.core.querysets import RestrictedQuerySet


class UserQuerySet(RestrictedQuerySet):
    """Users: system administrators see everyone, others see themselves."""

    def restrict(self, user, action: str = Action.VIEW):
        """System administrators manage users; everyone else sees only their own account."""
        if user is None or not user.is_authenticated or not user.is_active:
            return self.none()
        if user.is_superuser:
            return self
        return self.filter(pk=user.pk) if action == Action.VIEW else self.none()


class DCPUserManager(UserManager.from_queryset(UserQuerySet)):
    """User manager with restrict()."""


class User(AbstractUser):
    """A person or script account. ``is_superuser`` marks a system administrator."""

    objects = DCPUserManager()

    class Meta:
        ordering = ("username",)

    @property
    def is_system_admin(self) -> bool:
        """System administrators manage provider accounts, templates, machines and users."""
        return self.is_active and self.is_superuser


class Membership(BaseModel):
    """A user's role on one cluster."""

    cluster = models.ForeignKey("inventory.Cluster", on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.CHOICES, default=Role.GUEST)

    cluster_path = "cluster"

    class Meta:
        ordering = ("cluster", "user__username")
        constraints = [models.UniqueConstraint(fields=("cluster", "user"), name="membership_unique_user")]

    def __str__(self) -> str:
        return f"{self.user} is {self.role} of {self.cluster}"


def hash_key(key: str) -> str:
    """The stored form of a token key."""
    return hashlib.sha256(key.encode()).hexdigest()


class Token(BaseModel):
    """An API token. Only a hash of the key is stored; the key is shown once, at creation."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tokens")
    key_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=8, help_text="First characters of the key, to tell tokens apart.")
    description = models.CharField(max_length=200, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return f"token {self.prefix}… of {self.user}"

    @classmethod
    def issue(cls, user, description: str = "", expires_at=None) -> tuple["Token", str]:
        """Create a token for user; returns it and the plaintext key (not stored)."""
        key = secrets.token_hex(20)
        token = cls.objects.create(
            user=user, key_hash=hash_key(key), prefix=key[:8], description=description, expires_at=expires_at
        )
        return token, key

    @property
    def expired(self) -> bool:
        """Whether the token's expiry has passed."""
        return self.expires_at is not None and self.expires_at <= timezone.now()
