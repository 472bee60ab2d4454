"""Per-host timelines of a job: each host's steps from requested to ready (or removed), with durations."""

from __future__ import annotations

from apps.inventory.models import Host
from apps.provisioning.choices import EventKind, JobKind
from apps.provisioning.models import Job

REQUESTED = EventKind.REQUESTED
# The step that ends a host's part in a job: ready for a scale-out, terminated for a scale-in.
FINAL = {
    JobKind.SCALE_OUT: EventKind.READY,
    JobKind.SCALE_IN: EventKind.TERMINATED,
    JobKind.INITIALIZE: EventKind.INITIALIZED,
    JobKind.CHECK: EventKind.CHECKED,
}


def host_timelines(job: Job) -> list[dict]:
    """One entry per host the job made (or removed), its steps in order, each with seconds since the last.

    The first step, ``requested``, is when the host's row was planned; the
    others are the job's events for that host. ``total_seconds`` runs from the
    first step to the job's final one for the host, or is None while it is not
    there yet (or never got there).
    """
    hosts = _hosts(job)
    hosts = list(hosts.order_by("pk").values("pk", "hostname", "status", "zone", "template_id", "created_at"))
    steps: dict[int, list] = {host["pk"]: [] for host in hosts}
    # A re-run or check asks for its hosts when it claims their runs.
    requested = dict(job.init_runs.values_list("host", "started_at")) if job.kind in JobKind.INIT else {}
    for host_id, kind, time in job.events.filter(host__in=list(steps)).values_list("host", "kind", "time"):
        steps[host_id].append((kind, time))
    timelines = []
    for host in hosts:
        start = host["created_at"] if job.kind == JobKind.SCALE_OUT else requested.get(host["pk"])
        trail = ([(REQUESTED, start)] if start else []) + steps[host["pk"]]
        timelines.append(
            {
                "host": host["pk"],
                "hostname": host["hostname"],
                "status": host["status"],
                "zone": host["zone"],
                "template": host["template_id"],
                "steps": _steps(trail),
                "total_seconds": _total(trail, FINAL[job.kind]),
            }
        )
    return timelines


def _hosts(job: Job):
    """The hosts a job is about: those it made, removed, or ran initialization on."""
    if job.kind == JobKind.SCALE_IN:
        return job.removed_hosts.all()
    if job.kind in JobKind.INIT:
        return Host.objects.filter(pk__in=job.init_runs.values("host"))
    return job.hosts.all()


def _steps(trail: list) -> list[dict]:
    """The steps with seconds since the one before (0 for the first)."""
    out, previous = [], None
    for kind, time in trail:
        seconds = (time - previous).total_seconds() if previous else 0.0
        out.append({"kind": kind, "time": time, "seconds": round(seconds, 3)})
        previous = time
    return out


def _total(trail: list, final: str) -> float | None:
    """Seconds from the first step to the final one, if it was reached."""
    ends = [time for kind, time in trail if kind == final]
    if not trail or not ends:
        return None
    return round((ends[-1] - trail[0][1]).total_seconds(), 3)
