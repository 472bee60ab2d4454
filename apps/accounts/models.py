"""Users, their roles on clusters, and API tokens (stored hashed)."""

import hashlib
import secrets

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.utils import timezone

from apps.core.choices import Action, ChoiceSet, Role
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


class LockoutScope(ChoiceSet):
    """What a lock-out counts sign-in attempts against."""

    ADDRESS = "address"
    USERNAME = "username"
    CHOICES = ((ADDRESS, "Client address"), (USERNAME, "Username"))


class LockoutQuerySet(RestrictedQuerySet):
    """Lock-outs say who is being attacked and from where: system administrators only."""

    def restrict(self, user, action: str = Action.VIEW):
        """Everything for a system administrator, nothing for anyone else."""
        if user is None or not user.is_authenticated or not user.is_active or not user.is_superuser:
            return self.none()
        return self


class Lockout(models.Model):
    """Sign-in attempts counted against one client address or one username, and the lock-out they earned.

    A row counts the attempts of the current window; once they reach the
    limit, ``locked_until`` refuses more until it passes (or a system
    administrator deletes the row). Usernames are counted whether or not such
    a user exists, so a lock-out tells nobody which users exist.
    """

    scope = models.CharField(max_length=10, choices=LockoutScope.CHOICES)
    key = models.CharField(max_length=150, help_text="The client address, or the username as it was typed.")
    attempts = models.PositiveIntegerField(default=0, help_text="Attempts in the current window.")
    window_start = models.DateTimeField(db_index=True)
    locked_until = models.DateTimeField(null=True, blank=True)
    last_address = models.CharField(max_length=64, blank=True, help_text="Where the latest attempt came from.")
    updated_at = models.DateTimeField(auto_now=True)

    objects = LockoutQuerySet.as_manager()

    class Meta:
        ordering = ("scope", "key")
        constraints = [models.UniqueConstraint(fields=("scope", "key"), name="lockout_unique_scope_key")]

    def __str__(self) -> str:
        return f"{self.scope} {self.key}"

    def locked(self, now) -> bool:
        """Whether sign-ins are refused at this moment."""
        return self.locked_until is not None and self.locked_until > now
