"""The console's actions: scale a pool (by a delta, to a size, or by removing picked hosts) and re-run
initialization on picked hosts, each behind a confirmation that shows what will happen.

Every action goes through the same service as the API (``services.scale``,
``apps.configuration.jobs``), so bounds, budgets, permissions and audit are the API's. The
console adds the confirmation: the dry run's plan, what it adds (or removes)
per hour and per month, and the budgets covering the pool after it.
"""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from apps.configuration import jobs as init_jobs
from apps.configuration.runners import needs_run
from apps.core.choices import Action
from apps.core.exceptions import ServiceError
from apps.costs.budgets import guard
from apps.costs.budgets.figures import figures_of
from apps.costs.services import hosts_run_rate
from apps.inventory.choices import HostStatus
from apps.inventory.models import Host, ServicePool
from apps.provisioning import services
from apps.provisioning.api import ScaleSerializer

#: At most this many hosts picked in one bulk action (a page of the hosts table holds 100).
MAX_PICKED = 1000


def may(user, obj, action: str) -> bool:
    """Whether the user's role on obj's cluster allows the action on it."""
    return type(obj).objects.restrict(user, action).filter(pk=obj.pk).exists()


def _next(request) -> str:
    """The page to go back to (the form's ``next``) when it is on this site, else ""."""
    back = request.POST.get("next", "")
    return back if url_has_allowed_host_and_scheme(back, {request.get_host()}, request.is_secure()) else ""


def _visible_pool(user, pool_id: int) -> ServicePool:
    return get_object_or_404(ServicePool.objects.restrict(user).select_related("cluster"), pk=pool_id)


def _whole(value: str) -> int | None:
    """A form's whole number, or None when it is not one."""
    try:
        return int(value.strip())
    except ValueError:
        return None


def scale_request(data) -> tuple[services.ScaleRequest | None, dict[str, str]]:
    """The scale request of the form's ``delta`` or ``desired_size`` (or picked ``hosts``), checked by the
    API's own serializer; else None and a message per field saying what to fix."""
    body, errors = {}, {}
    wrong = {
        "delta": _("Give the number of hosts to add (or a negative number to remove)."),
        "desired_size": _("Give the size to scale the pool to: a whole number, 0 or more."),
    }
    for name in ("delta", "desired_size"):
        text = data.get(name, "").strip()
        if text:
            body[name] = _whole(text)
            if body[name] is None:
                errors[name] = wrong[name]
    hosts = data.getlist("hosts")
    if hosts:
        body["hosts"] = [_whole(pk) for pk in hosts]
        if None in body["hosts"]:
            errors["hosts"] = _("Pick hosts from the table.")
    if errors:
        return None, errors
    if not body:
        return None, {"delta": _("Give a number of hosts to add or remove, or the size to scale to.")}
    serializer = ScaleSerializer(data=body)
    if not serializer.is_valid():
        found = {}
        for name, problems in serializer.errors.items():
            field = name if name in ("delta", "desired_size", "hosts") else "delta"
            found[field] = " ".join(str(problem) for problem in problems)
        return None, found
    return serializer.to_request(), {}


def budget_rows(pool: ServicePool, plan: dict) -> list[dict]:
    """The budgets covering the pool: spent and status now (the budgets' own figures), and after the plan
    (the guard's figures: what it adds, the forecast after it, whether an enforced budget refuses it)."""
    budgets = guard.covering(pool, enforced_only=False)
    if not budgets:
        return []
    now = figures_of(budgets, timezone.now())
    after = {entry["budget"]: entry for entry in plan.get("budgets", ())}
    rows = []
    for budget in budgets:
        figures = now[budget.pk]
        entry = after.get(budget.pk, {})
        rows.append(
            {
                "budget": budget,
                "spent": figures.money(figures.figures.spent),
                "forecast": figures.money(figures.figures.forecast),
                "status": figures.status,
                "adds": entry.get("adds"),
                "forecast_after": entry.get("forecast_after", figures.money(figures.figures.forecast)),
                "percent_after": entry.get("percent_after"),
                "refuses": bool(entry.get("over") and budget.enforce),
            }
        )
    return rows


def plan_context(user, pool: ServicePool, request: services.ScaleRequest) -> dict:
    """What the confirmation shows: the dry run's plan, the run-rate a scale-in removes, the budgets after it,
    and why the scale would be refused; a refused plan has ``refusal`` and no ``plan``."""
    if not may(user, pool, Action.SCALE):
        return {"refusal": _("Your role on this cluster does not allow scaling."), "forbidden": True}
    try:
        plan = services.scale(pool.pk, user, request, dry=True).dry_run
    except ServiceError as exc:
        return {"refusal": exc.message}
    context = {"plan": plan, "budgets": budget_rows(pool, plan)}
    if plan["kind"] == "scale_in":
        removed = [entry["host"] for entry in plan["plan"]["remove"]]
        context["removes"] = hosts_run_rate(pool.pk, removed, timezone.now()).as_json()
    refusing = [row for row in context["budgets"] if row["refuses"]]
    if refusing:
        context["budget_refuses"] = True
        context["can_override"] = may(user, pool, Action.CHANGE)
    return context


def _form_fields(request: services.ScaleRequest) -> dict:
    """The request as the confirmation's hidden fields."""
    if request.hosts:
        return {"hosts": list(request.hosts)}
    if request.desired_size is not None:
        return {"desired_size": request.desired_size}
    return {"delta": request.delta}


@login_required
@require_POST
def pool_scale_preview(request, pool_id: int):
    """The plan of the pool form's scale (HTMX, drawn under the form), changing nothing."""
    pool = _visible_pool(request.user, pool_id)
    scale, errors = scale_request(request.POST)
    context = {"pool": pool, "errors": errors}
    if scale is not None:
        context.update(plan_context(request.user, pool, scale))
    return render(request, "console/scale_preview.html", context)


@login_required
@require_POST
def pool_scale_confirm(request, pool_id: int):
    """The confirmation page of a scale: the plan, its cost, the budgets after it, and a button to do it."""
    pool = _visible_pool(request.user, pool_id)
    scale, errors = scale_request(request.POST)
    context = {"pool": pool, "errors": errors, "back": _next(request)}
    if scale is not None:
        context.update(plan_context(request.user, pool, scale), fields=_form_fields(scale))
    elif may(request.user, pool, Action.SCALE):
        # The form again as it was typed, each message by its field (values only for those who may scale).
        context["values"] = {name: request.POST.get(name, "") for name in ("delta", "desired_size")}
    status = 400 if errors else 403 if context.get("forbidden") else 200
    return render(request, "console/scale_confirm.html", context, status=status)


@login_required
@require_POST
def pool_scale(request, pool_id: int):
    """Do the confirmed scale, through the same service as the API; then to its job, or back saying why not."""
    pool = _visible_pool(request.user, pool_id)
    if not may(request.user, pool, Action.SCALE):
        messages.error(request, _("Your role on this cluster does not allow scaling."))
        return redirect("console:pool", pool_id=pool.pk)
    scale, errors = scale_request(request.POST)
    if scale is None:
        for problem in errors.values():
            messages.error(request, problem)
        return redirect("console:pool", pool_id=pool.pk)
    override = request.POST.get("override_budget") == "1"
    if override and not may(request.user, pool, Action.CHANGE):
        messages.error(request, _("Only the cluster's admins may override a budget."))
        return redirect("console:pool", pool_id=pool.pk)
    try:
        job = services.scale(pool.pk, request.user, scale, override_budget=override).job
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect("console:pool", pool_id=pool.pk)
    messages.success(request, _("Job %(job)s started: %(delta)+d hosts.") % {"job": job.pk, "delta": job.delta})
    return redirect("console:job", job_id=job.pk)


def _picked(request) -> list[Host]:
    """The hosts picked in a table (``hosts`` ids), of the user's clusters; 404 if any is not one of them,
    so an id of another cluster is refused exactly as one that does not exist."""
    ids = {pk for pk in (_whole(text) for text in request.POST.getlist("hosts")[:MAX_PICKED]) if pk}
    hosts = list(
        Host.objects.restrict(request.user).filter(pk__in=ids).select_related("pool__cluster", "template", "provider")
    )
    if len(hosts) != len(ids):
        raise Http404(_("No such host."))
    return sorted(hosts, key=lambda host: host.hostname)


@login_required
@require_POST
def hosts_action(request):
    """Picked hosts: remove them (a scale-in of their pool by those hosts) or re-run their initialization.

    Without ``confirm`` it shows what would happen; with it, it does it and says what happened.
    """
    kind = request.POST.get("action", "")
    back = _next(request)
    if len(request.POST.getlist("hosts")) > MAX_PICKED:
        messages.error(request, _("Pick at most %(n)s hosts at a time.") % {"n": MAX_PICKED})
        return redirect(back or "console:hosts")
    hosts = _picked(request)
    if not hosts or kind not in ("remove", "initialize"):
        messages.error(request, _("Pick one or more hosts in the table, then an action."))
        return redirect(back or "console:hosts")
    allowed = Host.objects.restrict(request.user, Action.SCALE).filter(pk__in=[h.pk for h in hosts]).count()
    refusal = ""
    if allowed != len(hosts):
        refusal = _("Your role on this cluster does not allow changing these hosts.")
    context = {"hosts": hosts, "action": kind, "back": back, "refusal": refusal, "forbidden": bool(refusal)}
    if kind == "remove":
        return _remove(request, hosts, context)
    return _initialize(request, hosts, context)


def _remove(request, hosts: list[Host], context: dict):
    pools = {host.pool for host in hosts}
    if len(pools) > 1 and not context["refusal"]:
        context["refusal"] = _("The hosts picked are in %(n)s pools: remove hosts of one pool at a time.") % {
            "n": len(pools)
        }
    if context["refusal"]:
        return render(request, "console/hosts_confirm.html", context, status=403 if context["forbidden"] else 400)
    pool = context["pool"] = hosts[0].pool
    scale = services.ScaleRequest(hosts=tuple(host.pk for host in hosts))
    if request.POST.get("confirm") != "1":
        context.update(plan_context(request.user, pool, scale))
        return render(request, "console/hosts_confirm.html", context)
    try:
        job = services.scale(pool.pk, request.user, scale).job
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect("console:pool", pool_id=pool.pk)
    figures = {"job": job.pk, "n": len(hosts), "pool": pool}
    messages.success(request, _("Job %(job)s started: removing %(n)s hosts from %(pool)s.") % figures)
    return redirect("console:job", job_id=job.pk)


def _initialize(request, hosts: list[Host], context: dict):
    if context["refusal"]:
        return render(request, "console/hosts_confirm.html", context, status=403)
    ready = [host for host in hosts if host.status == HostStatus.READY and needs_run(host)]
    context["ready"] = ready
    context["skipped"] = [host for host in hosts if host not in ready]
    if request.POST.get("confirm") != "1":
        return render(request, "console/hosts_confirm.html", context)
    if not ready:
        context["refusal"] = _("Only ready hosts whose template has an init method (ansible or puppet) can be re-run.")
        return render(request, "console/hosts_confirm.html", context, status=400)
    by_pool: dict[int, list[Host]] = {}
    for host in ready:
        by_pool.setdefault(host.pool_id, []).append(host)
    jobs, started = [], set()
    try:
        # One job per pool, as the API's pool re-run makes: each host's run is seen where its pool's jobs are.
        for picked in by_pool.values():
            run = init_jobs.start(picked[0].pool, picked, request.user)
            jobs.append(run.job)
            started |= {each.host_id for each in run.runs}
    except ServiceError as exc:
        context["refusal"] = exc.message
        return render(request, "console/hosts_confirm.html", context, status=400)
    context.update(
        done=True,
        jobs=jobs,
        started=[host for host in hosts if host.pk in started],
        skipped=[host for host in hosts if host.pk not in started],
    )
    return render(request, "console/hosts_confirm.html", context)
