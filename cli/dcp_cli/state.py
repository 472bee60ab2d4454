"""What every command shares: the chosen profile and output format, and the API session they lead to."""

from dataclasses import dataclass, field

import click

from dcp_cli import config
from dcp_cli.client import Api
from dcp_cli.output import FORMATS


@dataclass
class State:
    """Options given anywhere on the command line, and the API session made from them on first use."""

    profile: str | None = None
    output: str = "table"
    columns: tuple[str, ...] = ()
    _api: Api | None = field(default=None, repr=False)

    def target(self, *, need_token: bool = True) -> config.Target:
        """The server and token this command talks to."""
        return config.target(self.profile, need_token=need_token)

    def api(self) -> Api:
        """The signed-in API session (made once)."""
        if self._api is None:
            chosen = self.target()
            self._api = Api(chosen.url, chosen.token)
        return self._api

    def close(self) -> None:
        """Close the session, if one was made."""
        if self._api is not None:
            self._api.close()


def _store(name: str):
    def callback(ctx: click.Context, _param, value):
        if value not in (None, ()):
            setattr(ctx.ensure_object(State), name, value)

    return callback


profile_option = click.option(
    "--profile",
    expose_value=False,
    callback=_store("profile"),
    help="Profile of ~/.config/dcp/config.toml to use (default: $DCP_PROFILE, else 'default').",
)


def common(command):
    """--profile, -o/--output and -c/--column on a command that prints API objects."""
    command = click.option(
        "-c",
        "--column",
        "columns",
        multiple=True,
        expose_value=False,
        callback=_store("columns"),
        help="Show only this column (repeat for several).",
    )(command)
    command = click.option(
        "-o",
        "-f",
        "--output",
        type=click.Choice(FORMATS),
        expose_value=False,
        callback=_store("output"),
        help="Output format (default: table).",
    )(command)
    return profile_option(command)


limit_option = click.option("--limit", type=click.IntRange(min=1), help="At most this many.")

pass_state = click.make_pass_decorator(State, ensure=True)
