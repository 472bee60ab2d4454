"""Request middleware: request ids, and refusing oversized bodies before anything reads them."""

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
