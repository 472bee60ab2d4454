"""dcp login and dcp logout: a named token stored in the profile, never the password."""

import socket
import sys

import click

from dcp_cli import config
from dcp_cli.client import API, Api
from dcp_cli.exits import AUTH, CliError
from dcp_cli.output import stderr_console
from dcp_cli.state import State, pass_state, profile_option

DEFAULT_URL = "http://127.0.0.1:8000"


def _token_name() -> str:
    """What the token is called in DCP's token list, so its owner knows where it lives."""
    return f"dcp-cli on {socket.gethostname()}"[:100]


@click.command()
@profile_option
@click.option("--url", help="DCP's address, e.g. https://dcp.example.com (asked when not given).")
@click.option("-u", "--username", help="Your DCP username (asked when not given).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (for scripts).")
@click.option(
    "--token-stdin",
    is_flag=True,
    help="Store a token made in the console or by POST /api/v1/tokens/ (read from standard input) instead.",
)
@click.option("--name", "token_name", help="Name of the token in DCP (default: 'dcp-cli on HOSTNAME').")
@pass_state
def login(state: State, url, username, password_stdin, token_stdin, token_name):
    """Sign in: exchange your password for a token and store the token in the profile.

    The token lasts as long as the server lets a password-exchanged token
    live (DCP_TOKEN_EXCHANGE_HOURS, 12 hours by default); its expiry is
    printed. The password is sent once and never stored. For a longer-lived
    token, make a named one in the console and store it with --token-stdin.
    """
    name = config.profile_name(state.profile)
    stored = config.read_profile(name)
    url = (url or click.prompt("DCP URL", default=stored.get("url") or DEFAULT_URL)).rstrip("/")
    if token_stdin:
        _store_token(name, url, sys.stdin.readline().strip())
        return
    username = username or click.prompt("Username", default=stored.get("username") or None)
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True)
    if not password:
        raise click.UsageError("An empty password: give one.")
    api = Api(url, None)
    try:
        body = {"username": username, "password": password, "name": token_name or _token_name()}
        answer = api.post(f"{API}/auth/token/", body, ok=(200,)).json()
    except CliError as error:
        # Wrong credentials answer 400: for a script, that is a sign-in failure.
        raise CliError(error.message, AUTH if error.code in (1, AUTH) else error.code) from None
    finally:
        api.close()
    path = config.write_profile(
        name,
        {
            "url": url,
            "username": username,
            "token": answer["token"],
            "token_id": answer["id"],
            "token_name": answer["name"],
            "expires_at": answer.get("expires_at"),
        },
    )
    stderr_console().print(
        f"Logged in to {url} as {username} (profile {name!r}); token {answer['name']!r} "
        f"expires {answer.get('expires_at') or 'never'}. Stored in {path}.",
        markup=False,
    )


def _store_token(profile: str, url: str, key: str) -> None:
    """Check a token against the server (it must sign in) and store it with its id, name and expiry."""
    if not key:
        raise click.UsageError("No token on standard input.")
    api = Api(url, key)
    try:
        token = _own_token(api, key)
    finally:
        api.close()
    values = {"url": url, "username": token["username"], "token": key, "token_id": token["id"]}
    path = config.write_profile(profile, {**values, "token_name": token["name"], "expires_at": token["expires_at"]})
    stderr_console().print(
        f"Stored token {token['name']!r} of {token['username']} (expires {token['expires_at'] or 'never'}) "
        f"for {url} in {path} (profile {profile!r}).",
        markup=False,
    )


@click.command()
@profile_option
@pass_state
def logout(state: State):
    """Revoke the profile's token in DCP and forget it here."""
    chosen = state.target()
    api = state.api()
    token_id = chosen.token_id if chosen.token_id is not None else _own_token(api, chosen.token)["id"]
    console = stderr_console()
    try:
        api.request("DELETE", f"{API}/tokens/{token_id}/", ok=(204,))
        console.print(f"Token {token_id} revoked.", markup=False)
    except CliError as error:
        if error.code != AUTH:
            raise
        console.print("The token was already unknown, expired or revoked.", markup=False)
    stored = config.read_profile(chosen.profile)
    if stored.get("token") == chosen.token:
        for key in ("token", "token_id", "token_name", "expires_at"):
            stored.pop(key, None)
        config.write_profile(chosen.profile, stored)
        console.print(f"Profile {chosen.profile!r} logged out.", markup=False)


def _own_token(api: Api, key: str) -> dict:
    """The token in use as the API lists it: the only one visible whose prefix the key starts with."""
    mine = [row for row in api.all(f"{API}/tokens/") if key.startswith(row["prefix"])]
    if len(mine) != 1:
        raise CliError("Cannot tell which listed token this is; manage it in the console instead.")
    return mine[0]
