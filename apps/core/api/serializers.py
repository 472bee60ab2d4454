"""Serializer base classes: bodies with only known fields of their documented JSON types, related fields
limited to what the user may see.

Every serializer that reads a request body derives from ``Serializer`` or
``RestrictedModelSerializer``, so every write refuses a field name it does not
know (``{"dryrun": true}`` for ``dry_run`` is a 400 naming ``dryrun``, not a
request carried out without it). Read-only fields are known fields: a client
that PUTs back the object it GOT, ``id`` and timestamps included, keeps
working, and those values are ignored as they always were. JSON input must carry each
field's documented type (apps.core.api.types).
"""

from collections.abc import Mapping

from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.relations import ManyRelatedField, PrimaryKeyRelatedField

from apps.core.api.types import StrictTypesMixin
from apps.core.choices import Action

#: How much of an unknown field's name an error repeats (the key and the message).
SHOWN_NAME_CHARS = 100


def _shown(name) -> str:
    """A field name as an error shows it, cut to a readable length."""
    text = str(name)
    return text if len(text) <= SHOWN_NAME_CHARS else text[:SHOWN_NAME_CHARS] + "…"


class StrictFieldsMixin:
    """Refuse body fields the serializer does not have, naming each; read-only fields are accepted and ignored."""

    def unknown_field_errors(self, data) -> dict:
        """{name: [message]} for every key of data that is none of this serializer's fields."""
        if not isinstance(data, Mapping):
            return {}
        unknown = [name for name in data if name not in self.fields]
        if not unknown:
            return {}
        writable = sorted(name for name, field in self.fields.items() if not field.read_only)
        takes = ", ".join(writable) if writable else "no fields"
        return {
            _shown(name): [f"Unknown field {_shown(name)!r}: remove it or correct its name; this takes {takes}."]
            for name in unknown
        }

    def to_internal_value(self, data):
        """The fields' own checks, with unknown fields reported beside their errors."""
        unknown = self.unknown_field_errors(data)
        try:
            value = super().to_internal_value(data)
        except ValidationError as exc:
            if unknown and isinstance(exc.detail, dict):
                raise ValidationError({**exc.detail, **unknown}) from None
            raise
        if unknown:
            raise ValidationError(unknown)
        return value


class Serializer(StrictFieldsMixin, StrictTypesMixin, serializers.Serializer):
    """A plain serializer for a request body (a scale request, a re-run, a token request)."""


class NoBodySerializer(Serializer):
    """The body of an action that takes none (cancel a job, rotate a token): any field in it is unknown."""


def refuse_body(data) -> None:
    """A 400 naming each field of a body sent to an action that takes none, before the action does anything.

    Such a body was silently ignored: ``{"reason": "..."}`` sent with a cancel was never recorded anywhere.
    An empty body, or none, is what these actions take.
    """
    if data:
        NoBodySerializer(data=data).is_valid(raise_exception=True)


class RestrictedModelSerializer(StrictFieldsMixin, StrictTypesMixin, serializers.ModelSerializer):
    """A model serializer whose primary-key related fields accept only objects the user may view.

    An id the user may not see is answered exactly like one that does not
    exist, so the API never confirms that another cluster's objects exist.
    Its JSON input must carry each field's documented type.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        request = self.context.get("request")
        if request is None:
            return
        for field in self.fields.values():
            relation = field.child_relation if isinstance(field, ManyRelatedField) else field
            if isinstance(relation, PrimaryKeyRelatedField) and relation.queryset is not None:
                queryset = relation.queryset
                if hasattr(queryset, "restrict"):
                    relation.queryset = queryset.restrict(request.user, Action.VIEW)
