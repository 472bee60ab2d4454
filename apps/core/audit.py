"""Recording changes in the audit log, with secrets left out of every snapshot."""

from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

from apps.core.context import current_request_id, current_via
from apps.core.crypto import EncryptedJSONField, EncryptedTextField
from apps.core.models import AuditAction, AuditEntry

# Fields that hold secrets or derived secrets, whatever model they are on.
SECRET_FIELD_NAMES = {"password", "key_hash", "credentials"}


def snapshot(instance: models.Model) -> dict[str, Any]:
    """The object's concrete field values as JSON-safe data, without secrets."""
    data: dict[str, Any] = {}
    for field in instance._meta.concrete_fields:
        if isinstance(field, (EncryptedJSONField, EncryptedTextField)) or field.name in SECRET_FIELD_NAMES:
            continue
        data[field.attname] = field.value_from_object(instance)
    for field in instance._meta.many_to_many:
        if instance.pk:
            data[field.name] = list(getattr(instance, field.name).values_list("pk", flat=True))
    encoder = DjangoJSONEncoder()
    return {key: _jsonable(encoder, value) for key, value in data.items()}


def _jsonable(encoder: DjangoJSONEncoder, value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool, list, dict)):
        return value
    return encoder.default(value)


def cluster_of(instance: models.Model):
    """The cluster an object belongs to, if it belongs to one."""
    path = getattr(instance._meta.model, "cluster_path", None)
    if path is None:
        return None
    if path == "pk":
        return instance
    target = instance
    for part in path.split("__"):
        target = getattr(target, part, None)
        if target is None:
            return None
    return target


def record(
    user, action: str, instance: models.Model, before=None, after=None, *, object_id=None, username: str = ""
) -> AuditEntry:
    """Write one audit entry for a change to instance by user (or by whoever claimed to be username)."""
    entry = _entry(user, action, instance, before, after, object_id=object_id, username=username)
    entry.save()
    return entry


def record_created(user, instances: list[models.Model]) -> list[AuditEntry]:
    """Write the create entries of many new objects (an import) in one statement."""
    return AuditEntry.objects.bulk_create(
        [_entry(user, AuditAction.CREATE, instance, None, snapshot(instance)) for instance in instances]
    )


def _entry(
    user, action: str, instance: models.Model, before, after, *, object_id=None, username: str = ""
) -> AuditEntry:
    """An unsaved audit entry for a change to instance by user, in the current request."""
    return AuditEntry(
        user=user if user is not None and user.is_authenticated else None,
        username=username or getattr(user, "username", "") or "system",
        action=action,
        # _meta.model, not type(): the console's request.user is a lazy wrapper whose type is not the model.
        object_type=ContentType.objects.get_for_model(instance._meta.model),
        object_id=str(object_id if object_id is not None else instance.pk),
        object_repr=str(instance)[:200],
        cluster=cluster_of(instance),
        before=before,
        after=after,
        request_id=current_request_id(),
        via=current_via(),
    )
