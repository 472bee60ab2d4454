"""OpenAPI schema generation: every operation documents the errors it can answer, decided in one place.

drf-spectacular documents the success answers; this AutoSchema adds each
error status an operation can really give, from what the view is made of:

- 400 where there is a body or a query string to be wrong;
- 401 where the caller must be signed in, 403 where a signed-in caller can be
  refused (every write; reads only behind a stricter permission than "signed in");
- 404 where the path names an object (or a parent object);
- 409 where the code refuses a change that clashes with stored data: deleting
  an object others still use (PROTECT), writing a model with unique fields
  (a duplicate, or a race with another writer), or an action that declares it;
- 413 and 415 where there is a body (too large, not JSON); 429 where the view is throttled.

The bodies are what apps/core/api/exceptions.py and DRF produce:
``{"detail": "..."}``, or for invalid input a map of field name to messages.
"""

from django.db import models
from drf_spectacular import openapi
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.utils import OpenApiResponse
from rest_framework import permissions, serializers
from rest_framework.settings import api_settings

from apps.core.api.types import decimal_pattern
from apps.core.api.views import RestrictedPermission

ERROR = "Error"
FIELD_ERRORS = "FieldErrors"

ERROR_SCHEMA = {
    "type": "object",
    "description": "An error that concerns the whole request.",
    "properties": {"detail": {"type": "string", "description": "What went wrong, and what to do about it."}},
    "required": ["detail"],
}
FIELD_ERRORS_SCHEMA = {
    "type": "object",
    "description": (
        "Invalid input: each key names a field of the body (or a query parameter or header), each value holds "
        "the messages about it. A nested object or a list answers a map of its own fields or of the items' "
        "positions; `non_field_errors` holds what concerns several fields at once."
    ),
    "additionalProperties": {
        "oneOf": [
            {
                "type": "array",
                "items": {"oneOf": [{"type": "string"}, {"$ref": f"#/components/schemas/{FIELD_ERRORS}"}]},
            },
            {"$ref": f"#/components/schemas/{FIELD_ERRORS}"},
        ]
    },
}

DESCRIPTIONS = {
    "400": "Invalid input: a field map saying what to fix in each field, or a `detail` about the whole request "
    "(a body that is not valid JSON, a header that is not a number).",
    "401": "Not signed in: no token, or a token that is unknown, expired or revoked, or whose user is inactive.",
    "403": "Signed in, but not allowed: your role does not allow this (or the session request lacks its CSRF token).",
    "404": "No such object, or none you may see: the two are answered the same way.",
    "409": "Conflicts with what is stored: the object is still used by others, one with the same unique value "
    "exists, or the object's state does not allow this now. The body says which.",
    "413": "The request body is larger than the server accepts (DCP_MAX_BODY_BYTES).",
    "415": "The body's Content-Type is not one this operation reads.",
    "429": "Too many requests: wait the number of seconds in Retry-After.",
}
RETRY_AFTER = {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait before retrying."}}
WWW_AUTHENTICATE = {
    "WWW-Authenticate": {"schema": {"type": "string"}, "description": "The scheme to sign in with: `Token`."}
}

#: The viewset actions whose 409s are worked out from the model (custom actions declare theirs with CONFLICT).
WRITE_ACTIONS = ("create", "update", "partial_update", "destroy")
#: Permission classes that let every signed-in caller read: behind them, a read is never refused with 403.
READ_FOR_ALL = (permissions.IsAuthenticated, RestrictedPermission)


def _error_schema(*components: str) -> dict:
    refs = [{"$ref": f"#/components/schemas/{name}"} for name in components]
    return refs[0] if len(refs) == 1 else {"oneOf": refs}


def _error_content(*components: str) -> dict:
    return {"application/json": {"schema": _error_schema(*components)}}


#: The 409 answer, for @extend_schema(responses={409: CONFLICT}) of an operation that raises Conflict.
CONFLICT = OpenApiResponse(response=_error_schema(ERROR, FIELD_ERRORS), description=DESCRIPTIONS["409"])


LOCATION = {"Location": {"schema": {"type": "string"}, "description": "The URL of the object just created."}}


def one_of(schema: dict, names: tuple[str, ...]) -> dict:
    """An object schema turned into: exactly one of these properties, with any of the others."""
    properties = schema["properties"]
    shared = {name: value for name, value in properties.items() if name not in names}
    variants = [
        {
            "type": "object",
            "properties": {name: _not_null(properties[name]), **shared},
            "required": [name, *(field for field in schema.get("required", []) if field in shared)],
            "additionalProperties": False,
        }
        for name in names
    ]
    return {"oneOf": variants, **{key: value for key, value in schema.items() if key == "description"}}


def _not_null(schema: dict) -> dict:
    """The property that makes the choice must be given a value."""
    return {key: value for key, value in schema.items() if key != "nullable"}


class AutoSchema(openapi.AutoSchema):
    """drf-spectacular's AutoSchema, plus the error answers each operation can give.

    A serializer whose body takes exactly one of some fields says so with
    ``one_of_fields = (...)``; its request schema is then a oneOf of them.
    """

    def get_operation(self, path, path_regex, path_prefix, method, registry):
        """The operation as drf-spectacular builds it, with its error responses added."""
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is None:
            return None
        self._register_error_components()
        responses = operation["responses"]
        for code in self._error_codes(operation):
            responses.setdefault(code, self._error_response(code))
        if getattr(self.view, "action", None) == "create" and "201" in responses:
            responses["201"].setdefault("headers", LOCATION)
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "query" and parameter["name"] == api_settings.URL_FORMAT_OVERRIDE:
                parameter["allowEmptyValue"] = True  # ?format= is the default format
        if getattr(self.view, "query_empty_is_omitted", False):
            # Parameters read by a serializer from the query string: an empty optional one is not given.
            for parameter in operation.get("parameters", []):
                if parameter["in"] == "query" and parameter.get("schema", {}).get("type") != "array":
                    parameter["allowEmptyValue"] = True
        return operation

    def _is_list_view(self, serializer=None):
        """A view's list action answers a list, unless the view says it answers one object (``single_answer``)."""
        if getattr(self.view, "single_answer", False):
            return False
        return super()._is_list_view(serializer)

    def _get_filter_parameters(self):
        """Filters; an empty one (``?pool=``) is not applied, so the schema allows it (not a list filter's)."""
        parameters = super()._get_filter_parameters()
        for parameter in parameters:
            if parameter.get("schema", {}).get("type") != "array":
                parameter["allowEmptyValue"] = True
        return parameters

    def _map_serializer_field(self, field, direction, bypass_extensions=False):
        """drf-spectacular's mapping, with decimals and IP addresses as exact as the server reads them."""
        schema = super()._map_serializer_field(field, direction, bypass_extensions)
        if isinstance(field, serializers.DecimalField) and schema.get("type") == "string":
            schema["pattern"] = decimal_pattern(field)
        if isinstance(field, serializers.IPAddressField) and field.protocol == "both":
            schema["anyOf"] = [{"format": "ipv4"}, {"format": "ipv6"}]
        return schema

    def _map_serializer(self, serializer, direction, bypass_extensions=False):
        """The serializer's schema; a request body with one_of_fields becomes a oneOf."""
        schema = super()._map_serializer(serializer, direction, bypass_extensions)
        public = getattr(serializer, "PUBLIC_FIELDS", None)
        if public is not None and direction == "response" and "required" in schema:
            # Only system administrators read the other fields; everyone else gets these alone.
            schema["required"] = [name for name in schema["required"] if name in public]
        names = getattr(serializer, "one_of_fields", ())
        return one_of(schema, names) if names and direction == "request" else schema

    def _register_error_components(self) -> None:
        for name, schema in ((ERROR, ERROR_SCHEMA), (FIELD_ERRORS, FIELD_ERRORS_SCHEMA)):
            self.registry.register_on_missing(
                ResolvedComponent(name=name, type=ResolvedComponent.SCHEMA, object=name, schema=schema)
            )

    def _error_response(self, code: str) -> dict:
        content = _error_content(ERROR, FIELD_ERRORS) if code in ("400", "409") else _error_content(ERROR)
        response = {"description": DESCRIPTIONS[code], "content": content}
        headers = {"401": WWW_AUTHENTICATE, "429": RETRY_AFTER}.get(code)
        if headers:
            response["headers"] = headers
        return response

    def _error_codes(self, operation: dict) -> list[str]:
        """The error statuses this operation can answer, in order."""
        where = {parameter["in"] for parameter in operation.get("parameters", [])}
        has_body = "requestBody" in operation
        signed_in = self._needs_sign_in()
        wanted = {
            "400": has_body or "query" in where or "header" in where,
            "401": signed_in,
            "403": signed_in and (self.method not in permissions.SAFE_METHODS or not self._reads_for_all()),
            "404": "path" in where,
            "409": self._conflicts(),
            "413": has_body,
            "415": has_body,
            "429": bool(self.view.get_throttles()) or self._sign_in_limited(),
        }
        return [code for code, applies in wanted.items() if applies]

    def _sign_in_limited(self) -> bool:
        """Whether the operation checks a password under the sign-in limits (apps.accounts.security): it may
        answer 429. A view lists such actions in ``sign_in_limited`` ("*" for all of its operations)."""
        limited = getattr(self.view, "sign_in_limited", ())
        return "*" in limited or getattr(self.view, "action", None) in limited

    def _permission_classes(self) -> list:
        return [type(permission) for permission in self.view.get_permissions()]

    def _needs_sign_in(self) -> bool:
        return not all(issubclass(cls, permissions.AllowAny) for cls in self._permission_classes())

    def _reads_for_all(self) -> bool:
        return all(cls in READ_FOR_ALL for cls in self._permission_classes())

    def _model(self):
        queryset = getattr(self.view, "queryset", None)
        return queryset.model if queryset is not None else None

    def _conflicts(self) -> bool:
        """Whether a write here can meet stored data it clashes with (409); actions declare their own."""
        model = self._model()
        if model is None or getattr(self.view, "action", None) not in WRITE_ACTIONS:
            return False
        if self.method == "DELETE":
            return any(
                relation.on_delete in (models.PROTECT, models.RESTRICT) for relation in model._meta.related_objects
            )
        return _has_unique(model)


def _has_unique(model) -> bool:
    """Whether a model has a unique column or constraint besides its primary key."""
    fields = any(field.unique and not field.primary_key for field in model._meta.concrete_fields)
    constraints = any(isinstance(c, models.UniqueConstraint) for c in model._meta.constraints)
    return fields or constraints or bool(model._meta.unique_together)


#: Text the API stores cannot hold NUL (PostgreSQL refuses it): every free-form input string says so.
NO_NUL = r"^[^\u0000]*$"


def _free_string(schema: dict) -> bool:
    """A plain string schema: no enum, format or pattern already narrowing it."""
    return schema.get("type") == "string" and not {"enum", "format", "pattern"} & set(schema)


def _tighten_body(schema: dict) -> None:
    """A request body refuses unknown fields and NUL characters, as the server does."""
    for variant in schema.get("oneOf", ()):
        _tighten_body(variant)
    if schema.get("type") != "object":
        return
    schema.setdefault("additionalProperties", False)
    for field in schema.get("properties", {}).values():
        for variant in (field, *field.get("oneOf", ()), field.get("items", {})):
            if _free_string(variant):
                variant["pattern"] = NO_NUL


def postprocess_requests(result, generator, request, public):
    """drf-spectacular hook: request bodies name every field they take, and input text holds no NUL."""
    for name, schema in result.get("components", {}).get("schemas", {}).items():
        if name.endswith("Request"):
            _tighten_body(schema)
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                # An ordering the server does not know is ignored, not refused: any text is valid there.
                if parameter["name"] != api_settings.ORDERING_PARAM and _free_string(parameter.get("schema", {})):
                    parameter["schema"]["pattern"] = NO_NUL
    return result
