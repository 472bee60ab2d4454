"""Names wherever a person would type one: `demo/web` for a pool, a hostname for a host; ids work too.

A number is an id. An unknown name is an error (exit 1); a name
that fits several objects is a usage error (exit 2) that lists them, so
the caller can say which.
"""

import click

from dcp_cli.client import API, Api
from dcp_cli.exits import ERROR, CliError


def _id(text: str) -> int | None:
    return int(text) if text.isdigit() else None


def _one(found: list[dict], kind: str, name: str, label=lambda row: str(row["id"])) -> int:
    if not found:
        raise CliError(f"No {kind} named {name!r} that you can see.", ERROR)
    if len(found) > 1:
        choices = ", ".join(sorted(label(row) for row in found))
        raise click.UsageError(f"{kind.capitalize()} name {name!r} is ambiguous: it fits {choices}; say which.")
    return found[0]["id"]


def cluster_id(api: Api, text: str) -> int:
    """A cluster's id from its id or name."""
    given = _id(text)
    if given is not None:
        return given
    return _one(api.all(f"{API}/clusters/", {"name": text}), "cluster", text)


def pool_id(api: Api, text: str) -> int:
    """A pool's id from its id, CLUSTER/POOL, or a pool name that only one cluster has."""
    given = _id(text)
    if given is not None:
        return given
    if "/" in text:
        cluster_name, _, pool_name = text.partition("/")
        cluster = cluster_id(api, cluster_name)
        found = api.all(f"{API}/pools/", {"cluster": cluster, "name": pool_name})
        return _one(found, "pool", text)
    found = api.all(f"{API}/pools/", {"name": text})
    if len(found) > 1:
        names = {row["id"]: row["name"] for row in api.all(f"{API}/clusters/")}
        return _one(found, "pool", text, lambda row: f"{names.get(row['cluster'], row['cluster'])}/{row['name']}")
    return _one(found, "pool", text)


def host_id(api: Api, text: str, pool: int | None = None) -> int:
    """A host's id from its id or hostname (within a pool when one is given)."""
    given = _id(text)
    if given is not None:
        return given
    found = api.all(f"{API}/hosts/", {"hostname": text, "pool": pool})
    return _one(found, "host", text, lambda row: f"{row['hostname']} (id {row['id']}, pool {row['pool']})")


def by_name(api: Api, path: str, kind: str, text: str) -> int:
    """An id from an id or a name, for lists with no name filter (providers, templates): read whole."""
    given = _id(text)
    if given is not None:
        return given
    return _one([row for row in api.all(f"{API}/{path}/") if row.get("name") == text], kind, text)


def filters(api: Api, *, cluster: str | None = None, pool: str | None = None, provider: str | None = None) -> dict:
    """Query parameters cluster, pool and provider as ids, from the names or ids given (None where not given)."""
    return {
        "cluster": cluster_id(api, cluster) if cluster else None,
        "pool": pool_id(api, pool) if pool else None,
        "provider": by_name(api, "providers", "provider", provider) if provider else None,
    }
