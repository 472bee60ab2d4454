"""The console's login page: Django's, with the password checked by the same limited path as the API's tokens."""

from django import forms
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm

from apps.accounts import security


class LoginForm(AuthenticationForm):
    """Username and password, checked by security.sign_in (limits, lock-out, audit) instead of a bare authenticate."""

    refused: security.TooManyAttempts | None = None

    def clean(self):
        """Sign in, or say why not: the same words for an unknown user as for a wrong password."""
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if username is None or not password:
            return self.cleaned_data
        try:
            self.user_cache = security.sign_in(self.request, username, password)
        except security.TooManyAttempts as exc:
            self.refused = exc
            raise forms.ValidationError(
                f"{exc.message} Try again in {exc.retry_after} seconds.", code="throttled"
            ) from None
        except security.WrongCredentials as exc:
            raise forms.ValidationError(exc.message, code="invalid_login") from None
        return self.cleaned_data


class LoginView(auth_views.LoginView):
    """The login page; a refusal for too many attempts is answered 429, like the API's."""

    form_class = LoginForm
    template_name = "console/login.html"

    def form_invalid(self, form):
        """Show the form again with its error; 429 when a limit refused the attempt."""
        response = super().form_invalid(form)
        if form.refused is not None:
            response.status_code = 429
            response["Retry-After"] = str(form.refused.retry_after)
        return response
