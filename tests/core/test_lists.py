"""Every list of the API on a growing fleet: ordered to the row, no DISTINCT, a query count that does not grow.

The SQL each list sends is read with CaptureQueriesContext: its page query must
end its ORDER BY on the primary key (so paging shows every row once), status
filters must not add DISTINCT, a count or a deep page must not aggregate every
row, and the number of statements must not grow with the rows (the NetBox-style
baseline that catches N+1 queries). Speed itself is measured by bench/api.py.
"""

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.accounts.models import Lockout, PoolAdmin, Token
from apps.configuration.models import InitRun, Registry, SSHKey
from apps.core import audit
from apps.costs.budgets.models import Budget
from apps.costs.models import ExchangeRate, Price
from apps.inventory.models import Host
from apps.provisioning.models import Job, JobEvent, OrphanInstance
from apps.scaling.models import PolicyTrigger, ScalingPolicy, ScalingSchedule, ScheduleOccurrence
from dcp.urls import router
from tests.api.seed import cost_report
from tests.factories import (
    ClusterFactory,
    MachineFactory,
    MembershipFactory,
    PoolFactory,
    TemplateFactory,
    UserFactory,
    with_template,
)

pytestmark = pytest.mark.django_db

#: Every list route of /api/v1/, by prefix ("clusters/{cluster}/members" for the nested one).
LISTS = {
    re.sub(r"\(\?P<cluster_pk>[^)]*\)", "{cluster}", prefix): viewset.queryset.model._meta.db_table
    for prefix, viewset, _ in router.registry
    if getattr(viewset, "queryset", None) is not None  # /costs/ answers a computation, not a list of rows
}
#: Lists only system administrators may read.
SYSADMIN_ONLY = {"orphans", "lockouts"}
STATUS_FILTERS = [
    "hosts/?status=ready&status=failed",
    "jobs/?status=succeeded&status=running",
    "init-runs/?status=failed",
    "physical-machines/?state=free",
    "orphans/?state=reported",
]


def grow(cluster, units: int) -> None:
    """Add units of fleet: per unit a pool in cluster and one elsewhere, each with two jobs by two people,
    three hosts (ready, failed, removed) with an init run and an event each, and one more of every other
    listed thing (provider account and template, machine, orphan, registry, SSH key, member, token, lock-out,
    price, exchange rate, audit entry, budget, cost report schedule and report, pool administrator, scaling
    schedule and occurrence, scaling policy and trigger)."""
    now = timezone.now()
    for _ in range(units):
        template = TemplateFactory()
        provider = template.provider
        MachineFactory(provider=provider)
        Registry.objects.create(name=f"reg-{template.pk}", url="registry.example.test")
        member = UserFactory()
        MembershipFactory(cluster=cluster, user=member)
        Token.issue(member, "script")
        Price.objects.create(
            provider=provider, instance_type=f"t{template.pk}", currency="USD", hourly_price="0.1", valid_from=now
        )
        ExchangeRate.objects.create(base="EUR", quote="USD", rate="1.1", valid_from=(now - timedelta(days=template.pk)))
        Lockout.objects.create(scope="username", key=f"guess-{template.pk}", attempts=1, window_start=now)
        for pool in (with_template(PoolFactory(cluster=cluster), template), PoolFactory(cluster=ClusterFactory())):
            SSHKey.objects.create(pool=pool, public_key="ssh-ed25519 AAAA", private_key="k", fingerprint="f")
            out = Job.objects.create(
                pool=pool,
                kind="scale_out",
                status="succeeded",
                delta=3,
                desired_before=0,
                desired_after=3,
                requested_by=member,
            )
            removal = Job.objects.create(
                pool=pool,
                kind="scale_in",
                status="running",
                delta=-1,
                desired_before=3,
                desired_after=2,
                requested_by=UserFactory(),
            )
            for status in ("ready", "failed", "terminated"):
                host = Host.objects.create(
                    pool=pool,
                    provider=provider,
                    template=template,
                    job=out,
                    removal_job=removal if status == "terminated" else None,
                    hostname=f"h{pool.pk}-{status}",
                    status=status,
                    ready_at=now if status != "failed" else None,
                    failed_at=now if status == "failed" else None,
                )
                outcome = "failed" if status == "failed" else "changed"
                InitRun.objects.create(host=host, job=out, method="ansible", status=outcome, started_at=now)
                JobEvent.objects.create(job=out, host=host, kind="ready")
            audit.record(member, "scale", pool, {"desired_size": 0}, {"desired_size": 3})
            scaling_plans(pool, member, out, now)
            Budget.objects.create(cluster=pool.cluster, pool=pool, amount="100", currency="USD", enforce=True)
            cost_report(pool.cluster, pool, member)
        OrphanInstance.objects.create(provider=provider, instance_id=f"i-{template.pk}", first_seen=now, last_seen=now)


def scaling_plans(pool, member, job, now) -> None:
    """A pool administrator, a schedule with an occurrence, a policy with a trigger."""
    PoolAdmin.objects.create(pool=pool, user=member)
    schedule = ScalingSchedule.objects.create(pool=pool, name="gala", delta=2, cron="0 20 * * 6", checked_until=now)
    ScheduleOccurrence.objects.create(schedule=schedule, time=now, status="scaled", job=job)
    policy = ScalingPolicy.objects.create(pool=pool, name="cpu", alert_name="HighCPU", step_out=1, secret="s")
    PolicyTrigger.objects.create(policy=policy, source="json", status="firing", decision="scaled", job=job)


def captured(client, path: str) -> list[str]:
    """The SQL of one GET of path (after a first GET, so a token's once-a-minute touch is not counted)."""
    client.get(path)
    with CaptureQueriesContext(connection) as queries:
        answer = client.get(path)
    assert answer.status_code == 200, (path, answer.content[:300])
    return [query["sql"] for query in queries.captured_queries]


def path_of(prefix: str, cluster) -> str:
    """The list's URL."""
    return f"/api/v1/{prefix.format(cluster=cluster.pk)}/"


def page_queries(sql: list[str], table: str) -> list[str]:
    """The statements that read a page of the list's table (not a get() of one row, which asks LIMIT 21)."""
    return [q for q in sql if re.search(rf'FROM "{table}"', q) and " LIMIT " in q and " LIMIT 21" not in q]


def ends_on_primary_key(query: str, table: str) -> bool:
    """Whether the query's ORDER BY ends on the table's primary key (by name, or by position 1 when it is
    the first and only column selected)."""
    found = re.search(r" ORDER BY (.+?) LIMIT ", query)
    if found is None:
        return False
    last = found.group(1).split(", ")[-1].rsplit(" ", 1)[0]
    selects_only_pk = query.startswith(f'SELECT "{table}"."id" AS "pk" FROM')
    return last == f'"{table}"."id"' or (last == "1" and selects_only_pk)


@pytest.mark.parametrize("prefix", sorted(LISTS))
@pytest.mark.parametrize("role", ["sysadmin", "guest"])
def test_list_queries_do_not_grow_with_rows(clients, cluster, prefix, role):
    """NetBox-style baseline: a list sends as many statements for many rows as for few."""
    if role != "sysadmin" and prefix in SYSADMIN_ONLY:
        pytest.skip("system administrators only")
    grow(cluster, 1)
    few = captured(clients[role], path_of(prefix, cluster))
    grow(cluster, 3)
    many = captured(clients[role], path_of(prefix, cluster))
    assert len(many) == len(few), "\n".join(many)


@pytest.mark.parametrize(
    "path",
    [*(f"{prefix}/" for prefix in sorted(LISTS)), "pools/?ordering=-created_at", "jobs/?ordering=-created_at"]
    + ["hosts/?ordering=-created_at", "hosts/?ordering=status", "jobs/?status=succeeded", "hosts/?status=ready"],
)
def test_every_list_page_is_ordered_to_the_primary_key(clients, cluster, path):
    """Each page's query has an ORDER BY that ends on the primary key, so no row shows twice or never."""
    grow(cluster, 2)
    table = LISTS[path.split("/?")[0].rstrip("/")]
    pages = page_queries(captured(clients["sysadmin"], f"/api/v1/{path.format(cluster=cluster.pk)}"), table)
    assert pages, f"no page query on {table}"
    for query in pages:
        assert ends_on_primary_key(query, table), query


@pytest.mark.parametrize("path", STATUS_FILTERS)
def test_status_filters_add_no_distinct(clients, cluster, path):
    """Filtering by status (one value or several) neither counts nor pages with DISTINCT."""
    grow(cluster, 2)
    sql = captured(clients["sysadmin"], f"/api/v1/{path}")
    assert clients["sysadmin"].get(f"/api/v1/{path}").json()["results"], "the filter should match rows"
    assert not [q for q in sql if "DISTINCT" in q]


@pytest.mark.parametrize("path", ["pools/?limit=2&offset=4", "jobs/?limit=2&offset=4", "jobs/?status=succeeded"])
def test_counts_and_deep_pages_do_not_work_out_every_row(clients, cluster, path):
    """A list's count and its skipped rows cost no per-row counting: no GROUP BY, no counts inside."""
    grow(cluster, 3)
    Job.objects.update(status="succeeded")
    sql = captured(clients["sysadmin"], f"/api/v1/{path}")
    counts = [q for q in sql if q.startswith("SELECT COUNT(*)")]
    skips = [q for q in sql if " OFFSET " in q]
    assert counts and (skips or "offset" not in path)
    for query in counts + skips:
        assert "GROUP BY" not in query and query.count("COUNT(") <= 1, query


@pytest.mark.parametrize("ordering", ["", "&ordering=-created_at", "&ordering=status", "&ordering=kind"])
def test_paging_through_jobs_made_in_one_instant_shows_each_once(clients, cluster, ordering):
    """Jobs with the same creation time, status and kind page through in limit=3 pages: each exactly once."""
    grow(cluster, 3)
    Job.objects.update(created_at=timezone.now() - timedelta(hours=1), status="succeeded", kind="scale_out")
    seen = []
    url = f"/api/v1/jobs/?limit=3{ordering}"
    while url:
        body = clients["sysadmin"].get(url).json()
        seen += [job["id"] for job in body["results"]]
        url = body["next"]
    assert sorted(seen) == sorted(Job.objects.values_list("pk", flat=True))


def test_pool_and_job_figures_agree_between_list_and_detail(clients, cluster):
    """Counted per row with subqueries, sizes and progress read the same in a list as in a detail."""
    grow(cluster, 2)
    client = clients["sysadmin"]
    pools = client.get("/api/v1/pools/?limit=1000").json()["results"]
    assert {(p["size"], p["ready"]) for p in pools} == {(2, 1)}
    assert [client.get(f"/api/v1/pools/{p['id']}/").json()["size"] for p in pools] == [2] * len(pools)
    jobs = client.get("/api/v1/jobs/?limit=1000").json()["results"]
    assert len(jobs) == 8 and {job["progress"]["total"] for job in jobs} == {1, 3}
    for job in jobs:
        assert client.get(f"/api/v1/jobs/{job['id']}/").json()["progress"] == job["progress"]


@pytest.mark.parametrize("ordering", ["hostname", "-hostname"])
def test_a_members_hosts_by_name_are_sorted_not_walked_and_in_the_same_order(clients, cluster, ordering):
    """A member's host list by name sorts the hosts they see (an expression no index holds) rather than walking the
    host-name index past other clusters' hosts; a system administrator's walks it. Both give the same order, ties
    broken by id the same way, page after page."""
    grow(cluster, 3)
    Host.objects.filter(pk__in=Host.objects.order_by("pk").values("pk")[:2]).update(hostname="same-name")
    for role, sorts, visible in (
        ("guest", True, Host.objects.filter(pool__cluster=cluster)),
        ("sysadmin", False, Host.objects.all()),
    ):
        names = list(visible.values_list("hostname", "pk"))
        # Ties by name come by id ascending in both directions, as for every ?ordering=.
        by_id = sorted(names, key=lambda row: row[1])
        expected = sorted(by_id, key=lambda row: row[0], reverse=ordering.startswith("-"))
        url = f"/api/v1/hosts/?limit=2&ordering={ordering}"
        sql = page_queries(captured(clients[role], url), "inventory_host")
        assert sql and ('ORDER BY (COALESCE("inventory_host"."hostname"' in sql[0]) == sorts, sql
        seen = []
        while url:
            body = clients[role].get(url).json()
            seen += [(host["hostname"], host["id"]) for host in body["results"]]
            url = body["next"]
        assert seen == expected, role
