"""The console's big pages come in pages: the pools of the home page, a pool's hosts and jobs.

Each page shows a page of rows with links to the next and previous ones, and
sends as many statements for a big pool (many hosts, many jobs by many people)
as for a small one. Speed itself is measured by bench/api.py.
"""

import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from apps.inventory.models import Host
from apps.provisioning.models import Job
from tests.factories import PoolFactory, TemplateFactory, UserFactory, with_template

pytestmark = pytest.mark.django_db

#: The console's page sizes (apps/console/views.py), as a user counts them on the page.
HOSTS_PER_PAGE, JOBS_PER_PAGE, POOLS_PER_PAGE = 50, 20, 50


@pytest.fixture
def pool(cluster):
    """A pool with one template."""
    return with_template(PoolFactory(cluster=cluster, name="web", max_size=1000), TemplateFactory())


def add_hosts(pool, count: int, status: str = "ready") -> None:
    """count hosts of pool in status."""
    template = pool.template_links.get().template
    start = Host.objects.count()
    Host.objects.bulk_create(
        Host(pool=pool, provider=template.provider, template=template, hostname=f"h{start + i}", status=status)
        for i in range(count)
    )


def add_jobs(pool, count: int) -> None:
    """count jobs on pool, each requested by a different person."""
    for _ in range(count):
        Job.objects.create(
            pool=pool, kind="scale_out", delta=1, desired_before=0, desired_after=1, requested_by=UserFactory()
        )


def login(user) -> Client:
    """A browser session signed in as user."""
    client = Client()
    client.force_login(user)
    return client


def links(page, kind: str) -> list[int]:
    """The ids of the hosts, jobs or pools the page links to, in order."""
    return [int(pk) for pk in re.findall(rf'href="/{kind}/(\d+)/"', page.content.decode())]


def next_url(page, path: str) -> str:
    """The page's "Next" link, made absolute."""
    found = re.search(r'href="(\?[^"]*)" rel="next"', page.content.decode())
    return f"{path}{found.group(1).replace('&amp;', '&')}" if found else ""


def statements(client, url: str) -> int:
    """How many SQL statements one GET of url sends (asserting it answers 200)."""
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return len(queries.captured_queries)


def test_pool_page_shows_a_page_of_hosts_and_pages_through_all(pool, users):
    """A pool of 230 live hosts (and terminated ones) shows 50 at a time; Next walks all of them, each once."""
    add_hosts(pool, 200)
    add_hosts(pool, 30, "failed")
    add_hosts(pool, 40, "terminated")
    client = login(users["guest"])
    path = f"/pools/{pool.pk}/"
    first = client.get(path)
    assert len(links(first, "hosts")) == HOSTS_PER_PAGE
    assert b"page 1 of 5" in first.content
    assert b"ready 200" in first.content and b"failed 30" in first.content and b"terminated 40" in first.content
    assert "size 230 · ready 200" in first.content.decode()
    seen, url = [], path
    while url:
        page = client.get(url)
        seen += links(page, "hosts")
        url = next_url(page, path)
    live = Host.objects.filter(pool=pool).exclude(status="terminated").order_by("pk")
    assert seen == list(live.values_list("pk", flat=True))
    assert b'name="delta"' not in first.content  # a guest still gets no scale box


def test_pool_page_filters_hosts_by_status_and_keeps_the_filter_when_paging(pool, users):
    """?status=failed lists only failed hosts; its Next link keeps the filter; a bad page number gives a page."""
    add_hosts(pool, 20)
    add_hosts(pool, HOSTS_PER_PAGE + 5, "failed")
    client = login(users["guest"])
    path = f"/pools/{pool.pk}/"
    first = client.get(f"{path}?status=failed")
    failed = set(Host.objects.filter(status="failed").values_list("pk", flat=True))
    assert set(links(first, "hosts")) <= failed and len(links(first, "hosts")) == HOSTS_PER_PAGE
    second = client.get(next_url(first, path))
    assert set(links(second, "hosts")) <= failed and len(links(second, "hosts")) == 5
    for bad in ("?page=lots", "?page=-1", "?page=99999", "?status=sleeping"):
        assert client.get(f"{path}{bad}").status_code == 200


def test_pool_page_statements_do_not_grow_with_hosts_or_jobs(pool, users):
    """The pool page sends as many statements for 300 hosts and 30 jobs by 30 people as for 3 and 2."""
    client = login(users["developer"])
    add_hosts(pool, 3)
    add_jobs(pool, 2)
    statements(client, f"/pools/{pool.pk}/")  # the pool's cost figures are kept from now on (apps.costs.kept)
    few = statements(client, f"/pools/{pool.pk}/")
    add_hosts(pool, 300)
    add_jobs(pool, 28)
    assert statements(client, f"/pools/{pool.pk}/") == few
    page = client.get(f"/pools/{pool.pk}/")
    assert len(links(page, "jobs")) == JOBS_PER_PAGE and b'name="delta"' in page.content


def test_pool_page_pages_jobs_newest_first_without_losing_the_host_page(pool, users):
    """Jobs come JOBS_PER_PAGE at a time, newest first; their Next link keeps the page of hosts shown."""
    add_hosts(pool, HOSTS_PER_PAGE + 1)
    add_jobs(pool, JOBS_PER_PAGE + 3)
    client = login(users["guest"])
    path = f"/pools/{pool.pk}/"
    first = client.get(f"{path}?page=2")
    newest = list(Job.objects.filter(pool=pool).order_by("-created_at", "-pk").values_list("pk", flat=True))
    assert links(first, "jobs") == newest[:JOBS_PER_PAGE]
    second = client.get(f"{path}?page=2&jobs_page=2")
    assert links(second, "jobs") == newest[JOBS_PER_PAGE:]
    assert len(links(second, "hosts")) == 1


def test_home_page_shows_a_page_of_pools(cluster, users):
    """The home page lists POOLS_PER_PAGE pools at a time, in name order, pages through all of them, and sends
    as many statements for many pools as for a few."""
    for i in range(POOLS_PER_PAGE + 7):
        PoolFactory(cluster=cluster, name=f"p{i:03d}")
    client = login(users["guest"])
    first = client.get("/")
    assert len(links(first, "pools")) == POOLS_PER_PAGE
    second = client.get(next_url(first, "/"))
    assert len(links(second, "pools")) == 7
    names = [f"p{i:03d}".encode() for i in range(POOLS_PER_PAGE + 7)]
    assert [n for n in names if n in first.content + second.content] == names
    few = statements(client, "/"), statements(client, "/?page=2")
    for i in range(3 * POOLS_PER_PAGE):
        PoolFactory(cluster=cluster, name=f"q{i:03d}")
    assert (statements(client, "/"), statements(client, "/?page=2")) == few
