"""Users, their roles on clusters, and API tokens (stored hashed)."""

import hashlib
import secrets

from django.conf import settings
from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.utils import timezone
from django.utils.crypto import salted_hmac

from apps.accounts.choices import TokenOrigin
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


# Django's own salt, so that a user whose session_version never moved keeps the sessions Django made.
SESSION_HASH_SALT = "django.contrib.auth.models.AbstractBaseUser.get_session_auth_hash"


class User(AbstractUser):
    """A person or script account. ``is_superuser`` marks a system administrator.

    Saving a new password, or deactivating the user, revokes every API token of
    the user; a deactivation also ends every console session (``session_version``),
    so that reactivating the account brings back neither. This lives in save()
    rather than in one service so that no path escapes it: the API, the console,
    ``manage.py changepassword`` and the shell all save users.
    """

    session_version = models.PositiveIntegerField(
        default=0, help_text="Raised to end every console session of the user (on deactivation)."
    )

    objects = DCPUserManager()

    class Meta:
        ordering = ("username",)

    @property
    def is_system_admin(self) -> bool:
        """System administrators manage provider accounts, templates, machines and users."""
        return self.is_active and self.is_superuser

    def save(self, *args, **kwargs):
        """Save; a new password or a deactivation revokes the user's tokens (and a deactivation their sessions)."""
        update_fields = kwargs.get("update_fields")
        password_changed = self._password_changed(update_fields)
        deactivated = self._being_deactivated(update_fields)
        if deactivated:
            self.session_version += 1
            if update_fields is not None:
                kwargs["update_fields"] = {*update_fields, "session_version"}
        super().save(*args, **kwargs)
        if password_changed or deactivated:
            Token.objects.filter(user=self).delete()

    def _password_changed(self, update_fields) -> bool:
        # Django keeps the raw password in _password from set_password() until the next save, and
        # clears it before saving a re-hash made at login (a new hasher), which is no change at all.
        return self._password is not None and (update_fields is None or "password" in update_fields)

    def _being_deactivated(self, update_fields) -> bool:
        if self.is_active or self.pk is None or (update_fields is not None and "is_active" not in update_fields):
            return False
        return User.objects.filter(pk=self.pk, is_active=True).exists()

    def get_session_auth_hash(self) -> str:
        """What a session must hold to stay valid: it changes with the password and with session_version."""
        return self._session_hash(None)

    def get_session_auth_fallback_hash(self):
        """The same hash under each of SECRET_KEY_FALLBACKS, so rotating SECRET_KEY keeps sessions."""
        for secret in settings.SECRET_KEY_FALLBACKS:
            yield self._session_hash(secret)

    def _session_hash(self, secret) -> str:
        value = self.password if not self.session_version else f"{self.password}:{self.session_version}"
        return salted_hmac(SESSION_HASH_SALT, value, secret=secret, algorithm="sha256").hexdigest()


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


class PoolAdmin(BaseModel):
    """A pool administrator: a member of the pool's cluster who may scale that one pool, order its templates,
    manage its scaling schedules and policies and re-run its initialization, whatever their cluster role.

    It gives nothing on the rest of the cluster (its other pools, members, budgets, settings). It holds only
    while the user is a member of the cluster: removing the membership removes what it gives.
    Cluster admins appoint and remove pool administrators.
    """

    pool = models.ForeignKey("inventory.ServicePool", on_delete=models.CASCADE, related_name="admins")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="pool_admins")

    cluster_path = "pool__cluster"
    pool_path = "pool"

    class Meta:
        ordering = ("pool", "user__username", "pk")
        constraints = [models.UniqueConstraint(fields=("pool", "user"), name="pooladmin_unique_user")]

    def __str__(self) -> str:
        return f"{self.user} administers pool {self.pool}"

    @classmethod
    def pools_of(cls, user) -> list[int]:
        """Ids of the pools the user administers, in clusters they are still a member of."""
        return list(cls.of(user).values_list("pool_id", flat=True))

    @classmethod
    def of(cls, user):
        """The user's appointments that count: to pools of clusters they are still a member of."""
        return cls.objects.filter(user=user, pool__cluster__memberships__user=user)


def hash_key(key: str) -> str:
    """The stored form of a token key."""
    return hashlib.sha256(key.encode()).hexdigest()


class TokenQuerySet(RestrictedQuerySet):
    """Tokens: everyone sees and revokes their own; system administrators everyone's."""

    def restrict(self, user, action: str = Action.VIEW):
        """A user's own tokens, or all of them for a system administrator; nothing for anyone else."""
        if user is None or not user.is_authenticated or not user.is_active:
            return self.none()
        return self if user.is_superuser else self.filter(user=user)


class Token(BaseModel):
    """An API token. Only a hash of the key is stored; the key is shown once, at creation.

    A token is revoked by deleting it: the next request that carries it is refused.
    Tokens are made through apps.accounts.services, which applies the expiry policy.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="tokens")
    key_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=8, help_text="First characters of the key, to tell tokens apart.")
    name = models.CharField(max_length=100, help_text="What the token is for, e.g. the script that uses it.")
    description = models.CharField(max_length=200, blank=True)
    origin = models.CharField(max_length=20, choices=TokenOrigin.CHOICES, default=TokenOrigin.COMMAND)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    objects = TokenQuerySet.as_manager()

    class Meta:
        ordering = ("-created_at", "-pk")
        indexes = [models.Index(fields=("user", "origin"), name="token_user_origin_idx")]

    def __str__(self) -> str:
        return f"token {self.name or self.prefix} ({self.prefix}…) of {self.user}"

    @classmethod
    def issue(
        cls, user, name: str = "", *, origin: str = TokenOrigin.COMMAND, description: str = "", expires_at=None
    ) -> tuple["Token", str]:
        """Create a token for user as given (no policy: see services.issue_token); returns it and the key."""
        key = secrets.token_hex(20)
        token = cls.objects.create(
            user=user,
            key_hash=hash_key(key),
            prefix=key[:8],
            name=name,
            origin=origin,
            description=description,
            expires_at=expires_at,
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
