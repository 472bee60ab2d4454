"""The `dcp` command: its groups, and errors turned into a message on stderr and a documented exit code."""

import sys

import click

from dcp_cli import __version__, exits
from dcp_cli.commands.auth import login, logout
from dcp_cli.commands.budgets import budget, report
from dcp_cli.commands.catalog import provider, template
from dcp_cli.commands.costs import cost
from dcp_cli.commands.hosts import host
from dcp_cli.commands.jobs import job
from dcp_cli.commands.pools import pool
from dcp_cli.commands.scaling import policy, schedule
from dcp_cli.output import stderr_console
from dcp_cli.state import State, profile_option

EPILOG = "\b\nExit codes:\n" + "\n".join(f"  {code:>3}  {meaning}" for code, meaning in exits.TABLE)


@click.group(epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="dcp")
@profile_option
@click.pass_context
def cli(ctx: click.Context):
    """DCP from the command line: scale pools, follow jobs, read hosts and costs.

    Sign in once with `dcp login`; scripts may set DCP_URL and DCP_TOKEN instead.
    Pools are named CLUSTER/POOL, hosts by hostname; ids work everywhere.
    """
    state = ctx.ensure_object(State)
    ctx.call_on_close(state.close)


for command in (login, logout, pool, job, host, cost, budget, report, provider, template, schedule, policy):
    cli.add_command(command)


def main(argv: list[str] | None = None) -> None:
    """Run dcp; exit with the code of what happened (see `dcp --help`)."""
    try:
        cli.main(args=argv, prog_name="dcp", standalone_mode=False)
    except exits.CliError as error:
        hint = " Run `dcp login` to sign in again." if error.code == exits.AUTH and "login" not in error.message else ""
        stderr_console().print(f"Error: {error.message}{hint}", markup=False)
        sys.exit(error.code)
    except click.exceptions.Exit as done:
        sys.exit(done.exit_code)
    except click.ClickException as error:
        error.show()
        sys.exit(exits.USAGE if isinstance(error, click.UsageError) else exits.ERROR)
    except click.Abort:
        stderr_console().print("Aborted.", markup=False)
        sys.exit(exits.INTERRUPTED)
    except KeyboardInterrupt:
        sys.exit(exits.INTERRUPTED)
    sys.exit(exits.OK)
