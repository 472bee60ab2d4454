"""Every console list, and the job and host pages with their tables, sends as many SQL statements for many rows
as for a few: no page makes a query per row.

The rows are what the API's schema fuzzing is seeded with (tests.api.seed): clusters with pools, hosts, jobs,
init runs, SSH keys, budgets and reports, on a physical provider; then four more such clusters, more registries,
orphans and audit entries. A system administrator sees every row of every list; a cluster member sees theirs.

The seed's scale job stays pending (no worker here), so its pool would sit above its hosts with its scale-out not
yet planned: a state the reconciler ends within moments, in which a budget's forecast plans that pool's
scale-out itself (a few statements per such pool, see apps.costs.budgets.forecast._changes). The pools here are
set back to the hosts they have, as they are once the reconciler has planned.
"""

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.configuration.models import Registry
from apps.core import audit
from apps.core.models import AuditAction
from apps.inventory.models import ServicePool
from apps.provisioning.models import JobEvent, OrphanInstance
from tests.api.seed import _cluster
from tests.factories import PhysicalProviderFactory, UserFactory

pytestmark = pytest.mark.django_db

LISTS = (
    "/",
    "/clusters/",
    "/pools/",
    "/hosts/",
    "/jobs/",
    "/providers/",
    "/templates/",
    "/physical-machines/",
    "/registries/",
    "/ssh-keys/",
    "/orphans/",
    "/audit/",
    "/budgets/",
    "/reports/",
)


def statements(client: Client, url: str) -> int:
    """How many SQL statements one page sends (it must answer 200 and show rows)."""
    with CaptureQueriesContext(connection) as queries:
        answer = client.get(url)
    assert answer.status_code == 200, (url, answer.status_code)
    assert b"Nothing to show." not in answer.content or url == "/orphans/", url
    return len(queries)


def more_rows(provider, admin, first: int, count: int, now) -> None:
    """count more clusters (each with its pool, hosts, job, key, budget and report), registries, orphans and
    audit entries."""
    for index in range(first, first + count):
        made = _cluster(index, provider, admin)
        ServicePool.objects.filter(pk=made["pool"].pk).update(desired_size=len(made["hosts"]))
        Registry.objects.create(name=f"reg-{index}", url=f"registry-{index}.example.test")
        OrphanInstance.objects.create(
            provider=provider, instance_id=f"pm-orphan-{index}", reason="unclaimed", first_seen=now, last_seen=now
        )
        audit.record(admin, AuditAction.UPDATE, made["pool"], {"max_size": 10}, {"max_size": 20})
        for host in made["hosts"]:
            JobEvent.objects.create(job=made["job"], host=host, kind="ready", message="")


@pytest.mark.parametrize("who", ["sysadmin", "admin"])
def test_every_list_sends_as_many_statements_for_many_rows_as_for_few(who):
    """One cluster's rows, then five clusters' (and more registries, orphans, audit entries): each list the same."""
    now = timezone.now()
    provider = PhysicalProviderFactory(name="idc-q", options={"terminate_orphans": False})
    admin = UserFactory(username="q-admin")
    viewer = UserFactory(username="q-root", is_superuser=True) if who == "sysadmin" else admin
    more_rows(provider, admin, 1, 1, now)
    client = Client()
    client.force_login(viewer)
    urls = [url for url in LISTS if who == "sysadmin" or url != "/orphans/"]
    few = {url: statements(client, url) for url in urls}
    more_rows(provider, admin, 2, 4, now)
    many = {url: statements(client, url) for url in urls}
    assert many == few


def test_job_and_host_pages_send_as_many_statements_for_many_hosts_events_and_runs():
    """A job's page with its hosts and timeline, a host's page with its events and init runs: the same count
    for a job of three hosts as for one of thirty, and for a host with one run and event as with twelve."""
    from apps.configuration.models import InitRun

    now = timezone.now()
    provider = PhysicalProviderFactory(name="idc-j")
    admin = UserFactory(username="j-admin")
    made = _cluster(1, provider, admin)
    job, host = made["job"], made["hosts"][0]
    type(host).objects.filter(pk__in=[h.pk for h in made["hosts"]]).update(job=job)
    JobEvent.objects.create(job=job, host=host, kind="ready", message="")
    client = Client()
    client.force_login(admin)
    pages = (f"/jobs/{job.pk}/", f"/hosts/{host.pk}/", f"/jobs/{job.pk}/progress/")
    few = [statements(client, url) for url in pages]
    template = host.template
    for i in range(27):
        other = type(host).objects.create(
            pool=host.pool, provider=provider, template=template, hostname=f"j-{i}", status="ready", job=job
        )
        JobEvent.objects.create(job=job, host=other, kind="ready", message="")
    for i in range(11):
        JobEvent.objects.create(job=job, host=host, kind="creating", message=f"step {i}")
        InitRun.objects.create(host=host, method="ansible", status="ok", started_at=now, output=f"run {i}")
    assert [statements(client, url) for url in pages] == few
