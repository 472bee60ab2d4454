"""dcp job list|show|watch|cancel."""

import click

from dcp_cli import resolve
from dcp_cli.client import API
from dcp_cli.output import print_list, print_object
from dcp_cli.state import State, common, pass_state
from dcp_cli.waiting import interval_option, raise_for_status, wait

LIST_COLUMNS = ["id", "pool", "kind", "delta", "status", "progress", "requested_by", "created_at", "finished_at"]
#: A job's long parts (its timeline, its hosts' steps, its plan) show in JSON and YAML, not in the table.
LONG = ("events", "hosts", "plan")


def short(job: dict) -> list[str]:
    """The job's fields a table shows by default."""
    return [column for column in job if column not in LONG]


@click.group()
def job():
    """Scale jobs: list, show, watch and cancel them."""


@job.command("list")
@common
@click.option("--pool", help="Only this pool's jobs (CLUSTER/POOL or id).")
@click.option("--cluster", help="Only this cluster's jobs (name or id).")
@click.option("--status", help="pending, running, succeeded, partial, failed or cancelled.")
@click.option("--kind", help="scale_out, scale_in, initialize or check.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True, help="At most this many.")
@pass_state
def list_jobs(state: State, pool, cluster, status, kind, limit):
    """Jobs, newest first."""
    api = state.api()
    params = {
        **resolve.filters(api, cluster=cluster, pool=pool),
        "status": status,
        "kind": kind,
        "ordering": "-id",
    }
    print_list(api.all(f"{API}/jobs/", params, limit=limit), state.output, state.columns, LIST_COLUMNS)


@job.command("show")
@common
@click.argument("job_id", type=int)
@pass_state
def show_job(state: State, job_id):
    """One job, with its events (and the hosts' steps in JSON or YAML)."""
    found = state.api().get(f"{API}/jobs/{job_id}/")
    print_object(found, state.output, state.columns, short(found))
    if state.output == "table" and not state.columns and found.get("events"):
        print_list(found["events"], "table", (), ["time", "kind", "hostname", "message"])


@job.command("watch")
@common
@click.argument("job_id", type=int)
@click.option("--timeout", type=click.FloatRange(min=0), help="Give up after this many seconds (exit 3).")
@interval_option
@pass_state
def watch_job(state: State, job_id, timeout, interval):
    """Follow a job until it ends; print it as it ended; exit code by its status."""
    ended = wait(state.api(), job_id, timeout=timeout, interval=interval)
    print_object(ended, state.output, state.columns, short(ended))
    raise_for_status(ended)


@job.command("cancel")
@common
@click.argument("job_id", type=int)
@pass_state
def cancel_job(state: State, job_id):
    """Stop a job: the pool's desired size gives back what the job had not done. A job that has ended: exit 1."""
    cancelled = state.api().post(f"{API}/jobs/{job_id}/cancel/", ok=(200,)).json()
    print_object(cancelled, state.output, state.columns, short(cancelled))
