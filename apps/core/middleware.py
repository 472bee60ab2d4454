"""Request middleware: request ids, request bodies read whole (chunked ones too) within the size limit,
Secure cookies over TLS, and console sessions that end when idle."""

import io
import re
import time
import uuid

from django.conf import settings
from django.contrib.auth import SESSION_KEY
from django.core.handlers.wsgi import LimitedStream
from django.http import JsonResponse

from apps.core.context import reset_http_request, reset_request, set_http_request, set_request

#: How much of a chunked body is read at a time.
READ_SIZE = 64 * 1024
#: An X-Request-ID a client or proxy sends is kept when it looks like an id (it is written to logs and
#: audit entries, whose column holds 36 characters: a UUID); anything else is replaced by a new UUID.
REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,35}")


class RequestContextMiddleware:
    """Give each request an id (the caller's X-Request-ID, or a new one; echoed as X-Request-ID); refuse bodies
    over the limit; read chunked bodies."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        refused = check_body(request)
        if refused is not None:
            return refused
        request_id = request_id_of(request)
        via = "api" if request.path.startswith("/api/") else "console"
        tokens = set_request(request_id, via)
        request_token = set_http_request(request)
        try:
            response = self.get_response(request)
        finally:
            reset_http_request(request_token)
            reset_request(tokens)
        response["X-Request-ID"] = request_id
        return response


def request_id_of(request) -> str:
    """The id a request is known by: the X-Request-ID it came with when that is a plain id, else a new UUID."""
    given = request.META.get("HTTP_X_REQUEST_ID", "").strip()
    return given if REQUEST_ID.fullmatch(given) else str(uuid.uuid4())


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


def check_body(request) -> JsonResponse | None:
    """An error answer for a body that is too large or cannot be read, else None (a chunked body now read)."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return JsonResponse(
            {"detail": "Content-Length header is not a number; send the body's size in bytes."}, status=400
        )
    if length > limit:
        return JsonResponse({"detail": f"Request body is {length} bytes; the limit is {limit} bytes."}, status=413)
    if _chunked(request) and not request.META.get("CONTENT_LENGTH"):
        return read_chunked(request, limit)
    return None


def _chunked(request) -> bool:
    """Whether the body comes with Transfer-Encoding: chunked, so without a Content-Length."""
    codings = request.META.get("HTTP_TRANSFER_ENCODING", "")
    return "chunked" in (coding.strip().lower() for coding in codings.split(","))


def read_chunked(request, limit: int) -> JsonResponse | None:
    """Read a chunked body (at most limit bytes) and hand it on as if it had come with a Content-Length.

    Django reads a body only as far as CONTENT_LENGTH, which a chunked request
    has not got, so the body was silently taken as empty (a PATCH answered 200
    and changed nothing). A server that decodes chunked bodies says so with
    ``wsgi.input_terminated`` (gunicorn, the production server); its input
    then ends where the body ends. Django's development server does not
    decode them: there the request is refused with 411, not run without its body.
    """
    stream = request.environ.get("wsgi.input")
    if not request.environ.get("wsgi.input_terminated") or stream is None:
        return JsonResponse(
            {"detail": "This server cannot read a chunked request body; send the body with a Content-Length header."},
            status=411,
        )
    body = io.BytesIO()
    while chunk := stream.read(min(READ_SIZE, limit + 1 - body.tell())):
        body.write(chunk)
        if body.tell() > limit:
            return JsonResponse({"detail": f"Request body is over the limit of {limit} bytes."}, status=413)
    data = body.getvalue()
    request.META["CONTENT_LENGTH"] = str(len(data))
    request._stream = LimitedStream(io.BytesIO(data), len(data))
    return None


#: The session key holding when the session's expiry was last moved on (epoch seconds).
SESSION_SEEN = "_dcp_seen"


def start_idle_clock(sender, request, user, **kwargs) -> None:
    """On sign-in (saved with the new session): its end was just set, so the first pages leave it alone."""
    if request is not None and hasattr(request, "session"):
        request.session[SESSION_SEEN] = int(time.time())


class IdleSessionMiddleware:
    """A console session ends SESSION_COOKIE_AGE after its last request, moved on at most once a minute.

    Django's SESSION_SAVE_EVERY_REQUEST wrote the session row (an UPDATE and a commit) at every page, every
    table redraw and every poll of a running job's bar. Here the session is saved, and its expiry and cookie
    moved on, when DCP_SESSION_REFRESH_SECONDS (60, or a tenth of the idle time if that is shorter) have
    passed since it last was: an idle session ends between SESSION_COOKIE_AGE minus that and
    SESSION_COOKIE_AGE after the last request. A session nobody signed in to is never saved for this.
    Placed after SessionMiddleware, so the session it marks is saved by that middleware on the way out.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        session = getattr(request, "session", None)
        if session is None or session.is_empty() or not session.get(SESSION_KEY):
            return response
        now = int(time.time())
        seen = session.get(SESSION_SEEN)
        if not isinstance(seen, int) or not 0 <= now - seen < settings.DCP_SESSION_REFRESH_SECONDS:
            session[SESSION_SEEN] = now
        return response
