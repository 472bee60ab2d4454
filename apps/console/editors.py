"""The console's create, edit and delete pages: one declaration per kind of object (viewset, form, where to go).

Everything they do goes through the API's own viewsets (apps.console.edit):
the same permission checks, validation, service calls and audit entries as a
script's request. The physical machines' CSV import uses the API's import,
all rows or none.
"""

from types import SimpleNamespace

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views import View
from rest_framework import exceptions as drf_exceptions

from apps.configuration.api import RegistryViewSet
from apps.console import forms
from apps.console.edit import ObjectDeleteView, ObjectEditView, ObjectEnableView, ObjectPage, may_add, may_change
from apps.console.generic import api_view
from apps.core.api.parsers import CSVParser
from apps.core.choices import Action
from apps.costs.budgets.api import BudgetViewSet
from apps.costs.reports.api import CostReportScheduleViewSet
from apps.costs.reports.models import CostReportSchedule
from apps.inventory import machines
from apps.inventory.api import ClusterViewSet, PhysicalMachineSerializer, PhysicalMachineViewSet, ServicePoolViewSet
from apps.inventory.models import PhysicalMachine, ServicePool
from apps.providers.api import CloudAccountViewSet, MachineTemplateViewSet
from apps.scaling.api import ScalingPolicyViewSet, ScalingScheduleViewSet
from apps.scaling.console import upcoming_text

# -- Clusters and pools: back to their own pages ------------------------------------------------------------------


class ClusterPage:
    """Clusters: system administrators create them, a cluster's admins edit it."""

    viewset, title, section, list_url = ClusterViewSet, gettext_lazy("Cluster"), "clusters", "console:clusters"

    def done_url(self, obj) -> str:
        """The cluster's page."""
        return reverse("console:cluster", args=[obj.pk])


class ClusterEdit(ClusterPage, ObjectEditView):
    """Create or edit a cluster."""

    form = forms.ClusterForm


class ClusterDelete(ClusterPage, ObjectDeleteView):
    """Delete a cluster (refused while it has pools)."""


class PoolPage:
    """Pools: a cluster's admins create and edit them."""

    viewset, title, section, list_url = ServicePoolViewSet, gettext_lazy("Pool"), "pools", "console:pools"

    def done_url(self, obj) -> str:
        """The pool's page."""
        return reverse("console:pool", args=[obj.pk])


class PoolEdit(PoolPage, ObjectEditView):
    """Create a pool or edit its name, bounds and template order."""

    form = forms.PoolForm


class PoolDelete(PoolPage, ObjectDeleteView):
    """Delete a pool (refused while it has hosts)."""

    def after_delete_url(self, obj) -> str:
        """The pool's cluster."""
        return reverse("console:cluster", args=[obj.cluster_id])


# -- Inventory: back to the lists ---------------------------------------------------------------------------------


class ProviderPage:
    """Provider accounts (system administrators)."""

    viewset, title, section, list_url = CloudAccountViewSet, gettext_lazy("Provider"), "providers", "console:providers"


class ProviderEdit(ProviderPage, ObjectEditView):
    """Create or edit a provider account; its credentials are write-only."""

    form = forms.ProviderForm


class ProviderDelete(ProviderPage, ObjectDeleteView):
    """Delete a provider account (refused while templates, hosts or machines use it)."""


class TemplatePage:
    """Machine templates (system administrators)."""

    viewset, title, section, list_url = (
        MachineTemplateViewSet,
        gettext_lazy("Template"),
        "templates",
        "console:templates",
    )


class TemplateEdit(TemplatePage, ObjectEditView):
    """Create or edit a template (checked against its provider's catalog)."""

    form = forms.TemplateForm


class TemplateDelete(TemplatePage, ObjectDeleteView):
    """Delete a template (refused while pools or hosts use it)."""


class MachinePage:
    """Physical machines (system administrators)."""

    viewset, title, section, list_url = (
        PhysicalMachineViewSet,
        gettext_lazy("Physical machine"),
        "machines",
        "console:physical-machines",
    )


class MachineEdit(MachinePage, ObjectEditView):
    """Register or edit a physical machine."""

    form = forms.MachineForm


class MachineDelete(MachinePage, ObjectDeleteView):
    """Delete a physical machine (refused while allocated)."""


class RegistryPage:
    """Private registries (system administrators)."""

    viewset, title, section, list_url = RegistryViewSet, gettext_lazy("Registry"), "registries", "console:registries"


class RegistryEdit(RegistryPage, ObjectEditView):
    """Create or edit a registry; its password is write-only."""

    form = forms.RegistryForm


class RegistryDelete(RegistryPage, ObjectDeleteView):
    """Delete a registry (refused while templates use it)."""


# -- Budgets and report schedules: back to their cluster ----------------------------------------------------------


class ClusterOwned:
    """Objects of a cluster (budgets, report schedules): after a change, the cluster's page."""

    def done_url(self, obj) -> str:
        """The cluster's page (the costs page for a schedule of no one cluster)."""
        if obj.cluster_id is None:
            return reverse("console:costs")
        return reverse("console:cluster", args=[obj.cluster_id])

    after_delete_url = done_url


class BudgetPage(ClusterOwned):
    """Budgets: a cluster's admins manage them."""

    viewset, title, section, list_url = BudgetViewSet, gettext_lazy("Budget"), "costs", "console:costs"


class BudgetEdit(BudgetPage, ObjectEditView):
    """Create or edit a budget."""

    form = forms.BudgetForm


class BudgetDelete(BudgetPage, ObjectDeleteView):
    """Delete a budget."""


class SchedulePage(ClusterOwned):
    """Cost report schedules: a cluster's admins manage its schedules; a schedule of no cluster is its owner's."""

    viewset, title, section, list_url = (
        CostReportScheduleViewSet,
        gettext_lazy("Report schedule"),
        "costs",
        "console:costs",
    )


class ScheduleEdit(SchedulePage, ObjectEditView):
    """Create or edit a report schedule."""

    form = forms.ReportScheduleForm

    def load(self, request, pk):
        """Any signed-in user may schedule reports of what they see; a cluster's schedule needs its admin role."""
        if pk is None:
            return None
        return super().load(request, pk)


class ScheduleDelete(SchedulePage, ObjectDeleteView):
    """Delete a report schedule (its reports go with it)."""


# -- A pool's scaling schedules and policies: back to the pool ------------------------------------------------------


def _pool_id(raw: str) -> int | None:
    """A pool's id as given in the address or the form, None when it is not one."""
    return int(raw) if raw.isdigit() and len(raw) < 10 else None


class PoolOwned:
    """Objects of one pool (its scaling schedules and policies): run by the cluster's admins and the pool's admins
    (the API's OPERATE action); every page goes back to the pool's own."""

    change_action = Action.OPERATE
    list_url = "console:pools"
    section = "pools"
    #: The pool page's section the object is shown in.
    anchor = ""

    def done_url(self, obj) -> str:
        """The pool's page, at the object's section."""
        return reverse("console:pool", args=[obj.pool_id]) + self.anchor

    after_delete_url = done_url

    def back_url(self, obj) -> str:
        """The pool's page: the object's, or the one a new object's form was opened from."""
        if obj is not None and obj.pk:
            return self.done_url(obj)
        pool = _pool_id(self.request.GET.get("pool", ""))
        return reverse("console:pool", args=[pool]) + self.anchor if pool else reverse(self.list_url)

    def check_add(self, request) -> None:
        """The pool named in the address or the form: 404 unless the user sees it, 403 unless they may run it;
        with none named, 403 for those who run no pool."""
        operable = ServicePool.objects.restrict(request.user, Action.OPERATE)
        for raw in (request.GET.get("pool", ""), request.POST.get("pool", "")):
            pool = _pool_id(raw)
            if pool is not None:
                get_object_or_404(ServicePool.objects.restrict(request.user), pk=pool)
                if not operable.filter(pk=pool).exists():
                    raise PermissionDenied(_("Your role does not allow changing this."))
        if not operable.exists():
            raise PermissionDenied(_("Your role does not allow adding this."))


class ScalingSchedulePage(PoolOwned):
    """Scaling schedules."""

    viewset, title, anchor = ScalingScheduleViewSet, gettext_lazy("Scaling schedule"), "#scaling-schedules"


class ScalingScheduleEdit(ScalingSchedulePage, ObjectEditView):
    """Create or edit a schedule; once saved, the message names its next occurrences."""

    form = forms.ScheduleForm

    def saved(self, request, obj, created: bool):
        """Back to the pool, saying when the schedule runs next."""
        moments = upcoming_text(obj)
        if moments:
            text = _("%(object)s was saved. It runs next at %(times)s.") % {"object": obj, "times": moments}
        else:
            text = _("%(object)s was saved. It has nothing left to run.") % {"object": obj}
        messages.success(request, text)
        return redirect(self.done_url(obj))


class ScalingScheduleDelete(ScalingSchedulePage, ObjectDeleteView):
    """Delete a schedule (its occurrences go with it)."""


class ScalingScheduleEnable(ScalingSchedulePage, ObjectEnableView):
    """Enable or disable a schedule from the pool's page."""


class ScalingPolicyPage(PoolOwned):
    """Scaling policies."""

    viewset, title, anchor = ScalingPolicyViewSet, gettext_lazy("Scaling policy"), "#scaling-policies"


def token_page(request, policy, data: dict, created: bool):
    """The policy's webhook address and token, shown this once: never cached, never shown again."""
    context = {
        "policy": policy,
        "created": created,
        "webhook": request.build_absolute_uri(data["webhook"]),
        "token": data["token"],
        "section": "pools",
        "pool_url": reverse("console:pool", args=[policy.pool_id]) + ScalingPolicyPage.anchor,
    }
    response = render(request, "scaling/policy_token.html", context)
    add_never_cache_headers(response)
    return response


class ScalingPolicyEdit(ScalingPolicyPage, ObjectEditView):
    """Create or edit a policy; a new policy's page shows its webhook token, this once."""

    form = forms.PolicyForm

    def saved(self, request, obj, created: bool):
        """A new policy: its token page. An edit: back to the pool."""
        if not created:
            return super().saved(request, obj, created)
        view = api_view(self.viewset, request, action="retrieve", pk=obj.pk)
        return token_page(request, obj, view.get_serializer(obj).data, created=True)


class ScalingPolicyDelete(ScalingPolicyPage, ObjectDeleteView):
    """Delete a policy (its webhook stops answering; its triggers go with it)."""


class ScalingPolicyEnable(ScalingPolicyPage, ObjectEnableView):
    """Enable or disable a policy from the pool's page."""


class ScalingPolicyRotate(ScalingPolicyPage, ObjectPage):
    """Give a policy a new webhook token: a page that says what it does, then the new token, shown once."""

    def get(self, request, pk):
        """The confirmation page."""
        obj = self.visible(request, pk)
        self.check_change(request, obj)
        context = {"object": obj, "section": self.section, "cancel_url": self.done_url(obj)}
        return render(request, "scaling/policy_rotate.html", context)

    def post(self, request, pk):
        """Rotate through the API's own action (audited); the old token stops working at once."""
        obj = self.visible(request, pk)
        self.check_change(request, obj)
        view = api_view(self.viewset, request, action="rotate_token", body=False, pk=obj.pk)
        answer = view.rotate_token(view.request, pk=obj.pk)
        return token_page(request, obj, answer.data, created=False)


# -- Physical machines from a CSV file ----------------------------------------------------------------------------


class _AsCSV:
    """The request as a CSV import's serializer sees it: cells are text, read with DRF's coercion (as the API's)."""

    content_type = "text/csv"

    def __init__(self, request):
        self._request = request

    def __getattr__(self, name):
        return getattr(self._request, name)


def _row_errors(detail) -> list[str]:
    """The import's errors as lines: "Row 3, ip: ...", or a column's error across rows."""
    found = []
    rows = detail.get("rows", {}) if isinstance(detail, dict) else {}
    for row, problems in rows.items() if isinstance(rows, dict) else []:
        if isinstance(problems, dict):
            for field, texts in problems.items():
                for text in forms.flat(texts):
                    found.append(
                        _("Row %(row)s, %(field)s: %(message)s") % {"row": row, "field": field, "message": text}
                    )
        else:
            found.extend(f"{row}: {text}" for text in forms.flat(problems))
    other = {key: value for key, value in detail.items() if key != "rows"} if isinstance(detail, dict) else detail
    found.extend(forms.flat(other) if other else [])
    return found


class MachineImport(LoginRequiredMixin, View):
    """Register many physical machines from a CSV file: every row checked, all saved or none."""

    template_name = "console/import.html"

    def get(self, request):
        """The upload form."""
        self.check(request)
        return self.render(request, forms.MachineImportForm())

    def post(self, request):
        """Import through the API's import; the errors by row, and nothing saved, when any row is wrong."""
        self.check(request)
        form = forms.MachineImportForm(request.POST, request.FILES)
        if not form.is_valid():
            return self.render(request, form, status=400)
        view = api_view(PhysicalMachineViewSet, request, action="bulk_import")
        upload = form.cleaned_data["file"]
        try:
            rows = CSVParser().parse(upload)
            rows = machines.rows_from_request(SimpleNamespace(data=rows))
            context = {**view.get_serializer_context(), "request": _AsCSV(view.request)}
            created = machines.import_machines(rows, PhysicalMachineSerializer, context)
        except drf_exceptions.ParseError as exc:
            form.add_error("file", _(str(exc.detail)))
            return self.render(request, form, status=400)
        except drf_exceptions.ValidationError as exc:
            return self.render(request, form, errors=_row_errors(exc.detail), status=400)
        messages.success(request, _("%(count)d machines were imported.") % {"count": len(created)})
        return redirect("console:physical-machines")

    def check(self, request) -> None:
        """System administrators only (403 for everyone else)."""
        if not may_add(request.user, PhysicalMachine):
            raise PermissionDenied(_("Your role does not allow adding this."))

    def render(self, request, form, errors=(), status: int = 200):
        """The upload page with the rows' errors."""
        context = {
            "form": form,
            "errors": errors,
            "section": "machines",
            "cancel_url": reverse("console:physical-machines"),
        }
        return render(request, self.template_name, context, status=status)


def cluster_actions(user, cluster) -> dict:
    """What a cluster's page offers this user to change: the cluster itself, its budgets (listed with their
    figures by the page) and report schedules."""
    return {
        "can_edit": may_change(user, cluster),
        "schedules": CostReportSchedule.objects.restrict(user).filter(cluster=cluster).order_by("name", "pk"),
    }
