"""dcp provider list and dcp template list: where hosts can come from."""

import click

from dcp_cli import resolve
from dcp_cli.client import API
from dcp_cli.output import print_list
from dcp_cli.state import State, common, limit_option, pass_state


@click.group()
def provider():
    """Provider accounts."""


@provider.command("list")
@common
@click.option("--kind", help="aws, aliyun, openstack, physical or libcloud.")
@click.option("--region", help="Only accounts in this region.")
@limit_option
@pass_state
def list_providers(state: State, kind, region, limit):
    """Provider accounts (system administrators see every field)."""
    rows = state.api().all(f"{API}/providers/", {"kind": kind, "region": region}, limit=limit)
    print_list(rows, state.output, state.columns, ["id", "name", "kind", "region", "max_hosts"])


@click.group()
def template():
    """Machine templates."""


@template.command("list")
@common
@click.option("--provider", help="Only this provider account's templates (name or id).")
@limit_option
@pass_state
def list_templates(state: State, provider, limit):
    """Machine templates."""
    api = state.api()
    params = resolve.filters(api, provider=provider)
    rows = api.all(f"{API}/templates/", params, limit=limit)
    columns = ["id", "name", "provider", "region", "zone", "instance_type", "image", "init_method", "max_hosts"]
    print_list(rows, state.output, state.columns, columns)
