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
from operator import attrgetter

from django.core.exceptions import FieldDoesNotExist
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.fields import SkipField
from rest_framework.relations import ManyRelatedField, PKOnlyObject, PrimaryKeyRelatedField

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


#: How a planned field is read: its value directly (a method field's method, a foreign key's id); an
#: attribute path, then the field's own to_representation; or DRF's generic steps.
_DIRECT, _PATH, _GENERIC = range(3)


class QuickRepresentationMixin:
    """DRF's ``to_representation``, with each field's way to its value worked out once per serializer.

    DRF walks every field of every row through generic steps: a dotted source read attribute by attribute
    with a check for callables and mappings at each, a stand-in object for a related id, the current time
    zone looked up again for every date. On a page of 50 hosts of 25 fields that cost more than the page's
    SQL. The plan reads the same values directly where the model says what they are: a method field calls
    its method; a foreign key answers its ``<name>_id``; a path of model fields (through non-null foreign
    keys, so no link can be missing) is read with one ``attrgetter`` and shown by the field's own
    ``to_representation``, dates in the time zone current when the plan was made (a serializer lives for one
    request). Every other field takes DRF's steps. tests/core/test_quick_representation.py compares the
    answers with DRF's for every serializer that uses this.
    """

    def to_representation(self, instance):
        """The same dict as DRF's Serializer.to_representation."""
        model = self.Meta.model
        if not isinstance(instance, model):
            return super().to_representation(instance)  # a dict, say: the plan reads model instances only
        plan = self.__dict__.get("_quick_plan")
        if plan is None:
            plan = [(field.field_name, *_plan(model, self, field)) for field in self._readable_fields]
            self._quick_plan = plan
        answer = {}
        for name, how, read, field in plan:
            if how == _DIRECT:
                answer[name] = read(instance)
            elif how == _PATH:
                value = read(instance)
                answer[name] = None if value is None else field.to_representation(value)
            else:
                try:
                    attribute = field.get_attribute(instance)
                except SkipField:
                    continue
                check_for_none = attribute.pk if isinstance(attribute, PKOnlyObject) else attribute
                answer[name] = None if check_for_none is None else field.to_representation(attribute)
        return answer


def _model_path(model, attrs: list[str]) -> bool:
    """Whether attrs name a concrete field of model, through non-null forward foreign keys."""
    for position, attr in enumerate(attrs):
        try:
            found = model._meta.get_field(attr)
        except (FieldDoesNotExist, AttributeError):
            # get_field also knows a foreign key's attname ("pool_id"); anything else (a property) is not planned.
            return False
        if not getattr(found, "concrete", False) or found.many_to_many:
            return False
        last = position == len(attrs) - 1
        if found.is_relation and last:
            return attr == found.attname != found.name  # its id column ("cluster_id"), not the related object
        if found.is_relation:
            if found.null or attr != found.name:
                return False  # a link that may be missing: DRF leaves the field out
            model = found.related_model
        elif not last:
            return False
    return True


def _plan(model, serializer, field) -> tuple:
    """(how, reader, field) for one readable field of a serializer of model; see QuickRepresentationMixin."""
    if isinstance(field, serializers.SerializerMethodField):
        return _DIRECT, getattr(serializer, field.method_name), field
    attrs = getattr(field, "source_attrs", None)
    if not attrs or attrs == ["*"]:
        return _GENERIC, None, field
    if isinstance(field, PrimaryKeyRelatedField) and field.pk_field is None and len(attrs) == 1:
        try:
            found = model._meta.get_field(attrs[0])
        except FieldDoesNotExist:
            return _GENERIC, None, field
        if found.many_to_one and found.concrete and attrs[0] == found.name:
            return _DIRECT, attrgetter(found.attname), field
        return _GENERIC, None, field
    if isinstance(field, serializers.RelatedField | serializers.Serializer | serializers.ListSerializer):
        return _GENERIC, None, field
    if not _model_path(model, attrs):
        return _GENERIC, None, field
    if isinstance(field, serializers.DateTimeField) and not hasattr(field, "timezone"):
        field.timezone = field.default_timezone()
    return _PATH, attrgetter(".".join(attrs)), field


class RestrictedModelSerializer(
    QuickRepresentationMixin, StrictFieldsMixin, StrictTypesMixin, serializers.ModelSerializer
):
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
