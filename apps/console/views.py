"""Console pages. Every page needs a login and shows only what restrict() allows.

Changes go through the same services as the API (so they are checked and
audited the same way); the console adds nothing of its own to the rules.
"""

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST
from rest_framework.exceptions import ValidationError

from apps.configuration.api import rerun
from apps.console.paging import paged
from apps.core.choices import Action
from apps.core.exceptions import ServiceError
from apps.inventory.api import pool_counts
from apps.inventory.choices import HostStatus
from apps.inventory.models import Host, ServicePool
from apps.provisioning import services
from apps.provisioning.models import Job

POOLS_PER_PAGE = 50
HOSTS_PER_PAGE = 100
JOBS_PER_PAGE = 20


class LogoutView(auth_views.LogoutView):
    """Logging out is a POST (the header's button). A GET, from a typed or bookmarked /logout/, shows a
    page with that button, or sends someone already signed out to the login page, instead of a blank 405."""

    http_method_names = ["get", "post", "options"]

    def get(self, request, *args, **kwargs):
        """The page that asks to log out."""
        if not request.user.is_authenticated:
            return redirect("console:login")
        return render(request, "console/logout.html")


def _visible_pool(user, pool_id: int) -> ServicePool:
    return get_object_or_404(ServicePool.objects.restrict(user).select_related("cluster"), pk=pool_id)


@login_required
def home(request):
    """A page of the pools the user may see, with their sizes."""
    pools = pool_counts(ServicePool.objects.restrict(request.user).select_related("cluster"))
    page = paged(request, pools.order_by("cluster__name", "name", "pk"), POOLS_PER_PAGE)
    return render(request, "console/home.html", {"page": page})


def _host_statuses(pool: ServicePool) -> dict[str, int]:
    """How many of the pool's hosts are in each status, in the order of a host's life."""
    counts = dict(pool.hosts.order_by().values_list("status").annotate(n=Count("pk")))
    return {status: counts[status] for status in HostStatus.values() if status in counts}


@login_required
def pool_detail(request, pool_id: int):
    """A pool: its hosts by status and a page of them, a page of its jobs, a scale form for those allowed."""
    pool = _visible_pool(request.user, pool_id)
    can_scale = ServicePool.objects.restrict(request.user, Action.SCALE).filter(pk=pool.pk).exists()
    # One pass over the pool's hosts gives the pool's size, its ready count and the host pager's count.
    statuses = _host_statuses(pool)
    pool.size = sum(n for status, n in statuses.items() if status != HostStatus.TERMINATED)
    pool.ready = statuses.get(HostStatus.READY, 0)
    status = request.GET.get("status", "")
    if status in HostStatus.values():
        hosts, shown = pool.hosts.filter(status=status), statuses.get(status, 0)
    else:
        status, hosts, shown = "", pool.hosts.exclude(status=HostStatus.TERMINATED), pool.size
    jobs = pool.jobs.select_related("requested_by").order_by("-created_at", "-pk")
    context = {
        "pool": pool,
        "statuses": statuses,
        "status": status,
        "hosts": paged(request, hosts.order_by("pk"), HOSTS_PER_PAGE, count=shown),
        "jobs": paged(request, jobs, JOBS_PER_PAGE, param="jobs_page"),
        "templates": pool.ordered_templates(),
        "can_scale": can_scale,
    }
    return render(request, "console/pool.html", context)


@login_required
@require_POST
def pool_scale(request, pool_id: int):
    """Scale a pool by a delta from the console form."""
    pool = _visible_pool(request.user, pool_id)
    if not ServicePool.objects.restrict(request.user, Action.SCALE).filter(pk=pool.pk).exists():
        messages.error(request, "Your role on this cluster does not allow scaling.")
        return redirect("console:pool", pool_id=pool.pk)
    try:
        delta = int(request.POST.get("delta", ""))
    except ValueError:
        messages.error(request, "Give the number of hosts to add (or a negative number to remove).")
        return redirect("console:pool", pool_id=pool.pk)
    if delta == 0:
        messages.error(request, "A delta of 0 changes nothing.")
        return redirect("console:pool", pool_id=pool.pk)
    try:
        job = services.scale(pool.pk, request.user, services.ScaleRequest(delta=delta)).job
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect("console:pool", pool_id=pool.pk)
    messages.success(request, f"Job {job.pk} started: {job.delta:+d} hosts.")
    return redirect("console:job", job_id=job.pk)


@login_required
def job_detail(request, job_id: int):
    """A job with its progress and event timeline."""
    job = Job.objects.restrict(request.user).select_related("pool__cluster").filter(pk=job_id).first()
    if job is None:
        raise Http404("No such job.")
    events = job.events.select_related("host")
    hosts = job.hosts.all() if job.kind == "scale_out" else job.removed_hosts.all()
    return render(request, "console/job.html", {"job": job, "events": events, "hosts": hosts})


def _visible_host(user, host_id: int) -> Host:
    return get_object_or_404(Host.objects.restrict(user).select_related("pool__cluster", "template"), pk=host_id)


@login_required
def host_detail(request, host_id: int):
    """A host with its initialization runs (per-host outcome and output) and a re-run button."""
    host = _visible_host(request.user, host_id)
    context = {
        "host": host,
        "runs": host.init_runs.all()[:20],
        "can_rerun": Host.objects.restrict(request.user, Action.SCALE).filter(pk=host.pk).exists(),
    }
    return render(request, "console/host.html", context)


@login_required
@require_POST
def host_initialize(request, host_id: int):
    """Re-run initialization on a host from the console, through the same checks as the API."""
    host = _visible_host(request.user, host_id)
    if not Host.objects.restrict(request.user, Action.SCALE).filter(pk=host.pk).exists():
        messages.error(request, "Your role on this cluster does not allow re-running initialization.")
        return redirect("console:host", host_id=host.pk)
    try:
        answer = rerun([host], request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(str(item) for items in exc.detail.values() for item in items))
        return redirect("console:host", host_id=host.pk)
    if answer["runs"]:
        messages.success(request, "Initialization started again.")
    else:
        messages.error(request, "Initialization is already running on this host.")
    return redirect("console:host", host_id=host.pk)
