"""A cluster's members, and a pool's administrators, managed from their console pages by the cluster's admins
through the API's own viewsets.

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

from apps.accounts.api import MembershipSerializer, MembershipViewSet, PoolAdminViewSet
from apps.console.forms import MemberForm, PoolAdminForm
from apps.console.generic import api_view
from apps.core.exceptions import ServiceError
from apps.inventory.models import ServicePool


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


def _pool_admins_view(request, pool_id: int, action: str):
    """The pool administrators' viewset and the pool: 404 unless the user sees the pool, 403 unless the API lets
    them appoint its administrators (the cluster's admins)."""
    view = api_view(PoolAdminViewSet, request, action=action)
    pool = get_object_or_404(ServicePool.objects.restrict(request.user).select_related("cluster"), pk=pool_id)
    try:
        view.check_write(pool)
    except drf_exceptions.PermissionDenied:
        raise PermissionDenied(_("Only the cluster's admins may appoint or remove pool administrators.")) from None
    return view, pool


@login_required
@require_http_methods(["GET", "POST"])
def pool_admin_add(request, pool_id: int):
    """Appoint a pool administrator by username; what to fix is shown by its field, on this page."""
    view, pool = _pool_admins_view(request, pool_id, "create")
    form = PoolAdminForm(request.POST if request.method == "POST" else None, user=request.user)
    if form.is_valid():
        serializer = view.get_serializer(data={**form.to_api(), "pool": pool.pk})
        if serializer.is_valid():
            view.perform_create(serializer)
            text = _("%(user)s now administers pool %(pool)s.")
            messages.success(request, text % {"user": serializer.instance.user.username, "pool": pool})
            return redirect(reverse("console:pool", args=[pool.pk]) + "#pool-admins")
        form.take_errors(serializer.errors)
    context = {"form": form, "title": _("administrator of pool %(pool)s") % {"pool": pool}, "section": "pools"}
    context["cancel_url"] = reverse("console:pool", args=[pool.pk]) + "#pool-admins"
    return render(request, "console/edit.html", context, status=400 if form.is_bound else 200)


@login_required
@require_POST
def pool_admin_remove(request, pool_id: int, username: str):
    """Remove a pool administrator: they keep their cluster role and lose what the pool gave them."""
    view, pool = _pool_admins_view(request, pool_id, "destroy")
    appointment = get_object_or_404(view.get_queryset(), pool=pool, user__username=username)
    view.check_write(appointment)
    view.perform_destroy(appointment)
    messages.success(request, _("%(user)s no longer administers pool %(pool)s.") % {"user": username, "pool": pool})
    return redirect(reverse("console:pool", args=[pool.pk]) + "#pool-admins")
