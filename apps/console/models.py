"""What the console remembers per user: the columns chosen for each table, the language."""

from django.conf import settings
from django.db import models


class Preference(models.Model):
    """One remembered choice of one user, by name: ``table:<table>`` holds a column list, ``language`` a code."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="console_preferences")
    name = models.CharField(max_length=100)
    value = models.JSONField()

    class Meta:
        ordering = ("user", "name")
        constraints = [models.UniqueConstraint(fields=("user", "name"), name="console_preference_unique_name")]

    def __str__(self) -> str:
        return f"{self.user_id}:{self.name}"


def _remembered(user) -> dict:
    """Every remembered value of the user, read once per request (a pool page draws six tables)."""
    found = getattr(user, "_console_preferences", None)
    if found is None:
        found = dict(Preference.objects.filter(user=user).order_by().values_list("name", "value"))
        user._console_preferences = found
    return found


def preference(user, name: str, default=None):
    """The user's remembered value of name, or default (also for anonymous users)."""
    if not user.is_authenticated:
        return default
    value = _remembered(user).get(name)
    return default if value is None else value


def remember(user, name: str, value) -> None:
    """Remember value under name for user (replacing the previous one)."""
    Preference.objects.update_or_create(user=user, name=name, defaults={"value": value})
    _remembered(user)[name] = value


def forget(user, name: str) -> None:
    """Drop the user's value of name: the default applies again."""
    Preference.objects.filter(user=user, name=name).delete()
    _remembered(user).pop(name, None)
