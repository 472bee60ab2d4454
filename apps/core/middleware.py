"""Request middleware: request ids, refusing oversized bodies before anything reads them, Secure cookies over TLS."""

import uuid

from django.conf import settings
from django.http import JsonResponse

from apps.core.context import reset_request, set_request


class RequestContextMiddleware:
    """Give each request an id (echoed as X-Request-ID) and refuse bodies over the limit."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return JsonResponse({"detail": "Content-Length header is not a number."}, status=400)
        if length > limit:
            return JsonResponse({"detail": f"Request body is {length} bytes; the limit is {limit} bytes."}, status=413)
        request_id = str(uuid.uuid4())
        via = "api" if request.path.startswith("/api/") else "console"
        tokens = set_request(request_id, via)
        try:
            response = self.get_response(request)
        finally:
            reset_request(tokens)
        response["X-Request-ID"] = request_id
        return response


class SecureCookieMiddleware:
    """Mark every cookie Secure on a request that came over TLS.

    DCP cannot know from its settings alone whether it is served over TLS (the same
    deployment may answer HTTPS through a proxy and plain HTTP on its health port),
    but each request knows: ``request.is_secure()`` is true for HTTPS, and for a
    request a trusted TLS proxy forwarded (DCP_BEHIND_TLS_PROXY). Session, CSRF and
    message cookies sent on such a request never travel over plain HTTP afterwards.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.is_secure():
            for cookie in response.cookies.values():
                cookie["secure"] = True
        return response
