"""Console pages. Every page needs a login and shows only what restrict() allows.

Changes go through the same services as the API (so they are checked and
audited the same way); the console adds nothing of its own to the rules.
"""

import datetime
from functools import partial

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from apps.configuration import jobs as init_jobs
from apps.console.budgets import with_figures
from apps.console.edit import may_change
from apps.console.editors import cluster_actions
from apps.console.generic import shown
from apps.console.lists import HOSTS, JOB_HOSTS, JOBS, POOLS, job_steps, with_running_jobs
from apps.console.paging import paged
from apps.core.choices import Action, Role
from apps.core.exceptions import ServiceError
from apps.core.querysets import visible_with
from apps.costs import kept
from apps.costs.budgets import guard
from apps.costs.services import host_costs
from apps.inventory.api import pool_counts
from apps.inventory.choices import HostStatus
from apps.inventory.models import HOST_PAGE_DEFERS, Cluster, Host, ServicePool
from apps.provisioning import services
from apps.provisioning.api import progress
from apps.provisioning.choices import JobKind, JobStatus
from apps.provisioning.models import Job
from apps.scaling.console import pool_sections

HOSTS_PER_PAGE = 50
#: A job's hosts: a batch of 100 reads on one page.
JOB_HOSTS_PER_PAGE = 100
JOBS_PER_PAGE = 20
POOLS_PER_PAGE = 50
MEMBERS_PER_PAGE = 50
EVENTS_PER_PAGE = 100
#: Seconds between redraws of a running job's hosts table (its bar is redrawn every 2 s).
JOB_HOSTS_REFRESH = 3


class LogoutView(auth_views.LogoutView):
    """Logging out is a POST (the header's button). A GET, from a typed or bookmarked /logout/, shows a
    page with that button, or sends someone already signed out to the login page, instead of a blank 405."""

    http_method_names = ["get", "post", "options"]

    def get(self, request, *args, **kwargs):
        """The page that asks to log out."""
        if not request.user.is_authenticated:
            return redirect("console:login")
        return render(request, "console/logout.html")


def may_scale(user, obj) -> bool:
    """Whether the user's role on obj's cluster allows scaling it (and cancelling, re-running initialization)."""
    return type(obj).objects.restrict(user, Action.SCALE).filter(pk=obj.pk).exists()


def _visible_pool(user, pool_id: int) -> ServicePool:
    return get_object_or_404(ServicePool.objects.restrict(user).select_related("cluster"), pk=pool_id)


def _costs(dimension: str, pk: int) -> dict:
    """Run-rate and cost this month of one pool or cluster, as the API's lists show them: kept where still
    true (apps.costs.kept), with the moment they are of."""
    found = kept.page_costs(dimension, [pk])[pk]
    return {**found, "as_of_time": parse_datetime(found["as_of"])}


@login_required
def cluster_detail(request, cluster_id: int):
    """A cluster: its cost, a page of its pools, a page of its members."""
    cluster = get_object_or_404(Cluster.objects.restrict(request.user), pk=cluster_id)
    pools = with_running_jobs(pool_counts(cluster.pools.select_related("cluster"))).order_by("name", "pk")
    members = cluster.memberships.select_related("user").order_by("user__username", "pk")
    role = members.filter(user=request.user).values_list("role", flat=True).first()
    context = {
        "cluster": cluster,
        "role": role or (_("system administrator") if request.user.is_system_admin else ""),
        "can_manage": Cluster.objects.restrict(request.user, Action.CHANGE).filter(pk=cluster.pk).exists(),
        "roles": Role.values(),
        "cost": _costs("cluster", cluster.pk),
        "budgets": with_figures(cluster.budgets.select_related("pool")),
        "pools": shown(request, POOLS, pools, POOLS_PER_PAGE, param="pools_page"),
        "members": paged(request, members, MEMBERS_PER_PAGE, param="members_page"),
        **cluster_actions(request.user, cluster),
        "can_edit_budgets": may_change(request.user, cluster),
    }
    return render(request, "console/cluster.html", context)


def _host_statuses(pool: ServicePool) -> dict[str, int]:
    """How many of the pool's hosts are in each status, in the order of a host's life."""
    # COUNT(*), not of the key: the (pool, status) index then answers alone, without reading a host row.
    counts = dict(pool.hosts.order_by().values_list("status").annotate(n=Count("*")))
    return {status: counts[status] for status in HostStatus.values() if status in counts}


def _of_pool(pool: ServicePool, hosts) -> None:
    for host in hosts:
        host.pool = pool


@login_required
def pool_detail(request, pool_id: int):
    """A pool: its hosts by status and a page of them, a page of its jobs, a scale form for those allowed."""
    pools = visible_with(
        ServicePool.objects.select_related("cluster"),
        request.user,
        scale=(ServicePool, Action.SCALE, "pk"),
        edit=(ServicePool, Action.CHANGE, "pk"),
        operate=(ServicePool, Action.OPERATE, "pk"),
        edit_budgets=(Cluster, Action.CHANGE, "cluster_id"),
    )
    pool = get_object_or_404(pools, pk=pool_id)
    can_scale = pool.may_scale
    # One pass over the pool's hosts gives the pool's size, its ready count and the host pager's count.
    statuses = _host_statuses(pool)
    pool.size = sum(n for status, n in statuses.items() if status != HostStatus.TERMINATED)
    pool.ready = statuses.get(HostStatus.READY, 0)
    status = request.GET.get("status", "")
    if status in HostStatus.values():
        hosts, count = pool.hosts.filter(status=status), statuses.get(status, 0)
    else:
        status, hosts, count = "", pool.hosts.exclude(status=HostStatus.TERMINATED), pool.size
    jobs = pool.jobs.with_progress().select_related("pool", "requested_by").order_by("-created_at", "-pk")
    # Every host of the page is of this pool: given it, rather than joined and built again for each row.
    hosts = hosts.select_related("provider", "template").defer(*HOST_PAGE_DEFERS).order_by("pk")
    context = {
        "pool": pool,
        "statuses": statuses,
        "status": status,
        "cost": _costs("pool", pool.pk),
        "hosts": shown(
            request,
            HOSTS,
            hosts,
            HOSTS_PER_PAGE,
            count=count,
            pick="bulk-hosts" if can_scale else "",
            prepare=partial(_of_pool, pool),
        ),
        "jobs": shown(request, JOBS, jobs, JOBS_PER_PAGE, param="jobs_page"),
        "budgets": with_figures(guard.covering(pool, enforced_only=False)),
        "templates": pool.ordered_templates(only=("name", "instance_type", "provider", "provider__name")),
        "can_scale": can_scale,
        "can_edit": pool.may_edit,
        "can_edit_budgets": pool.may_edit_budgets,
        **pool_sections(request, pool, can_operate=pool.may_operate, can_appoint=pool.may_edit),
    }
    return render(request, "console/pool.html", context)


def _job_hosts(job: Job):
    """The hosts a job made, removed, or ran initialization (or its check) on."""
    if job.kind in JobKind.INIT:
        return Host.objects.filter(pk__in=job.init_runs.values("host"))
    return job.hosts.all() if job.kind == JobKind.SCALE_OUT else job.removed_hosts.all()


def _visible_job(user, job_id: int) -> Job:
    job = Job.objects.with_progress().restrict(user).select_related("pool__cluster", "requested_by")
    return get_object_or_404(job, pk=job_id)


def _by_template(job: Job) -> list[dict]:
    """A scale job's hosts by template (one query): how many it made ready (or removed), failed, and in all."""
    if job.kind == JobKind.SCALE_OUT:
        hosts, done = Host.objects.filter(job=job), Q(ready_at__isnull=False)
    elif job.kind == JobKind.SCALE_IN:
        hosts, done = Host.objects.filter(removal_job=job), Q(status=HostStatus.TERMINATED)
    else:
        return []
    rows = list(
        hosts.values("template__name")
        .annotate(
            total=Count("pk"), done=Count("pk", filter=done), failed=Count("pk", filter=Q(failed_at__isnull=False))
        )
        .order_by("template__name")
    )
    if job.kind == JobKind.SCALE_IN:
        for row in rows:  # as in its bar: a scale-in fails no host (a host removed may have failed long before)
            row["failed"] = 0
    return rows


def _progress_context(job: Job) -> dict:
    """The job's progress figures, the bar's widths in percent, and the same by template."""
    figures = progress(job)
    total = figures["total"] or 1
    figures["done"] = figures["removed"] if job.kind == JobKind.SCALE_IN else figures["ready"]
    widths = {name: round(100 * figures[name] / total, 2) for name in ("ready", "removed", "failed")}
    return {
        "job": job,
        "progress": figures,
        "widths": widths,
        "active": job.status in JobStatus.ACTIVE,
        "by_template": _by_template(job),
    }


@login_required
def job_detail(request, job_id: int):
    """A job with its progress bar (kept up to date by polling), a page of its hosts and its timeline."""
    job = _visible_job(request.user, job_id)
    hosts = _job_hosts(job)
    hosts = hosts.select_related("pool__cluster", "provider", "template").defer(*HOST_PAGE_DEFERS).order_by("pk")
    events = job.events.select_related("host").order_by("time", "pk")
    figures = _progress_context(job)
    live = JOB_HOSTS_REFRESH if figures["active"] else 0
    context = {
        **figures,
        "can_cancel": may_scale(request.user, job),
        "hosts": shown(
            request, JOB_HOSTS, hosts, JOB_HOSTS_PER_PAGE, param="hosts_page", prepare=job_steps(job), live=live
        ),
        "events": paged(request, events, EVENTS_PER_PAGE, param="events_page"),
    }
    return render(request, "console/job.html", context)


@login_required
@require_POST
def job_cancel(request, job_id: int):
    """Cancel a pending or running job from its page, through the same service (and audit) as the API."""
    job = _visible_job(request.user, job_id)
    if not may_scale(request.user, job):
        messages.error(request, _("Your role on this cluster does not allow cancelling jobs."))
        return redirect("console:job", job_id=job.pk)
    try:
        services.cancel(job.pk, request.user)
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect("console:job", job_id=job.pk)
    messages.success(request, _("Job %(job)s was cancelled.") % {"job": job.pk})
    return redirect("console:job", job_id=job.pk)


@login_required
def job_progress(request, job_id: int):
    """The progress fragment HTMX polls; when a polled job has ended, the fragment (its bar full or final) is
    swapped in and the event ``job-ended`` tells the rest of the page (hosts, timeline) to redraw itself."""
    job = _visible_job(request.user, job_id)
    context = _progress_context(job)
    response = render(request, "console/job_progress.html", context)
    if request.GET.get("active") and not context["active"]:
        response["HX-Trigger"] = "job-ended"
    return response


def _visible_host(user, host_id: int) -> Host:
    hosts = Host.objects.restrict(user).select_related("pool__cluster", "template", "provider")
    return get_object_or_404(hosts, pk=host_id)


@login_required
def host_detail(request, host_id: int):
    """A host with its initialization runs (per-host outcome and output) and a re-run button."""
    host = _visible_host(request.user, host_id)
    events = host.events.select_related("job").order_by("time", "pk")
    context = {
        "host": host,
        "cost": host_costs([host], timezone.now())[host.pk],
        "events": paged(request, events, EVENTS_PER_PAGE, param="events_page"),
        "runs": host.init_runs.all()[:20],
        "can_rerun": may_scale(request.user, host),
    }
    return render(request, "console/host.html", context)


@login_required
@require_POST
def host_initialize(request, host_id: int):
    """Re-run initialization (or, with check=1, a drift check) on a host: the same job service as the API."""
    host = _visible_host(request.user, host_id)
    if not may_scale(request.user, host):
        messages.error(request, _("Your role on this cluster does not allow re-running initialization."))
        return redirect("console:host", host_id=host.pk)
    check = request.POST.get("check") == "1"
    try:
        started = init_jobs.start(host.pool, [host], request.user, check=check)
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect("console:host", host_id=host.pk)
    if not started.runs:
        messages.error(request, _("Initialization is already running on this host."))
    elif check:
        messages.success(request, _("Drift check started (job %(job)s).") % {"job": started.job.pk})
    else:
        messages.success(request, _("Initialization started again (job %(job)s).") % {"job": started.job.pk})
    return redirect("console:host", host_id=host.pk)


#: The dimensions the costs page offers (GET /api/v1/costs/?group_by=).
COST_DIMENSIONS = (
    ("cluster", gettext_lazy("Cluster")),
    ("pool", gettext_lazy("Pool")),
    ("provider", gettext_lazy("Provider")),
    ("template", gettext_lazy("Template")),
    ("kind", gettext_lazy("Provider kind")),
    ("zone", gettext_lazy("Zone")),
    ("instance_type", gettext_lazy("Instance type")),
)


@login_required
def costs(request):
    """The costs page: a daily chart and table drawn in the browser from GET /api/v1/costs/?step=day."""
    today = timezone.localdate()
    start = today.replace(day=1)
    group_by = request.GET.get("group_by", "cluster")
    context = {
        "section": "costs",
        "dimensions": COST_DIMENSIONS,
        "group_by": group_by if group_by in dict(COST_DIMENSIONS) else "cluster",
        "start": request.GET.get("start", start.isoformat())[:10],
        "end": request.GET.get("end", (today + datetime.timedelta(days=1)).isoformat())[:10],
        "currency": request.GET.get("currency", settings.DCP_CURRENCY)[:3],
    }
    return render(request, "console/costs.html", context)
