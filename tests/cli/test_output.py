"""Output formats, columns, paging, names and exit codes of the dcp command line, read against the API."""

import csv
import io
import json
from datetime import date
from decimal import Decimal

import pytest
import yaml
from django.urls import Resolver404, resolve

from apps.core.choices import Role
from apps.costs.models import ExchangeRate
from apps.inventory.models import Host
from apps.provisioning.models import Job
from tests.cli.conftest import Dcp
from tests.conftest import client_for
from tests.factories import ClusterFactory, MembershipFactory, PoolFactory

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def pools(demo):
    """Four more pools in demo, and a pool `web` in a second cluster the developer also belongs to."""
    for name in ("api", "batch", "cache", "db"):
        PoolFactory(cluster=demo.cluster, name=name)
    other = ClusterFactory(name="staging")
    MembershipFactory(cluster=other, user=demo.developer, role=Role.GUEST)
    return PoolFactory(cluster=other, name="web")


def test_json_yaml_csv_and_value_shapes(dcp, demo, pools):
    """JSON and YAML are the API's objects; csv a header and rows; value the bare values; -c picks columns."""
    api = client_for(demo.developer).get("/api/v1/pools/", {"cluster": demo.cluster.pk}).json()["results"]
    assert dcp.json("pool", "list", "--cluster", "demo") == api
    listed = dcp("pool", "list", "--cluster", "demo", "-o", "yaml")
    assert yaml.safe_load(listed.stdout) == api

    rows = dcp("pool", "list", "--cluster", "demo", "-o", "csv", "-c", "id", "-c", "name")
    assert rows.returncode == 0 and rows.stdout.splitlines()[0] == "id,name"
    assert list(csv.DictReader(io.StringIO(rows.stdout))) == [{"id": str(p["id"]), "name": p["name"]} for p in api]
    values = dcp("pool", "list", "--cluster", "demo", "-o", "value", "-c", "name")
    assert values.stdout.split("\n") == [p["name"] for p in api] + [""]
    assert dcp.json("pool", "list", "--cluster", "demo", "-c", "name") == [{"name": p["name"]} for p in api]

    shown = dcp("pool", "show", "demo/web", "-o", "value", "-c", "desired_size", "-c", "max_size")
    assert shown.stdout == "0\n10\n"
    table = dcp("pool", "show", "demo/web")
    assert "desired_size" in table.stdout and "Field" in table.stdout

    wrong = dcp("pool", "list", "-c", "nonsense")
    assert wrong.returncode == 2 and "No column nonsense" in wrong.stderr


def test_lists_follow_every_page_up_to_limit(dcp, demo, pools):
    """With two rows a page, all six pools come back; --limit stops early."""
    every = dcp.json("pool", "list", env={"DCP_PAGE_SIZE": "2"})
    assert sorted(p["id"] for p in every) == sorted(p.pk for p in demo.cluster.pools.all()) + [pools.pk]
    assert len(dcp.json("pool", "list", "--limit", "3", env={"DCP_PAGE_SIZE": "2"})) == 3


def test_names_unknown_and_ambiguous(dcp, demo, pools):
    """An unknown name is an error (exit 1); a pool name two clusters have is a usage error listing both."""
    unknown = dcp("pool", "scale", "demo/nope", "--delta", "1")
    assert unknown.returncode == 1 and "No pool named 'demo/nope'" in unknown.stderr
    assert dcp("host", "list", "--pool", "nowhere/web").returncode == 1
    ambiguous = dcp("pool", "show", "web")
    assert ambiguous.returncode == 2 and "demo/web" in ambiguous.stderr and "staging/web" in ambiguous.stderr
    assert dcp.json("pool", "show", "staging/web")["id"] == pools.pk
    assert dcp.json("pool", "show", str(pools.pk))["id"] == pools.pk
    assert not Job.objects.exists()


def test_exit_codes_carry_the_api_message(dcp, demo, pools, server):
    """Auth 4, forbidden 6, not found 1, refused input 1, usage 2: each with the API's words on stderr."""
    bad_token = dcp("pool", "list", env={"DCP_TOKEN": "not-a-token"})
    assert bad_token.returncode == 4 and bad_token.stderr.startswith("Error: ")
    no_token = Dcp(dcp.home, server.url)("pool", "list")
    assert no_token.returncode == 4 and "DCP_TOKEN" in no_token.stderr

    guest = dcp("pool", "scale", "staging/web", "--delta", "1")
    assert guest.returncode == 6, guest.stderr
    missing = dcp("job", "show", "999999")
    assert missing.returncode == 1 and "Error: " in missing.stderr
    too_many = dcp("pool", "scale", "demo/web", "--delta", "50")
    assert too_many.returncode == 1 and "past its max_size 10" in too_many.stderr
    bad_status = dcp("host", "list", "--status", "sleeping")
    assert bad_status.returncode == 1 and "status" in bad_status.stderr

    assert dcp("pool", "scale", "demo/web", "--delta", "1", "--to", "2").returncode == 2
    assert dcp("pool", "scale", "demo/web", "--delta", "0").returncode == 2
    assert dcp("pool", "scale", "demo/web", "--delta", "1", "--timeout", "5").returncode == 2
    assert dcp("pool", "frobnicate").returncode == 2
    assert dcp("cost", "--period", "someday").returncode == 2
    assert not Job.objects.exists()


def test_cost_answers_what_the_api_answers(dcp, demo):
    """-o json is the API's answer for the same window; the table ends with the total."""
    api = client_for(demo.developer).get(
        "/api/v1/costs/", {"group_by": "cluster,pool", "start": "2026-01-01", "end": "2026-02-01"}
    )
    assert dcp.json("cost", "--group-by", "cluster,pool", "--period", "2026-01") == api.json()
    # Currency, step and a pool named as a person types it reach the API as its own parameters.
    ExchangeRate.objects.create(base="EUR", quote="USD", rate=Decimal("1.08"), valid_from=date(2025, 12, 1))
    query = {"group_by": "pool", "start": "2026-01-01", "end": "2026-01-08", "step": "day", "currency": "EUR"}
    expected = client_for(demo.developer).get("/api/v1/costs/", {**query, "pool": demo.pool.pk}).json()
    by_day = dcp.json(
        "cost",
        "--group-by",
        "pool",
        "--start",
        "2026-01-01",
        "--end",
        "2026-01-08",
        "--step",
        "day",
        "--currency",
        "eur",
        "--pool",
        "demo/web",
    )
    assert by_day == expected and by_day["currency"] == "EUR" and len(by_day["series"]) == 7
    table = dcp("cost", "--group-by", "pool", "--start", "2026-01-01", "--end", "2026-01-08", "--step", "day")
    assert table.returncode == 0 and "Total" in table.stdout
    refused = dcp("cost", "--group-by", "colour")
    assert refused.returncode == 1 and "Unknown group_by colour" in refused.stderr


@pytest.mark.parametrize(
    ("command", "path"),
    [
        (("budget", "list"), "/api/v1/budgets/"),
        (("report", "list"), "/api/v1/cost-reports/"),
    ],
)
def test_budgets_and_reports_or_a_clear_message_where_the_server_has_none(dcp, demo, command, path):
    """Where the endpoint exists, its rows; where this server predates it, exit 1 saying so."""
    done = dcp(*command, "-o", "json")
    try:
        resolve(path)
    except Resolver404:
        assert done.returncode == 1 and f"no {path.split('/')[3].replace('-', ' ')}" in done.stderr.lower()
        assert path in done.stderr
        return
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == client_for(demo.developer).get(path).json()["results"]


def test_hosts_by_hostname(dcp, demo):
    """show by hostname is the API's host; reinit of a host with no init method is refused with the API's words."""
    host = Host.objects.create(
        hostname="web-test-1", pool=demo.pool, template=demo.template, provider=demo.template.provider, status="ready"
    )
    shown = dcp.json("host", "show", host.hostname)
    assert shown == client_for(demo.developer).get(f"/api/v1/hosts/{host.pk}/").json()
    refused = dcp("host", "reinit", host.hostname)
    assert refused.returncode == 1 and "init method" in refused.stderr
    unknown = dcp("pool", "scale", "demo/web", "--remove", "no-such-host")
    assert unknown.returncode == 1 and "No host named 'no-such-host'" in unknown.stderr
    assert not Job.objects.exists()


def test_host_reinit_by_name_starts_a_run_and_its_job(dcp, demo):
    """A ready host whose template has an init method, named as a person types it: one run and its job, as the API
    recorded them; asked again by id while it runs, the host is skipped with the API's reason."""
    from apps.configuration.models import InitRun

    demo.template.init_method = "ansible"
    demo.template.save(update_fields=["init_method"])
    host = Host.objects.create(
        hostname="web-reinit-1",
        pool=demo.pool,
        template=demo.template,
        provider=demo.template.provider,
        status="ready",
        private_ip="10.0.0.9",
    )
    started = dcp.json("host", "reinit", "web-reinit-1")
    run = InitRun.objects.get(host=host, rerun=True)
    assert [r["id"] for r in started["runs"]] == [run.pk] and started["jobs"] == [run.job_id]
    assert started["skipped"] == []
    # By id while that run is still going: nothing new starts, and stderr says why the host was skipped.
    again = dcp("host", "reinit", str(host.pk))
    assert again.returncode == 0 and f"Skipped host {host.pk}: initialization already running" in again.stderr
    assert InitRun.objects.filter(host=host, rerun=True).count() == 1


def test_provider_and_template_lists(dcp, demo):
    """Names resolve for --provider; the template list is the API's."""
    templates = dcp.json("template", "list", "--provider", demo.template.provider.name)
    assert [t["name"] for t in templates] == ["aws-tpl"]
    assert [p["name"] for p in dcp.json("provider", "list", "--kind", "aws")] == [demo.template.provider.name]
