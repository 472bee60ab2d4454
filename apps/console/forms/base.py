"""The base of the console's create and edit forms: what a person types, turned into the body the REST API takes.

Each form reads its fields with Django's own checks (their messages in the
reader's language) and gives ``to_api()``, the body the API's serializer then
validates exactly as it does for a script; ``take_errors()`` puts that
serializer's errors next to the fields they name. ``from_api()`` fills an edit
form from what the API shows of the object, which never includes a secret:
credentials and passwords are write-only, and left blank on an edit they are
kept as they are.
"""

import json
from decimal import Decimal

from django import forms
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, gettext_noop

from apps.console.labels import label
from apps.core.api.parsers import MAX_JSON_DEPTH, too_deep

API_MESSAGES = (
    gettext_noop("Your role on this cluster does not allow this."),
    gettext_noop("Each template may appear only once."),
    gettext_noop("A pool with min_size above 0 needs templates."),
    gettext_noop("A pool cannot move to another cluster."),
    gettext_noop("Give an amount above 0."),
    gettext_noop("Give each threshold (percent and of) once."),
    gettext_noop("Thresholds alert someone: give at least one e-mail address or webhook URL in notify."),
    gettext_noop("Give an e-mail address such as finance@example.com."),
    gettext_noop("A machine becomes allocated by scaling a pool, not by hand."),
    gettext_noop("This machine is allocated to a pool; scale that host in first."),
    gettext_noop("Give a list of security group names."),
    gettext_noop("The kind of a provider account cannot change; create a new account."),
    gettext_noop("CSV body has no header row."),
    gettext_noop("CSV body is not UTF-8 text."),
    gettext_noop("Month"),
    gettext_noop("Quarter"),
    gettext_noop("Year"),
    gettext_noop("Daily"),
    gettext_noop("Weekly"),
    gettext_noop("Monthly"),
    gettext_noop("CSV"),
    gettext_noop("Excel workbook (XLSX)"),
    gettext_noop("Provider account"),
    gettext_noop("IDC"),
)


def flat(problems) -> list[str]:
    """Every message in a serializer's (possibly nested) errors of one field, each a sentence in the reader's
    language where the catalog has it; an item of a list is named by its line (the forms take lists as lines)."""
    if isinstance(problems, dict):
        found = []
        for key, value in problems.items():
            name = _("Line %(number)s") % {"number": int(key) + 1} if str(key).isdigit() else str(key)
            for text in flat(value):
                found.append(text if key in ("", "non_field_errors", "detail") else f"{name}: {text}")
        return found
    if isinstance(problems, list | tuple):
        return [text for item in problems for text in flat(item)]
    text = str(problems)
    return [capfirst(_(text))] if text else []


class ApiForm(forms.Form):
    """A form whose fields are (mostly) the API's; subclasses say how to turn values into the API's body."""

    #: The field whose object decides the user's role (a cluster); a refusal of that role is shown there.
    scope_field = ""
    #: Form fields whose value is written but never shown: blank on an edit means "keep".
    secret_fields: tuple[str, ...] = ()
    #: Fields a new object's form takes from the address (ids, e.g. ?cluster=5).
    prefill: tuple[str, ...] = ("cluster",)

    def __init__(self, *args, user, instance=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.instance = instance
        self.setup()

    def setup(self) -> None:
        """Fill choices from what the user may see; subclasses override."""

    @classmethod
    def from_api(cls, data: dict) -> dict:
        """Initial values from the API's representation of the object (same names by default)."""
        return {name: data[name] for name in cls.base_fields if name in data and name not in cls.secret_fields}

    def to_api(self) -> dict:
        """The API body of the cleaned values: objects by id, decimals as text (as JSON carries them)."""
        body = {}
        for name, value in self.cleaned_data.items():
            if name in self.secret_fields and value in (None, "", {}) and self.instance is not None:
                continue
            body[name] = self.api_value(value)
        return body

    @staticmethod
    def api_value(value):
        """One value as the API's JSON body carries it."""
        if hasattr(value, "pk"):
            return value.pk
        if isinstance(value, Decimal):
            return format(value, "f")
        return value

    def take_errors(self, errors) -> None:
        """The API's errors, each next to the field it names (or above the form when no field shows it)."""
        if not isinstance(errors, dict):
            errors = {"": errors}
        for key, problems in errors.items():
            field = key if key in self.fields else None
            messages = flat(problems)
            if field is None and key not in ("", "non_field_errors", "detail"):
                messages = [f"{key}: {text}" for text in messages]
            for text in messages:
                self.add_error(field, text)


def _has_nul(value) -> bool:
    """Whether a NUL character is anywhere in a parsed JSON value (its keys included)."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(key) or _has_nul(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_has_nul(item) for item in value)
    return False


class JSONObjectField(forms.JSONField):
    """A JSON object typed in a text box (shown indented); blank for none."""

    def __init__(self, *, empty=None, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("widget", forms.Textarea(attrs={"rows": 4, "class": "code"}))
        super().__init__(**kwargs)
        self.empty = {} if empty is None else empty

    def prepare_value(self, value):
        """Indented JSON."""
        if isinstance(value, forms.fields.InvalidJSONInput):
            return value
        return json.dumps(value, indent=2, ensure_ascii=False) if value not in (None, "") else ""

    def clean(self, value):
        """The parsed value; blank is the empty value. As the API's JSON parser: not nested past its depth, and no
        NUL character, which the database cannot store."""
        if isinstance(value, str) and too_deep(value):
            raise forms.ValidationError(_("Nest lists and objects at most %(depth)d deep.") % {"depth": MAX_JSON_DEPTH})
        cleaned = super().clean(value)
        if _has_nul(cleaned):
            raise forms.ValidationError(_("Remove the NUL character (\\u0000): it cannot be stored."))
        return self.empty if cleaned is None else cleaned


class LinesField(forms.CharField):
    """A list of texts, one per line (commas also separate)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        kwargs.setdefault("widget", forms.Textarea(attrs={"rows": 3}))
        super().__init__(**kwargs)

    def prepare_value(self, value):
        """One item per line."""
        return "\n".join(value) if isinstance(value, list | tuple) else value

    def to_python(self, value):
        """The non-blank items, in order."""
        text = super().to_python(value) or ""
        return [item.strip() for line in text.splitlines() for item in line.split(",") if item.strip()]


class SecretTextarea(forms.Textarea):
    """A text box that never shows a value, not even the one just typed when the form comes back with errors."""

    def format_value(self, value):
        """Nothing to show."""


class ObjectChoiceField(forms.ModelChoiceField):
    """A drop-down of objects; an id not among them reads like a missing one."""

    default_error_messages = {
        "invalid_choice": gettext_lazy("Pick one of the list: that choice does not exist or is not yours to use."),
    }


def _choices(values, blank: bool = False) -> list[tuple[str, str]]:
    """(value, label) in the reader's language."""
    found = [(value, label(value)) for value in values]
    return [("", "---------"), *found] if blank else found
