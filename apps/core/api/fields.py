"""Serializer fields and validators whose OpenAPI description and server behaviour are the same thing."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import RegexValidator
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers


@extend_schema_field({"type": "object", "additionalProperties": True})
class ObjectField(serializers.JSONField):
    """A JSON object whose values may be of any JSON type (what each key holds is up to its reader)."""

    default_error_messages = {"not_object": "Give a JSON object, e.g. {{}}."}

    def to_internal_value(self, data):
        """Only an object."""
        if not isinstance(data, dict):
            self.fail("not_object")
        return super().to_internal_value(data)


@extend_schema_field({"type": "object", "additionalProperties": {"type": "string"}})
class StringMapField(ObjectField):
    """A JSON object of string values, such as an instance's tags."""

    default_error_messages = {"not_object": 'Give a JSON object of strings, e.g. {{"team": "web"}}.'}

    def to_internal_value(self, data):
        """Only an object of strings."""
        if isinstance(data, dict) and not all(isinstance(value, str) for value in data.values()):
            self.fail("not_object")
        return super().to_internal_value(data)


class FullMatch(RegexValidator):
    """A pattern the whole value must match: what the same ``pattern`` (anchored ^...$) means in the schema.

    drf-spectacular documents a RegexValidator's pattern; Django's own searches
    with Python's ``$``, which also matches before a final newline, so a value
    the schema refuses would pass. Matching the whole value keeps the two equal.
    """

    def __call__(self, value):
        """Refuse value unless the pattern matches all of it."""
        if not self.regex.fullmatch(str(value)):
            raise DjangoValidationError(self.message, code=self.code, params={"value": value})
