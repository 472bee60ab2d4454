"""Every write of the OpenAPI schema refuses a field it does not have, naming it: read from /api/schema/, so a new
write endpoint is checked as soon as the schema shows it (issue 11: unknown fields in any write body are a 400)."""

import json

import pytest
from rest_framework.test import APIClient

from tests.api.seed import seed

pytestmark = pytest.mark.django_db

#: Writes that take no JSON object from a DCP user: the Alertmanager webhook authenticates with the policy's
#: own token and takes Alertmanager's payload.
NOT_A_USER_BODY = {("post", "/api/v1/scaling-policies/{id}/alerts/")}
#: Left out because they end the caller's own session: tested in tests/accounts.
ENDS_THE_CALLER = {("post", "/api/v1/users/{id}/revoke-tokens/"), ("post", "/api/v1/users/me/password/")}


def _objects(client) -> None:
    """One of each object the seed lacks, so every detail write has an id to name."""
    pool = client.get("/api/v1/pools/").json()["results"][0]["id"]
    made = [
        (
            "/api/v1/prices/",
            {
                "kind": "aws",
                "instance_type": "m5.large",
                "currency": "USD",
                "hourly_price": "0.1",
                "valid_from": "2026-01-01T00:00:00Z",
            },
        ),
        ("/api/v1/exchange-rates/", {"base": "EUR", "quote": "USD", "rate": "1.1", "valid_from": "2026-01-01"}),
        ("/api/v1/scaling-policies/", {"pool": pool, "name": "p", "alert_name": "HighLatency", "step_out": 2}),
        ("/api/v1/scaling-schedules/", {"pool": pool, "name": "s", "desired_size": 2, "cron": "0 20 * * *"}),
    ]
    for url, body in made:
        answer = client.post(url, body, format="json")
        assert answer.status_code == 201, (url, answer.content)


def _fill(client, path: str) -> str:
    """The path with its parameters named after objects the caller can see."""
    if "{cluster_pk}" in path:
        path = path.replace("{cluster_pk}", str(client.get("/api/v1/clusters/").json()["results"][0]["id"]))
    if "{username}" in path:
        members = client.get(path.split("{username}")[0]).json()["results"]
        path = path.replace("{username}", members[0]["username"])
    if "{id}" in path:
        rows = client.get(path.split("{id}")[0]).json()["results"]
        path = path.replace("{id}", str(rows[0]["id"]))
    return path


def test_every_write_names_a_field_it_does_not_have():
    """A system administrator's POST, PUT and PATCH with one unknown field: each a 400 naming it."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token " + seed().tokens["sysadmin"])
    _objects(client)
    schema = json.loads(client.get("/api/schema/?format=json").content)
    writes = [
        (method, path)
        for path, operations in schema["paths"].items()
        for method in ("post", "put", "patch")
        if method in operations and (method, path) not in NOT_A_USER_BODY | ENDS_THE_CALLER
    ]
    assert len(writes) > 50
    accepted = []
    for method, path in writes:
        url = _fill(client, path)
        # The imports take a list of rows: the unknown field is in the first row.
        body = [{"zz_not_a_field": 1}] if path.endswith("/import/") else {"zz_not_a_field": 1}
        answer = getattr(client, method)(url, body, format="json")
        if answer.status_code != 400 or "zz_not_a_field" not in answer.content.decode():
            accepted.append(f"{method.upper()} {url}: {answer.status_code} {answer.content[:200]!r}")
    assert not accepted, "\n".join(accepted)
