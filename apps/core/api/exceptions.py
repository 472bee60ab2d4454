"""Turning every error a request can meet into a clear JSON answer, never a 500."""

import logging

from django.core.exceptions import ObjectDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.db.models import ProtectedError, RestrictedError
from django.http import JsonResponse
from django.utils.text import capfirst
from django.views import defaults
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from apps.core.exceptions import ServiceError
from apps.providers.drivers import ProviderError

logger = logging.getLogger(__name__)


def _protected(exc: ProtectedError | RestrictedError) -> Response:
    blockers = sorted({f"{obj._meta.verbose_name} {obj}" for obj in list(exc.protected_objects)[:5]})
    return Response(
        {"detail": f"Cannot delete: still used by {', '.join(blockers)}. Remove or move those first."},
        status=status.HTTP_409_CONFLICT,
    )


def _codes(codes) -> set[str]:
    """Every error code in DRF's nested get_codes() answer."""
    if isinstance(codes, dict):
        return set().union(*map(_codes, codes.values()))
    if isinstance(codes, list):
        return set().union(*map(_codes, codes))
    return {codes}


def _duplicate(exc: ValidationError) -> bool:
    """Whether every error is a value taken by another object: a conflict with what is stored, not bad input."""
    return _codes(exc.get_codes()) == {"unique"}


def exception_handler(exc, context):
    """DRF's handler, plus service errors, protected deletes, provider errors, duplicates and integrity races.

    A duplicate is answered 409 whether a uniqueness check or the database's
    unique index catches it: the same conflict gets the same status. An error
    is always JSON, also where a list was asked for as CSV (``?format=csv``).
    """
    response = _answer(exc, context)
    request = context.get("request")
    if response is not None and request is not None:
        request.accepted_renderer = JSONRenderer()
        request.accepted_media_type = JSONRenderer.media_type
    return response


def _answer(exc, context):
    """The error response for exc, or None for an exception DRF does not handle."""
    if isinstance(exc, ValidationError) and _duplicate(exc):
        return Response(_sentences(exc.detail), status=status.HTTP_409_CONFLICT)
    if isinstance(exc, ServiceError):
        retry_after = getattr(exc, "retry_after", None)
        headers = {"Retry-After": str(retry_after)} if retry_after else None
        return Response(exc.as_data(), status=exc.status, headers=headers)
    if isinstance(exc, (ProtectedError, RestrictedError)):
        return _protected(exc)
    if isinstance(exc, DjangoValidationError):
        data = exc.message_dict if hasattr(exc, "error_dict") else {"detail": exc.messages}
        return Response(data, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, ProviderError):
        code = status.HTTP_503_SERVICE_UNAVAILABLE if exc.retryable else status.HTTP_400_BAD_REQUEST
        return Response({"detail": f"The provider said: {exc.message}"}, status=code)
    if isinstance(exc, ObjectDoesNotExist):
        return Response({"detail": "Not found."}, status=status.HTTP_404_NOT_FOUND)
    if isinstance(exc, IntegrityError):
        logger.info("integrity error answered 409: %s", type(exc).__name__)
        return Response(
            {"detail": "This conflicts with an object that already exists or was changed meanwhile; retry."},
            status=status.HTTP_409_CONFLICT,
        )
    response = drf_exception_handler(exc, context)
    if response is not None:
        response.data = _sentences(response.data)
    return response


def _sentences(data):
    """Every message with a capital first letter.

    Django and DRF build some messages from a model's lower-case verbose name
    ("physical machine with this hostname already exists."); DCP's own
    messages are written as sentences already.
    """
    if isinstance(data, dict):
        return {key: _sentences(value) for key, value in data.items()}
    if isinstance(data, list):
        return [_sentences(item) for item in data]
    return capfirst(data) if isinstance(data, str) else data


def not_found(request, exception):
    """Django's 404 for a URL no route matches: JSON under /api/ (the API speaks nothing else), the page elsewhere."""
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Not found."}, status=status.HTTP_404_NOT_FOUND)
    return defaults.page_not_found(request, exception)
