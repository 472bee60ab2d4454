"""The console's language: the user's choice (kept per user and in the session), else Accept-Language.

Django's LocaleMiddleware reads a cookie and Accept-Language; a signed-in user's
choice should follow them to another browser, so it is kept as a Preference and
copied into the session when they sign in.
"""

from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpResponseRedirect
from django.middleware.locale import LocaleMiddleware
from django.utils import translation
from django.views.decorators.http import require_POST

from apps.console.generic import back_to
from apps.console.models import preference, remember

SESSION_KEY = "console_language"
LANGUAGE_CODES = {code for code, _ in settings.LANGUAGES}


class LanguageMiddleware(LocaleMiddleware):
    """The session's language when one was chosen; otherwise Django's choice (cookie, Accept-Language)."""

    def process_request(self, request):
        """Activate the chosen language for this request; the API keeps its one language (its contract)."""
        if request.path_info.startswith("/api/"):
            translation.activate(settings.LANGUAGE_CODE)
            request.LANGUAGE_CODE = settings.LANGUAGE_CODE
            return
        chosen = request.session.get(SESSION_KEY)
        if chosen in LANGUAGE_CODES:
            translation.activate(chosen)
            request.LANGUAGE_CODE = chosen
            return
        super().process_request(request)

    def process_response(self, request, response):
        """API answers are left as they are (no Content-Language, no Vary on Accept-Language)."""
        if request.path_info.startswith("/api/"):
            return response
        return super().process_response(request, response)


def language_of_address(address: str) -> str:
    """The language to write to an e-mail address in: its user's chosen console language, else DCP_LANGUAGE."""
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.filter(email__iexact=address.strip(), is_active=True).order_by("pk").first()
    chosen = preference(user, "language") if user is not None else None
    return chosen if chosen in LANGUAGE_CODES else settings.DCP_LANGUAGE


@receiver(user_logged_in)
def _language_of_user(sender, request, user, **kwargs):
    """On sign-in, the user's remembered language becomes the session's."""
    if request is None or not hasattr(request, "session"):
        return
    chosen = preference(user, "language")
    if chosen in LANGUAGE_CODES:
        request.session[SESSION_KEY] = chosen


@require_POST
def set_language(request):
    """Switch the console's language (form field ``language``), remember it, and go back where the user was."""
    code = request.POST.get("language", "")
    response = HttpResponseRedirect(back_to(request))
    if code not in LANGUAGE_CODES:
        return response
    request.session[SESSION_KEY] = code
    if request.user.is_authenticated:
        remember(request.user, "language", code)
    response.set_cookie(settings.LANGUAGE_COOKIE_NAME, code, samesite="Lax")
    return response
