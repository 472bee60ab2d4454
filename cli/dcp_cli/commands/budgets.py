"""dcp budget list and dcp report list|download: the budgets and the generated cost reports."""

import re
import sys
from pathlib import Path

import click

from dcp_cli import resolve
from dcp_cli.client import API
from dcp_cli.output import print_list, stderr_console
from dcp_cli.state import State, common, limit_option, pass_state, profile_option

BUDGET_COLUMNS = ["id", "cluster", "pool", "name", "period", "amount", "currency", "spent", "forecast", "status"]
MISSING = "This DCP server has no {what} endpoint ({path}); it is older than this dcp command."


@click.group()
def budget():
    """Budgets per cluster (optionally per pool)."""


@budget.command("list")
@common
@click.option("--cluster", help="Only this cluster's budgets (name or id).")
@click.option("--pool", help="Only this pool's budgets (CLUSTER/POOL or id).")
@limit_option
@pass_state
def list_budgets(state: State, cluster, pool, limit):
    """Budgets with what is spent, the forecast and the status (ok, warning, exceeded)."""
    api = state.api()
    path = f"{API}/budgets/"
    params = resolve.filters(api, cluster=cluster, pool=pool)
    rows = api.all(path, params, limit=limit, missing=MISSING.format(what="budgets", path=path))
    columns = [
        "id",
        "cluster",
        "pool",
        "name",
        "period",
        "amount",
        "currency",
        "spent",
        "forecast",
        "status",
        "enforce",
    ]
    print_list(rows, state.output, state.columns, columns)


@click.group()
def report():
    """Generated cost reports."""


@report.command("list")
@common
@click.option("--schedule", help="Only this schedule's reports (name or id).")
@limit_option
@pass_state
def list_reports(state: State, schedule, limit):
    """Cost reports generated so far."""
    api = state.api()
    path = f"{API}/cost-reports/"
    missing = MISSING.format(what="cost reports", path=path)
    params = {"schedule": resolve.by_name(api, "cost-report-schedules", "schedule", schedule) if schedule else None}
    rows = api.all(path, params, limit=limit, missing=missing)
    columns = ["id", "schedule", "period_start", "period_end", "currency", "total"]
    print_list(rows, state.output, state.columns, columns)


@report.command("download")
@profile_option
@click.argument("report_id", type=int)
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx"]), default="csv", show_default=True)
@click.option(
    "-O",
    "--output-file",
    "target",
    help="Write here ('-' for standard output; default: the server's file name, else report-ID.FORMAT).",
)
@pass_state
def download(state: State, report_id, fmt, target):
    """Download one report as CSV or XLSX."""
    path = f"{API}/cost-reports/{report_id}/"
    answer = state.api().request(
        "GET",
        path,
        params={"format": fmt},
        headers={"Accept": "*/*"},
        missing=f"No cost report {report_id} that you can see (or this server has no {path} endpoint).",
    )
    if target == "-":
        sys.stdout.buffer.write(answer.content)
        sys.stdout.flush()
        return
    name = target or _served_name(answer.headers.get("Content-Disposition", "")) or f"report-{report_id}.{fmt}"
    Path(name).write_bytes(answer.content)
    stderr_console().print(f"Wrote {name} ({len(answer.content)} bytes).", markup=False)


def _served_name(disposition: str) -> str | None:
    """The file name the server suggests, without any directory part."""
    match = re.search(r'filename="?([^";]+)"?', disposition)
    return Path(match[1]).name if match else None
