"""A cluster's members, managed from its console page by its admins through the API's own viewset.

The viewset's checks (only the cluster's admins, one membership per user), its
serializer's validation (an active username, a known role) and its audit
entries apply unchanged; the console turns their answers into messages, or, on
the add page, into errors next to the fields.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST
from rest_framework import exceptions as drf_exceptions

from apps.accounts.api import MembershipSerializer, MembershipViewSet
from apps.console.forms import MemberForm
from apps.console.generic import api_view
from apps.core.exceptions import ServiceError


def _errors(exc: drf_exceptions.ValidationError) -> str:
    """A serializer's errors as one sentence per field."""
    detail = exc.detail if isinstance(exc.detail, dict) else {"": exc.detail}
    return " ".join(f"{field}: {' '.join(str(m) for m in problems)}".lstrip(": ") for field, problems in detail.items())


def _check_admin(view, cluster) -> None:
    """403 unless the user is an admin of the cluster (only a forged request gets here: the page shows other roles
    no member forms)."""
    try:
        view.check_write(cluster)
    except drf_exceptions.PermissionDenied:
        raise PermissionDenied(_("Only the cluster's admins may change its members.")) from None


def _change(request, cluster_id: int, work) -> None:
    """Run work(view) on the members viewset of the cluster; say what went wrong, if anything (403 for anyone
    but the cluster's admins, 404 for those who do not see the cluster)."""
    view = api_view(MembershipViewSet, request, action="update", cluster_pk=cluster_id)
    _check_admin(view, view.get_cluster())  # 404 for a cluster the user may not see
    try:
        work(view)
    except drf_exceptions.ValidationError as exc:
        messages.error(request, _errors(exc))
    except ServiceError as exc:
        messages.error(request, exc.message)


@login_required
@require_http_methods(["GET", "POST"])
def member_add(request, cluster_id: int):
    """Add a member (``username``, ``role``); what to fix is shown by its field, on this page."""
    view = api_view(MembershipViewSet, request, action="create", cluster_pk=cluster_id)
    cluster = view.get_cluster()  # 404 for a cluster the user may not see
    _check_admin(view, cluster)
    form = MemberForm(request.POST if request.method == "POST" else None, user=request.user)
    if form.is_valid():
        serializer = MembershipSerializer(data=form.to_api(), context=view.get_serializer_context())
        try:
            if serializer.is_valid():
                view.perform_create(serializer)
                messages.success(request, _("%(user)s is now a member.") % {"user": serializer.instance.user.username})
                return redirect("console:cluster", cluster_id=cluster.pk)
            form.take_errors(serializer.errors)
        except ServiceError as exc:  # already a member
            form.take_errors({exc.field or "username": [exc.message]})
    context = {"form": form, "title": _("member of %(cluster)s") % {"cluster": cluster}, "section": "clusters"}
    context["cancel_url"] = reverse("console:cluster", args=[cluster.pk])
    return render(request, "console/edit.html", context, status=400 if form.is_bound else 200)


@login_required
@require_POST
def member_change(request, cluster_id: int, username: str):
    """Give a member another role (``role``), or remove them (``remove``)."""

    def change(view):
        membership = get_object_or_404(view.get_queryset(), user__username=username)
        if request.POST.get("remove"):
            view.check_write(membership)
            view.perform_destroy(membership)
            messages.success(request, _("%(user)s is no longer a member.") % {"user": username})
            return
        serializer = MembershipSerializer(
            membership, data={"role": request.POST.get("role", "")}, partial=True, context=view.get_serializer_context()
        )
        serializer.is_valid(raise_exception=True)
        view.perform_update(serializer)
        messages.success(request, _("%(user)s is now %(role)s.") % {"user": username, "role": membership.role})

    _change(request, cluster_id, change)
    return redirect("console:cluster", cluster_id=cluster_id)
