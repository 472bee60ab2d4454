"""JSON bodies carry the types the schema gives each field: DRF alone would take 5 for "5" and "yes" for true.

DRF coerces what it can (an integer into a string field, "3" into an integer
field, "true" or 1 into a boolean field, 12.5 into a decimal field), so a
request the schema calls invalid would be accepted. The check runs before
DRF's own validation, on JSON bodies only: a CSV import's cells are all text
and are read by the same serializers, coercion included.
"""

import re
from collections.abc import Mapping

from rest_framework import serializers
from rest_framework.relations import ManyRelatedField, PrimaryKeyRelatedField, SlugRelatedField

TEXT = "Give text (a JSON string)."
WHOLE = "Give a whole number (a JSON integer)."
DECIMAL = 'Give the number as a JSON string, e.g. "12.50".'
MESSAGES = {
    str: TEXT,
    int: WHOLE,
    bool: "Give true or false.",
    float: "Give a number.",
    list: "Give a list.",
    dict: "Give a JSON object.",
}

# (field class, the Python type json.loads gives for it, the message); the first match wins, so subclasses first.
EXPECTED: tuple[tuple[type, type, str], ...] = (
    (serializers.BooleanField, bool, MESSAGES[bool]),
    (serializers.IntegerField, int, WHOLE),
    (serializers.FloatField, float, MESSAGES[float]),
    (serializers.DecimalField, str, DECIMAL),
    (serializers.MultipleChoiceField, list, MESSAGES[list]),
    (serializers.ChoiceField, str, TEXT),
    (serializers.CharField, str, TEXT),
    (serializers.DateTimeField, str, TEXT),
    (serializers.DateField, str, TEXT),
    (PrimaryKeyRelatedField, int, WHOLE),
    (SlugRelatedField, str, TEXT),
    (ManyRelatedField, list, MESSAGES[list]),
    (serializers.ListField, list, MESSAGES[list]),
    (serializers.ListSerializer, list, MESSAGES[list]),
    (serializers.DictField, dict, MESSAGES[dict]),
    (serializers.BaseSerializer, dict, MESSAGES[dict]),
)


def decimal_pattern(field: serializers.DecimalField, *, signed: bool = False) -> str:
    """The decimal strings a DecimalField takes: digits within its precision, a sign only if it may be negative.

    ``signed`` admits a sign whatever the field's minimum: the type check uses it, so a negative number
    is left to the field's own minimum, whose message says what to fix ("greater than or equal to 0").
    """
    places = field.decimal_places if field.decimal_places is not None else 20
    whole = f"{{1,{field.max_digits - places}}}" if field.max_digits is not None else "+"
    sign = "-?" if signed or field.min_value is None or field.min_value < 0 else ""
    # [0-9], not \d: a Python str pattern's \d also takes other scripts' digits.
    fraction = f"(?:\\.[0-9]{{0,{places}}})?" if places else ""
    return f"^{sign}[0-9]{whole}{fraction}$"


def _is(value, expected: type) -> bool:
    """Whether a parsed JSON value is of the expected type (booleans are not numbers, integers are floats)."""
    if isinstance(value, bool):
        return expected is bool
    if expected is float:
        return isinstance(value, int | float)
    return isinstance(value, expected)


def type_error(field: serializers.Field, value) -> str | None:
    """What is wrong with the JSON type of value for field, or None (null is left to the field's own rules)."""
    if value is None:
        return None
    for field_class, expected, message in EXPECTED:
        if isinstance(field, field_class):
            if not _is(value, expected):
                return message
            decimal = isinstance(field, serializers.DecimalField)
            if decimal and not re.fullmatch(decimal_pattern(field, signed=True), value):
                return DECIMAL
            return _item_error(field, value)
    return None


def _item_error(field: serializers.Field, value) -> str | None:
    """For a list field, what is wrong with its first badly typed item."""
    child = getattr(field, "child", None) or getattr(field, "child_relation", None)
    if not isinstance(value, list) or child is None:
        return None
    for position, item in enumerate(value):
        problem = type_error(child, item)
        if problem:
            return f"Item {position}: {problem}"
    return None


class StrictTypesMixin:
    """For serializers: refuse a JSON body whose fields are not of their documented JSON types."""

    def to_internal_value(self, data):
        """Check each given writable field's JSON type, then validate as usual."""
        if isinstance(data, Mapping) and self._reads_json():
            errors = {}
            for name, field in self.fields.items():
                if not field.read_only and name in data:
                    problem = type_error(field, data[name])
                    if problem:
                        errors[name] = [problem]
            if errors:
                raise serializers.ValidationError(errors)
        return super().to_internal_value(data)

    def _reads_json(self) -> bool:
        """Whether the input came as JSON (a CSV import's cells are text, read with DRF's coercion)."""
        request = self.context.get("request")
        return request is None or not (request.content_type or "").startswith("text/csv")
