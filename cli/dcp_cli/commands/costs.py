"""dcp cost: what the fleet cost, grouped, over a period (GET /api/v1/costs/)."""

import re
from datetime import date, timedelta

import click

from dcp_cli import resolve
from dcp_cli.client import API
from dcp_cli.output import print_list, print_object, stdout_console
from dcp_cli.state import State, common, pass_state

PERIODS = (
    "today, yesterday, this-week, last-week, this-month, last-month, this-quarter, last-quarter, "
    "this-year, last-year, YYYY-MM or YYYY"
)
ROW_COLUMNS = ["key", "cost", "host_hours", "unpriced_host_hours"]


def _month_start(day: date, months_back: int = 0) -> date:
    index = day.year * 12 + day.month - 1 - months_back
    return date(index // 12, index % 12 + 1, 1)


def period_bounds(name: str, today: date) -> tuple[date, date]:
    """A named period as [start, end) dates; the server reads a date as its midnight in DCP_TIME_ZONE."""
    week = today - timedelta(days=today.weekday())
    quarter = _month_start(today, (today.month - 1) % 3)
    named = {
        "today": (today, today + timedelta(days=1)),
        "yesterday": (today - timedelta(days=1), today),
        "this-week": (week, week + timedelta(days=7)),
        "last-week": (week - timedelta(days=7), week),
        "this-month": (_month_start(today), _month_start(today, -1)),
        "last-month": (_month_start(today, 1), _month_start(today)),
        "this-quarter": (quarter, _month_start(quarter, -3)),
        "last-quarter": (_month_start(quarter, 3), quarter),
        "this-year": (date(today.year, 1, 1), date(today.year + 1, 1, 1)),
        "last-year": (date(today.year - 1, 1, 1), date(today.year, 1, 1)),
    }
    if name in named:
        return named[name]
    if match := re.fullmatch(r"(\d{4})-(\d{2})", name):
        year, month = int(match[1]), int(match[2])
        if 1 <= month <= 12:
            return date(year, month, 1), _month_start(date(year, month, 1), -1)
    if re.fullmatch(r"\d{4}", name):
        return date(int(name), 1, 1), date(int(name) + 1, 1, 1)
    raise click.BadParameter(f"{name!r} is not a period: use {PERIODS}.", param_hint="--period")


@click.command()
@common
@click.option(
    "--group-by",
    default="pool",
    show_default=True,
    help="cluster, pool, provider, template, kind, zone, idc, instance_type; several comma-separated.",
)
@click.option("--start", help="From this date or ISO 8601 instant (default: the start of this month).")
@click.option("--end", help="Until this date or instant, excluded (default: the end of this month).")
@click.option("--period", help=f"Instead of --start/--end: {PERIODS}.")
@click.option("--step", type=click.Choice(["day", "week", "month"]), help="A time series by this step.")
@click.option("--currency", help="Report currency, ISO 4217 (default: the server's DCP_CURRENCY).")
@click.option("--cluster", help="Only this cluster (name or id).")
@click.option("--pool", help="Only this pool (CLUSTER/POOL or id).")
@click.option("--provider", help="Only this provider account (name or id).")
@pass_state
def cost(state: State, group_by, start, end, period, step, currency, cluster, pool, provider):
    """Cost by group over a period, in one currency; unpriced hours are reported, never counted as 0.

    JSON and YAML print the API's answer; table, csv and value print its rows
    (with --step, one row per bucket and group, the bucket's start first).
    """
    if period and (start or end):
        raise click.UsageError("Give --period or --start/--end, not both.")
    if period:
        start, end = (day.isoformat() for day in period_bounds(period, date.today()))
    api = state.api()
    params = {
        "group_by": group_by,
        "start": start,
        "end": end,
        "step": step,
        "currency": currency,
        **resolve.filters(api, cluster=cluster, pool=pool, provider=provider),
    }
    answer = api.get(f"{API}/costs/", params={key: value for key, value in params.items() if value is not None})
    if state.output in ("json", "yaml"):
        print_object(answer, state.output, state.columns)
        return
    if step:
        rows = [{"start": bucket["start"], **row} for bucket in answer.get("series", []) for row in bucket["rows"]]
        print_list(rows, state.output, state.columns, ["start", *ROW_COLUMNS])
    else:
        print_list(answer.get("rows", []), state.output, state.columns, ROW_COLUMNS)
    if state.output == "table":
        _footer(answer)


def _footer(answer: dict) -> None:
    """The total and what it leaves out, under the table."""
    console = stdout_console()
    console.print(
        f"Total {answer['total']} {answer['currency']} from {answer['start']} to {answer['end']}; "
        f"{answer.get('unpriced_host_hours', '0')} unpriced host-hours.",
        markup=False,
    )
    if answer.get("idle_total") is not None:
        console.print(f"Idle physical machines: {answer['idle_total']} {answer['currency']}.", markup=False)
    for missing in answer.get("missing_rates", []):
        console.print(f"Missing exchange rate: {missing}", markup=False)
    if answer.get("note"):
        console.print(answer["note"], markup=False)
