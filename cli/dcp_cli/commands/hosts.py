"""dcp host list|show|reinit."""

import click

from dcp_cli import resolve
from dcp_cli.client import API
from dcp_cli.output import print_list, print_object
from dcp_cli.state import State, common, limit_option, pass_state

LIST_COLUMNS = ["id", "hostname", "pool", "status", "zone", "private_ip", "instance_id", "hourly_price", "cost"]


@click.group()
def host():
    """Hosts: list, show, and run initialization again."""


@host.command("list")
@common
@click.option("--pool", help="Only this pool's hosts (CLUSTER/POOL or id).")
@click.option("--cluster", help="Only this cluster's hosts (name or id).")
@click.option("--provider", help="Only hosts of this provider account (name or id).")
@click.option("--status", help="pending, creating, initializing, ready, failed, lost, terminating or terminated.")
@click.option("--job", "job_id", type=int, help="Only hosts this job made.")
@limit_option
@pass_state
def list_hosts(state: State, pool, cluster, provider, status, job_id, limit):
    """Hosts of the clusters you belong to."""
    api = state.api()
    params = {
        **resolve.filters(api, cluster=cluster, pool=pool, provider=provider),
        "status": status,
        "job": job_id,
    }
    print_list(api.all(f"{API}/hosts/", params, limit=limit), state.output, state.columns, LIST_COLUMNS)


@host.command("show")
@common
@click.argument("name")
@pass_state
def show_host(state: State, name):
    """One host, by hostname or id."""
    api = state.api()
    print_object(api.get(f"{API}/hosts/{resolve.host_id(api, name)}/"), state.output, state.columns)


@host.command("reinit")
@common
@click.argument("names", nargs=-1, required=True, metavar="HOST...")
@click.option("--forget-host-keys", is_flag=True, help="The host was rebuilt: accept its new SSH host keys.")
@click.option("--check", is_flag=True, help="Only check for drift from the base state (changes nothing).")
@pass_state
def reinit(state: State, names, forget_host_keys, check):
    """Run initialization again (or a drift check) on ready hosts; prints the runs started and their jobs
    (and hosts skipped, with why). Follow a job with `dcp job watch ID`."""
    api = state.api()
    runs, skipped, jobs = [], [], []
    for name in names:
        answer = api.post(
            f"{API}/hosts/{resolve.host_id(api, name)}/initialize/",
            {"forget_host_keys": forget_host_keys, "check": check},
        )
        body = answer.json()
        runs += body.get("runs", [])
        skipped += body.get("skipped", [])
        jobs += [body["id"]] if "id" in body else []
    if state.output in ("json", "yaml"):
        print_object({"runs": runs, "skipped": skipped, "jobs": jobs}, state.output, state.columns)
        return
    print_list(runs, state.output, state.columns, ["id", "host", "job", "method", "status"])
    for item in skipped:
        click.echo(f"Skipped host {item['host']}: {item['reason']}", err=True)
