"""dcp schedule list|create|delete|history and dcp policy list|create|delete|history|rotate-token."""

import click

from dcp_cli import resolve
from dcp_cli.client import API
from dcp_cli.output import print_list, print_object, stderr_console
from dcp_cli.state import State, common, limit_option, pass_state, profile_option

MISSING = "This DCP server has no {what} endpoint ({path}); it is older than this dcp command."
SCHEDULE_COLUMNS = ["id", "pool", "name", "desired_size", "delta", "cron", "run_at", "time_zone", "next_occurrences"]
OCCURRENCE_COLUMNS = ["time", "kind", "status", "size_before", "size_after", "job", "message"]
POLICY_COLUMNS = [
    "id",
    "pool",
    "name",
    "alert_name",
    "step_out",
    "step_out_unit",
    "step_in",
    "cooldown_seconds",
    "last_scaled_at",
    "webhook",
]
TRIGGER_COLUMNS = ["time", "source", "status", "decision", "size_before", "size_after", "job", "message"]


def _filters(api, cluster, pool) -> dict:
    found = resolve.filters(api, cluster=cluster, pool=pool)
    return {"cluster": found["cluster"], "pool": found["pool"]}


def _delete(state: State, kind: str, path: str, object_id: int) -> None:
    state.api().request("DELETE", f"{path}{object_id}/", ok=(204,), missing=f"No {kind} {object_id} that you can see.")
    stderr_console().print(f"Deleted {kind} {object_id}.", markup=False)


@click.group()
def schedule():
    """Scaling schedules: a pool's planned sizes, on a cron expression or once."""


@schedule.command("list")
@common
@click.option("--cluster", help="Only this cluster's schedules (name or id).")
@click.option("--pool", help="Only this pool's schedules (CLUSTER/POOL or id).")
@limit_option
@pass_state
def list_schedules(state: State, cluster, pool, limit):
    """Schedules with their next occurrences (in each schedule's time zone)."""
    api = state.api()
    path = f"{API}/scaling-schedules/"
    rows = api.all(path, _filters(api, cluster, pool), limit=limit, missing=MISSING.format(what="schedules", path=path))
    print_list(rows, state.output, state.columns, SCHEDULE_COLUMNS)


@schedule.command("create")
@common
@click.argument("pool")
@click.argument("name")
@click.option("--to", "desired_size", type=click.IntRange(min=0), help="Scale the pool to this desired size.")
@click.option("--delta", type=int, help="Scale the pool by this many hosts (negative: remove).")
@click.option("--cron", help='When, as five cron fields, e.g. "0 20 * * 6" (Saturdays 20:00).')
@click.option("--at", "run_at", help="Once, at this ISO 8601 time with its offset, e.g. 2026-12-31T20:00:00+08:00.")
@click.option("--time-zone", default="UTC", show_default=True, help="The zone --cron is read in (IANA name).")
@click.option("--duration", type=click.IntRange(min=1), help="Minutes after which the pool returns to its size.")
@click.option("--grace", type=click.IntRange(min=0), help="Seconds late an occurrence may still run (default 600).")
@click.option("--disabled", is_flag=True, help="Make it disabled (it runs nothing until enabled).")
@pass_state
def create_schedule(state: State, pool, name, desired_size, delta, cron, run_at, time_zone, duration, grace, disabled):
    """Plan a pool's size: --to N or --delta N, with --cron EXPR or --at TIME."""
    if (desired_size is None) == (delta is None):
        raise click.UsageError("Give exactly one of --to or --delta.")
    if (cron is None) == (run_at is None):
        raise click.UsageError("Give exactly one of --cron (repeating) or --at (once).")
    api = state.api()
    body = {"pool": resolve.pool_id(api, pool), "name": name, "time_zone": time_zone, "enabled": not disabled}
    given = {
        "desired_size": desired_size,
        "delta": delta,
        "cron": cron,
        "run_at": run_at,
        "duration_minutes": duration,
        "grace_seconds": grace,
    }
    body.update({key: value for key, value in given.items() if value is not None})
    made = api.post(f"{API}/scaling-schedules/", body, ok=(201,)).json()
    print_object(made, state.output, state.columns)


@schedule.command("delete")
@profile_option
@click.argument("schedule_id", type=int)
@pass_state
def delete_schedule(state: State, schedule_id):
    """Delete a schedule (its occurrences go with it; jobs it made stay)."""
    _delete(state, "schedule", f"{API}/scaling-schedules/", schedule_id)


@schedule.command("history")
@common
@click.argument("schedule_id", type=int)
@limit_option
@pass_state
def schedule_history(state: State, schedule_id, limit):
    """What became of a schedule's occurrences: scaled, missed, refused by the budget..."""
    rows = state.api().all(f"{API}/scaling-occurrences/", {"schedule": schedule_id}, limit=limit)
    print_list(rows, state.output, state.columns, OCCURRENCE_COLUMNS)


@click.group()
def policy():
    """Scaling policies: scale a pool when its alert fires (Alertmanager's webhook)."""


@policy.command("list")
@common
@click.option("--cluster", help="Only this cluster's policies (name or id).")
@click.option("--pool", help="Only this pool's policies (CLUSTER/POOL or id).")
@limit_option
@pass_state
def list_policies(state: State, cluster, pool, limit):
    """Policies with their steps, cooldown, last scale and webhook."""
    api = state.api()
    path = f"{API}/scaling-policies/"
    rows = api.all(path, _filters(api, cluster, pool), limit=limit, missing=MISSING.format(what="policies", path=path))
    print_list(rows, state.output, state.columns, POLICY_COLUMNS)


@policy.command("create")
@common
@click.argument("pool")
@click.argument("name")
@click.option("--alert", "alert_name", required=True, help="The alertname this policy acts on.")
@click.option("--step-out", type=click.IntRange(min=1), required=True, help="Hosts (or percent) to add per trigger.")
@click.option("--step-in", type=click.IntRange(min=1), help="Hosts (or percent) to remove once resolved and stable.")
@click.option("--percent", is_flag=True, help="Steps are percents of the desired size, not hosts.")
@click.option("--stable", type=click.IntRange(min=0), help="Seconds resolved before a step in (default 600).")
@click.option("--cooldown", type=click.IntRange(min=0), help="Seconds between two scales (default 300).")
@click.option("--min", "min_size", type=click.IntRange(min=0), help="The policy's own lower bound.")
@click.option("--max", "max_size", type=click.IntRange(min=0), help="The policy's own upper bound.")
@pass_state
def create_policy(
    state: State, pool, name, alert_name, step_out, step_in, percent, stable, cooldown, min_size, max_size
):
    """Make a policy; its webhook token is printed this once (put it in Alertmanager's http_config)."""
    api = state.api()
    unit = "percent" if percent else "hosts"
    body = {
        "pool": resolve.pool_id(api, pool),
        "name": name,
        "alert_name": alert_name,
        "step_out": step_out,
        "step_out_unit": unit,
        "step_in_unit": unit,
    }
    given = {
        "step_in": step_in,
        "stable_seconds": stable,
        "cooldown_seconds": cooldown,
        "min_size": min_size,
        "max_size": max_size,
    }
    body.update({key: value for key, value in given.items() if value is not None})
    made = api.post(f"{API}/scaling-policies/", body, ok=(201,)).json()
    print_object(made, state.output, state.columns)
    stderr_console().print("The token is shown this once: keep it where Alertmanager reads it.", markup=False)


@policy.command("delete")
@profile_option
@click.argument("policy_id", type=int)
@pass_state
def delete_policy(state: State, policy_id):
    """Delete a policy (its triggers go with it; jobs it made stay)."""
    _delete(state, "policy", f"{API}/scaling-policies/", policy_id)


@policy.command("history")
@common
@click.argument("policy_id", type=int)
@limit_option
@pass_state
def policy_history(state: State, policy_id, limit):
    """A policy's triggers and decisions: scaled, cooldown, at_bound, budget_refused, unknown_alert..."""
    rows = state.api().all(f"{API}/scaling-triggers/", {"policy": policy_id}, limit=limit)
    print_list(rows, state.output, state.columns, TRIGGER_COLUMNS)


@policy.command("rotate-token")
@common
@click.argument("policy_id", type=int)
@pass_state
def rotate_token(state: State, policy_id):
    """Give a policy a new webhook token (printed this once); the old one stops working."""
    answer = state.api().post(f"{API}/scaling-policies/{policy_id}/rotate-token/", ok=(200,))
    print_object(answer.json(), state.output, state.columns, ["id", "name", "token", "webhook"])


def _switch(state: State, path: str, object_id: int, enabled: bool, kind: str) -> None:
    """PATCH enabled; print the object as it now is."""
    answer = state.api().request(
        "PATCH", f"{path}{object_id}/", json={"enabled": enabled}, missing=f"No {kind} {object_id} that you can see."
    )
    print_object(answer.json(), state.output, state.columns, ["id", "name", "enabled"])


for group, kind, path in (
    (schedule, "schedule", f"{API}/scaling-schedules/"),
    (policy, "policy", f"{API}/scaling-policies/"),
):
    for enabled in (True, False):
        verb = "enable" if enabled else "disable"

        @group.command(verb, help=f"{verb.capitalize()} a {kind} (a disabled one does nothing until enabled).")
        @common
        @click.argument("object_id", type=int)
        @pass_state
        def switch(state: State, object_id, _path=path, _enabled=enabled, _kind=kind):
            _switch(state, _path, object_id, _enabled, _kind)
