"""Serializer base classes: JSON bodies of the documented types, related fields limited to what the user may see."""

from rest_framework import serializers
from rest_framework.relations import ManyRelatedField, PrimaryKeyRelatedField

from apps.core.api.types import StrictTypesMixin
from apps.core.choices import Action


class StrictSerializer(StrictTypesMixin, serializers.Serializer):
    """A plain serializer whose JSON input must carry each field's documented type."""


class RestrictedModelSerializer(StrictTypesMixin, serializers.ModelSerializer):
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
