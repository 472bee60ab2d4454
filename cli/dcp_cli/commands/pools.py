"""dcp pool list|show|scale."""

import hashlib
import json
from datetime import UTC, datetime

import click
from rich.table import Table

from dcp_cli import resolve
from dcp_cli.client import API
from dcp_cli.output import print_list, print_object, stderr_console, stdout_console
from dcp_cli.state import State, common, limit_option, pass_state
from dcp_cli.waiting import interval_option, raise_for_status, wait

LIST_COLUMNS = ["id", "cluster", "name", "min_size", "max_size", "desired_size", "size", "ready"]
JOB_COLUMNS = ["id", "pool", "kind", "delta", "status", "progress", "desired_before", "desired_after", "message"]


@click.group()
def pool():
    """Service pools: list, show and scale them."""


@pool.command("list")
@common
@click.option("--cluster", help="Only this cluster's pools (name or id).")
@limit_option
@pass_state
def list_pools(state: State, cluster, limit):
    """Pools of the clusters you belong to."""
    api = state.api()
    params = resolve.filters(api, cluster=cluster)
    print_list(api.all(f"{API}/pools/", params, limit=limit), state.output, state.columns, LIST_COLUMNS)


@pool.command("show")
@common
@click.argument("name")
@pass_state
def show_pool(state: State, name):
    """One pool: CLUSTER/POOL, a pool name only one cluster has, or an id."""
    api = state.api()
    print_object(api.get(f"{API}/pools/{resolve.pool_id(api, name)}/"), state.output, state.columns)


def default_key(url: str, pool_id: int, body: dict, now: datetime | None = None) -> str:
    """A key for this request this minute: the same script line retried within the minute scales once."""
    minute = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%MZ")
    text = json.dumps({"url": url, "pool": pool_id, "body": body, "minute": minute}, sort_keys=True)
    return "dcp-" + hashlib.sha256(text.encode()).hexdigest()[:32]


def _check_choice(delta, to, remove) -> None:
    """Exactly one of --delta, --to or --remove, and a delta that changes something."""
    given = [
        name for name, value in (("--delta", delta), ("--to", to), ("--remove", remove or None)) if value is not None
    ]
    if len(given) != 1:
        raise click.UsageError("Give exactly one of --delta, --to or --remove.")
    if delta == 0:
        raise click.UsageError("--delta 0 changes nothing: give a positive number to add hosts, negative to remove.")


def _body(api, pool_id: int, delta, to, remove) -> dict:
    """The scale request's body: exactly one of delta, desired_size or hosts (host names resolved to ids)."""
    if remove:
        return {"hosts": sorted({resolve.host_id(api, name, pool_id) for name in remove})}
    if delta is not None:
        return {"delta": delta}
    return {"desired_size": to}


@pool.command("scale")
@common
@click.argument("name")
@click.option("--delta", type=int, help="Hosts to add (negative: to remove).")
@click.option("--to", type=click.IntRange(min=0), help="The pool's new desired size.")
@click.option("--remove", multiple=True, metavar="HOST", help="Remove this host (hostname or id; repeat).")
@click.option("--dry-run", is_flag=True, help="Print the plan, its cost and the budgets it touches; change nothing.")
@click.option("--override-budget", is_flag=True, help="Go past an enforced budget (cluster admins only).")
@click.option(
    "--idempotency-key",
    help="Key that makes a retry answer the same job (default: derived from the arguments and the minute).",
)
@click.option("--wait", "wait_for", is_flag=True, help="Follow the job until it ends; exit code by its status.")
@click.option("--timeout", type=click.FloatRange(min=0), help="With --wait: give up after this many seconds.")
@interval_option
@pass_state
def scale(
    state: State, name, delta, to, remove, dry_run, override_budget, idempotency_key, wait_for, timeout, interval
):
    """Change a pool's size: --delta N, --to N or --remove HOST...

    Prints the job (202 at once); with --wait, follows it to its end and
    prints the job as it ended. The Idempotency-Key used is printed on
    stderr: running the same line again within the minute (or with the
    same --idempotency-key) answers the same job instead of scaling twice.
    """
    if timeout is not None and not wait_for:
        raise click.UsageError("--timeout only applies with --wait.")
    _check_choice(delta, to, remove)
    api = state.api()
    pool_id = resolve.pool_id(api, name)
    body = _body(api, pool_id, delta, to, remove)
    if override_budget:
        body["override_budget"] = True
    path = f"{API}/pools/{pool_id}/scale/"
    if dry_run:
        plan = api.post(path, {**body, "dry_run": True}, ok=(200,)).json()
        print_plan(plan, state)
        return
    key = idempotency_key or default_key(api.url, pool_id, body)
    console = stderr_console()
    console.print(f"Idempotency-Key: {key}", markup=False)
    answer = api.post(path, body, ok=(202,), headers={"Idempotency-Key": key})
    job = answer.json()
    if answer.headers.get("Idempotent-Replayed") == "true":
        console.print(f"Job {job['id']} was already made by a request with this key; not scaling again.", markup=False)
    else:
        console.print(
            f"Job {job['id']}: {job['kind']} {job['delta']:+d} ({job['desired_before']} → {job['desired_after']}).",
            markup=False,
        )
    if wait_for:
        job = wait(api, job["id"], timeout=timeout, interval=interval)
    print_object(job, state.output, state.columns, JOB_COLUMNS)
    if wait_for:
        raise_for_status(job)


def print_plan(plan: dict, state: State) -> None:
    """A dry run: the API's object for json/yaml, else the placements (or removals) and the cost."""
    if state.output in ("json", "yaml") or state.columns:
        print_object(plan, state.output, state.columns)
        return
    steps = plan.get("plan") or {}
    if "remove" in steps:
        print_list(steps["remove"], state.output, (), ["host", "hostname", "status"])
    else:
        print_list(steps.get("placements", []), state.output, (), ["template_name", "provider", "zone", "count"])
    if state.output != "table":
        return
    console = stdout_console()
    console.print(
        f"Pool {plan['pool']}: {plan['desired_before']} → {plan['desired_after']} ({plan['delta']:+d}).", markup=False
    )
    if steps.get("shortfall"):
        console.print(f"Cannot place {steps['shortfall']} hosts.", markup=False)
    for note in steps.get("notes", []):
        console.print(f"Note: {note}", markup=False)
    _print_cost(console, steps.get("cost"))
    _print_budgets(console, plan.get("budgets"))


def _print_cost(console, cost: dict | None) -> None:
    """What the plan's new hosts add per hour and per month, by template."""
    if cost:
        table = Table(
            "template", "hosts", "per hour", "per month", "unpriced hosts", title=f"Cost ({cost['currency']})"
        )
        for line in cost.get("templates", []):
            table.add_row(
                line["template_name"],
                str(line["hosts"]),
                line["per_hour"],
                line["per_month"],
                str(line.get("unpriced_hosts", 0)),
            )
        table.add_row("total", "", cost["per_hour"], cost["per_month"], str(cost.get("unpriced_hosts", 0)))
        console.print(table)


def _print_budgets(console, budgets: list[dict] | None) -> None:
    """The budgets covering the pool: forecast now, what the plan adds, and whether a real request is refused."""
    if not budgets:
        return
    table = Table("budget", "amount", "forecast", "adds", "forecast after", "%", "enforced", "over", title="Budgets")
    for entry in budgets:
        table.add_row(
            str(entry.get("name") or entry.get("budget")),
            f"{entry['amount']} {entry['currency']}",
            entry["forecast"],
            entry["adds"],
            entry["forecast_after"],
            entry["percent_after"],
            "yes" if entry.get("enforce") else "no",
            "OVER" if entry.get("over") else "",
        )
    console.print(table)
