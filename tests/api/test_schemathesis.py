"""The API against its own OpenAPI schema: schemathesis fuzzes a live server as three different callers.

A real gunicorn process serves DCP on a free loopback port against the
PostgreSQL test database, seeded with two clusters (tests/api/seed.py).
Schemathesis (its CLI, in a subprocess) loads /api/schema/ from that server
and runs every check, stateful phase included, once per caller: a guest of
cluster 1, an outsider (admin of cluster 2 only) and a system administrator.
Both processes run under tests/api/offline.py, so neither can reach anything
but this machine. Slow (minutes): marked ``slow``; deselect with ``-m "not slow"``.

Bounds: DCP_SCHEMATHESIS_EXAMPLES cases per operation and phase (default 25),
DCP_SCHEMATHESIS_SECONDS for each caller's run (default 80; schemathesis keeps
fuzzing until it is spent), so the three runs together stay under 10 minutes.
DCP_SCHEMATHESIS_SEED replays a run (each run's output ends with its seed).
"""

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from xml.etree import ElementTree

import pytest
import requests

from tests.api.seed import CALLERS, seed
from tests.conftest import ROOT, Server, child_process_env

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

EXAMPLES = int(os.environ.get("DCP_SCHEMATHESIS_EXAMPLES", "25"))
SECONDS = int(os.environ.get("DCP_SCHEMATHESIS_SECONDS", "80"))
SEED = os.environ.get("DCP_SCHEMATHESIS_SEED", "")  # replays a run: its output ends with the seed it used
MAX_SHOWN = 200_000  # characters of schemathesis output shown in a failure; the rest is in the file

# Known harmless findings, each turned off for one check on one operation only, with the reason.
# (check, method, path as in the schema, reason). Each is a request the schema allows but the server refuses
# with a 400 that says what to fix, because the rule depends on stored data or relates fields in ways an
# OpenAPI 3.0 schema cannot state; everything else about these operations is still checked.
ACCEPTANCE = "positive_data_acceptance"
BY_ID = "names other objects by id, and ids the fuzzer makes up name none (400: 'Invalid pk ... does not exist')"
POOL_RULES = f"{BY_ID}; min_size <= max_size and templates for min_size > 0 relate fields"
POOL_STATE = "sizes are checked against the pool's current desired_size, and a pool cannot change cluster"
MACHINE_RULES = f"{BY_ID}; the provider must be a physical account and memory_gb at least 0.5 (a decimal string)"
PROVIDER_RULES = (
    "credentials must carry the keys of the account's kind and be accepted by the provider, which this "
    "network-less run never does; the kind of an existing account cannot change"
)
TEMPLATE_RULES = f"{BY_ID}; instance type, zone and image must exist in that provider's catalog, init_vars in the roles"
PRICE_RULES = (
    "a currency is one of ISO 4217's codes, a price or rate is above 0 (a decimal string), rows of one key may "
    f"not overlap stored rows; {BY_ID}"
)
PRICE_WRITES = [
    ("POST", "/api/v1/prices/"),
    ("PUT", "/api/v1/prices/{id}/"),
    ("PATCH", "/api/v1/prices/{id}/"),
    ("POST", "/api/v1/prices/import/"),
    ("POST", "/api/v1/exchange-rates/"),
    ("PUT", "/api/v1/exchange-rates/{id}/"),
    ("PATCH", "/api/v1/exchange-rates/{id}/"),
]
REGISTRY_RULES = "a mirror's IDC name may not hold NUL, which OpenAPI 3.0 cannot say of an object's keys"
REGISTRY_WRITES = [("POST", ""), ("PUT", "{id}/"), ("PATCH", "{id}/")]
PASSWORD_RULES = "passwords are also checked against a list of common passwords; a new user needs one"
BUDGET_RULES = (
    f"{BY_ID}; a pool must be of the budget's cluster, a currency other than DCP_CURRENCY needs exchange rates, "
    "the amount fits the currency's minor unit, thresholds need someone to notify, addresses must be real ones"
)
REPORT_RULES = (
    f"{BY_ID}; currency must be DCP_CURRENCY or one with stored exchange rates, and a schedule of a cluster "
    "is made by that cluster's admins"
)
SCHEDULE_RULES = (
    f"{BY_ID}; a cron expression has five valid fields, a time zone is an IANA name, a one-off time is in the "
    "future, a desired_size lies within the pool's bounds, and exactly one target and one time are given"
)
POLICY_RULES = f"{BY_ID}; a policy's bounds lie within its pool's and in order, a step in percent is at most 1000"
SCALING_WRITES = [("POST", ""), ("PUT", "{id}/"), ("PATCH", "{id}/")]
RERUN_STATE = "only ready hosts whose template has an init method can be re-run: it depends on the hosts' status"
EXCLUSIONS: list[tuple[str, str, str, str]] = [
    (ACCEPTANCE, "POST", "/api/v1/auth/token/", "made-up usernames and passwords are wrong credentials (400)"),
    (ACCEPTANCE, "POST", "/api/v1/tokens/", "the password must be the caller's own, which the fuzzer never knows"),
    (
        ACCEPTANCE,
        "POST",
        "/api/v1/users/me/password/",
        "the current password must be the caller's own, which the fuzzer never knows",
    ),
    (ACCEPTANCE, "POST", "/api/v1/clusters/{cluster_pk}/members/", "username must name an existing active user"),
    (ACCEPTANCE, "PUT", "/api/v1/clusters/{cluster_pk}/members/{username}/", "username may be repeated, not changed"),
    (ACCEPTANCE, "PATCH", "/api/v1/clusters/{cluster_pk}/members/{username}/", "username may be repeated, not changed"),
    (ACCEPTANCE, "POST", "/api/v1/pools/", POOL_RULES),
    (ACCEPTANCE, "PUT", "/api/v1/pools/{id}/", f"{POOL_RULES}; {POOL_STATE}"),
    (ACCEPTANCE, "PATCH", "/api/v1/pools/{id}/", f"{POOL_RULES}; {POOL_STATE}"),
    (
        ACCEPTANCE,
        "POST",
        "/api/v1/pools/{id}/scale/",
        "the new size must differ from desired_size and stay within min_size..max_size, hosts must be live hosts "
        "of the pool: all depend on the pool's state",
    ),
    (ACCEPTANCE, "POST", "/api/v1/pools/{id}/initialize/", RERUN_STATE),
    (ACCEPTANCE, "POST", "/api/v1/hosts/{id}/initialize/", RERUN_STATE),
    (ACCEPTANCE, "POST", "/api/v1/physical-machines/", MACHINE_RULES),
    (ACCEPTANCE, "PUT", "/api/v1/physical-machines/{id}/", f"{MACHINE_RULES}; an allocated machine keeps its class"),
    (ACCEPTANCE, "PATCH", "/api/v1/physical-machines/{id}/", f"{MACHINE_RULES}; an allocated machine keeps its class"),
    (ACCEPTANCE, "POST", "/api/v1/physical-machines/import/", MACHINE_RULES),
    (ACCEPTANCE, "POST", "/api/v1/providers/", PROVIDER_RULES),
    (ACCEPTANCE, "PUT", "/api/v1/providers/{id}/", PROVIDER_RULES),
    (ACCEPTANCE, "PATCH", "/api/v1/providers/{id}/", PROVIDER_RULES),
    (ACCEPTANCE, "POST", "/api/v1/templates/", TEMPLATE_RULES),
    (ACCEPTANCE, "PUT", "/api/v1/templates/{id}/", TEMPLATE_RULES),
    (ACCEPTANCE, "PATCH", "/api/v1/templates/{id}/", TEMPLATE_RULES),
    (ACCEPTANCE, "POST", "/api/v1/ssh-keys/", f"{BY_ID}; a given private_key must be a real unencrypted key"),
    (
        ACCEPTANCE,
        "POST",
        "/api/v1/ssh-keys/{id}/rotate/",
        "a given private_key must be a real unencrypted key, other than the one in use",
    ),
    (ACCEPTANCE, "POST", "/api/v1/cost-report-schedules/", REPORT_RULES),
    (ACCEPTANCE, "PUT", "/api/v1/cost-report-schedules/{id}/", REPORT_RULES),
    (ACCEPTANCE, "PATCH", "/api/v1/cost-report-schedules/{id}/", REPORT_RULES),
    (
        ACCEPTANCE,
        "GET",
        "/api/v1/costs/",
        "a currency must be ISO 4217 and have stored exchange rates; end must follow start by at most five years "
        "and a series have at most 1,000 steps; group_by names each known dimension once: rules on stored data "
        "and between parameters",
    ),
    *[(ACCEPTANCE, method, path, PRICE_RULES) for method, path in PRICE_WRITES],
    (ACCEPTANCE, "POST", "/api/v1/budgets/", BUDGET_RULES),
    (ACCEPTANCE, "PUT", "/api/v1/budgets/{id}/", BUDGET_RULES),
    (ACCEPTANCE, "PATCH", "/api/v1/budgets/{id}/", BUDGET_RULES),
    *[(ACCEPTANCE, method, "/api/v1/registries/" + tail, REGISTRY_RULES) for method, tail in REGISTRY_WRITES],
    *[(ACCEPTANCE, method, "/api/v1/scaling-schedules/" + tail, SCHEDULE_RULES) for method, tail in SCALING_WRITES],
    *[(ACCEPTANCE, method, "/api/v1/scaling-policies/" + tail, POLICY_RULES) for method, tail in SCALING_WRITES],
    (
        ACCEPTANCE,
        "POST",
        "/api/v1/scaling-policies/{id}/alerts/",
        "the webhook takes the policy's own token, made with the policy and never shown to the fuzzer (401)",
    ),
    (ACCEPTANCE, "POST", "/api/v1/pool-admins/", f"{BY_ID}; username must name a member of the pool's cluster"),
    (ACCEPTANCE, "POST", "/api/v1/users/", PASSWORD_RULES),
    (ACCEPTANCE, "PUT", "/api/v1/users/{id}/", PASSWORD_RULES),
    (ACCEPTANCE, "PATCH", "/api/v1/users/{id}/", PASSWORD_RULES),
]

# Operations left out of the run entirely, (method, path as in the schema, reason); each is tested on its own
# in tests/accounts.
SELF_REVOKE = (
    "the caller revokes its own token (the fuzzer reads ids from the lists it is shown), and every request after "
    "that is a 401 that tests nothing"
)
LEFT_OUT: list[tuple[str, str, str]] = [
    ("DELETE", "/api/v1/tokens/{id}/", SELF_REVOKE),
    ("POST", "/api/v1/users/{id}/revoke-tokens/", SELF_REVOKE),
]
# Left out for one caller only: a system administrator who sets their own password revokes their tokens.
LEFT_OUT_FOR = {
    "sysadmin": [
        ("PUT", "/api/v1/users/{id}/", SELF_REVOKE),
        ("PATCH", "/api/v1/users/{id}/", SELF_REVOKE),
    ]
}


# What refusing schema-violating input may answer: schemathesis' own list, plus 413 for a body past the limit.
REJECTED = ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422", "428", "429", "5xx"]


def _toml_string(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid TOML basic string for the text used here


def write_config(path: Path, token: str, caller: str) -> Path:
    """The schemathesis.toml of one run: bounds, the caller's token, EXCLUSIONS and LEFT_OUT."""
    lines = [
        f"max-time = {SECONDS}",
        *([f"seed = {int(SEED)}"] if SEED else []),
        "max-redirects = 0",
        "request-timeout = 30",
        "workers = 1",  # Python 3.11's ast is not thread-safe: hypothesis in two threads can crash
        "[headers]",
        f"Authorization = {_toml_string('Token ' + token)}",
        # Every check, in the file rather than on the command line: a check named there would override
        # the per-operation exclusions below.
        "[checks]",
        "enabled = true",
        # A body past DCP_MAX_BODY_BYTES is refused with 413 before it is read, as the schema documents.
        "[checks.negative_data_rejection]",
        f"expected-statuses = {json.dumps(REJECTED)}",
        "[generation]",
        f"max-examples = {EXAMPLES}",
        'database = "none"',
        "[phases.stateful]",
        "max-steps = 20",
    ]
    for check, method, operation, _reason in EXCLUSIONS:
        lines += [
            "[[operations]]",
            # One key naming the operation: include-method and include-path would be two filters, either of
            # which selects (every POST, say).
            f"include-name = {_toml_string(f'{method} {operation}')}",
            f"checks.{check}.enabled = false",
        ]
    for method, operation, _reason in [*LEFT_OUT, *LEFT_OUT_FOR.get(caller, [])]:
        lines += [
            "[[operations]]",
            f"include-name = {_toml_string(f'{method} {operation}')}",
            "enabled = false",
        ]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def server(django_db_setup, tmp_path_factory):
    """DCP under gunicorn on the PostgreSQL test database, reachable on loopback only.

    One per test: between tests the database is emptied and content types get new ids, which a
    server that lived on would still hold in its cache (its audit entries would then break).
    """
    process = Server(
        child_process_env("schemathesis runs"),
        tmp_path_factory.mktemp("server") / "gunicorn.log",
        launcher=("-m", "tests.api.offline", "gunicorn"),
    )
    process.start()
    yield process
    process.stop()
    sys.stdout.write(f"\nserver log: {process.log_path}\n")


def summary(report_dir: Path) -> str:
    """One line per failure from schemathesis' JUnit report: the operation, the checks, the curl to reproduce."""
    lines = []
    for report in sorted(report_dir.glob("*.xml")):
        for case in ElementTree.parse(report).iter("testcase"):  # noqa: S314 - written by our own run just now
            for failure in case.iter("failure"):
                for finding in re.split(r"\n(?=\d+\. Test Case ID)", failure.text or ""):
                    checks = ", ".join(re.findall(r"^- (ST\d+ [^\n]+)", finding, re.MULTILINE))
                    curls = re.findall(r"^\s+(curl [^\n]+)", finding, re.MULTILINE)
                    if checks:
                        lines.append(f"{case.get('name')}: {checks}\n    {curls[-1] if curls else '(no request)'}")
    return "\n".join(lines)


def run_schemathesis(server: Server, caller: str, token: str, workdir: Path) -> subprocess.CompletedProcess:
    """Every check and phase against the server's own schema, as the caller token belongs to."""
    config = write_config(workdir / "schemathesis.toml", token, caller)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.api.offline",
            "st",
            "--config-file",
            str(config),
            "run",
            f"{server.url}/api/schema/?format=json",
            "--url",
            server.url,
            "--phases",
            "examples,coverage,fuzzing,stateful",
            "--no-color",
            "--report",
            "junit",
            "--report-dir",
            str(workdir / "report"),
        ],
        cwd=workdir,
        env={**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "160"},
        capture_output=True,
        text=True,
        timeout=SECONDS + 240,
    )


@pytest.mark.parametrize("caller", CALLERS)
def test_api_keeps_to_its_schema(server, caller, tmp_path):
    """No check fails: statuses, bodies and headers are what the schema says, for valid and invalid input."""
    tokens = seed().tokens
    log_start = server.log_path.stat().st_size
    started = time.monotonic()
    result = run_schemathesis(server, caller, tokens[caller], tmp_path)
    took = time.monotonic() - started
    output = tmp_path / "schemathesis.txt"
    output.write_text(result.stdout + result.stderr)
    last = next((line.strip(" =") for line in reversed(result.stdout.splitlines()) if line.strip()), "")
    requests_made = server.requests(log_start)
    sys.stdout.write(
        f"\nschemathesis as {caller}: {took:.0f}s, {requests_made} requests, {last} (full output: {output})\n"
    )
    still = requests.get(
        f"{server.url}/api/v1/tokens/", headers={"Authorization": f"Token {tokens[caller]}"}, timeout=10
    )
    assert still.status_code == 200, (
        f"the {caller}'s token stopped working during the run ({still.status_code}): every request after that "
        f"was a 401 and tested nothing; {last}"
    )
    if result.returncode != 0:
        pytest.fail(
            f"schemathesis as {caller} failed (exit {result.returncode}) after {took:.0f}s.\n"
            f"Failures (operation: checks, then the request that shows it):\n{summary(tmp_path / 'report')}\n\n"
            f"Schemathesis' own account (full output: {output}):\n"
            f"{result.stdout[:MAX_SHOWN]}\n{result.stderr[-5000:]}\n"
            f"server tracebacks:\n{server.errors(log_start)[-20000:]}",
            pytrace=False,
        )
