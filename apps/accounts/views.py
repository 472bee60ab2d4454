"""Console pages of the accounts app: one's own tokens and password; users' tokens for system administrators.

Changes go through apps.accounts.services, as the API's do. A new token's key is
shown on the page that answers its creation and nowhere else: it is never put in
a message (messages may travel in a cookie) and the page is not cached.
"""

from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Count
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from apps.accounts import services
from apps.accounts.choices import TokenOrigin
from apps.accounts.forms import PasswordForm, TokenForm
from apps.accounts.models import Token, User
from apps.core.exceptions import ServiceError

# Where a service's complaint about a field is shown on the token form.
TOKEN_FORM_FIELDS = {"password": "password", "expires_at": "expires_in_days"}


def _account_page(request, form: TokenForm, status: int = 200):
    context = {"tokens": request.user.tokens.all(), "form": form}
    return render(request, "accounts/account.html", context, status=status)


@login_required
def account(request):
    """The signed-in user's tokens, a form for a new one, and a link to change the password."""
    return _account_page(request, TokenForm())


@login_required
@require_POST
@never_cache
def token_create(request):
    """Make a named token and show its key, this once."""
    form = TokenForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            token, key = services.create_token(
                request.user,
                request=request,
                password=data["password"],
                name=data["name"],
                description=data["description"],
                expires_at=form.expires_at(),
                origin=TokenOrigin.CONSOLE,
            )
        except ServiceError as exc:
            form.add_error(TOKEN_FORM_FIELDS.get(exc.field), exc.message)
        else:
            return render(request, "accounts/token_created.html", {"token": token, "key": key})
    return _account_page(request, form, status=400)


@login_required
def token_revoke(request, token_id: int):
    """Ask, then revoke one token (one's own, or anyone's for a system administrator)."""
    token = get_object_or_404(Token.objects.restrict(request.user).select_related("user"), pk=token_id)
    if request.method != "POST":
        return render(request, "accounts/token_revoke.html", {"token": token})
    services.revoke_token(token, by=request.user)
    messages.success(request, _("Token %(name)s was revoked.") % {"name": token.name or token.prefix})
    if request.user.pk == token.user_id:
        return redirect("accounts:account")
    return redirect("accounts:user-tokens", user_id=token.user_id)


@login_required
def password_change(request):
    """Change one's own password; every token is revoked and every other session ends."""
    form = PasswordForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            revoked = services.change_password(
                request.user, data["current_password"], data["new_password"], by=request.user, request=request
            )
        except ServiceError as exc:
            form.add_error(exc.field, exc.message)
        else:
            update_session_auth_hash(request, request.user)
            message = ngettext(
                "Your password was changed; %(count)d API token was revoked and your other sessions ended.",
                "Your password was changed; %(count)d API tokens were revoked and your other sessions ended.",
                revoked,
            )
            messages.success(request, message % {"count": revoked})
            return redirect("accounts:account")
    return render(request, "accounts/password.html", {"form": form}, status=400 if form.errors else 200)


def _require_system_admin(user) -> None:
    if not user.is_system_admin:
        raise PermissionDenied(_("Only system administrators may see other users."))


@login_required
def user_list(request):
    """System administrators: every user, with how many tokens they hold."""
    _require_system_admin(request.user)
    users = User.objects.restrict(request.user).annotate(token_count=Count("tokens"))
    return render(request, "accounts/users.html", {"users": users})


@login_required
def user_tokens(request, user_id: int):
    """System administrators: one user's tokens, each with a revoke button, and revoke-all."""
    _require_system_admin(request.user)
    owner = get_object_or_404(User.objects.restrict(request.user), pk=user_id)
    return render(request, "accounts/user_tokens.html", {"owner": owner, "tokens": owner.tokens.all()})


@login_required
def user_tokens_revoke(request, user_id: int):
    """System administrators: ask, then revoke every token of a user."""
    _require_system_admin(request.user)
    owner = get_object_or_404(User.objects.restrict(request.user), pk=user_id)
    if request.method != "POST":
        return render(request, "accounts/user_tokens_revoke.html", {"owner": owner, "count": owner.tokens.count()})
    revoked = services.revoke_tokens(owner, by=request.user)
    message = ngettext(
        "%(count)d token of %(username)s was revoked.", "%(count)d tokens of %(username)s were revoked.", revoked
    )
    messages.success(request, message % {"count": revoked, "username": owner.username})
    return redirect("accounts:user-tokens", user_id=owner.pk)
