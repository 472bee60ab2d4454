"""The console's lists and detail pages: who sees what, filters, sorting, columns, CSV, language.

Every page is asked for by each kind of user: a member sees their cluster's
objects, a non-member gets 404 for another cluster's object and finds none of
it in any list, a user who is not a system administrator gets 403 where the
API gives 403 (orphans).
"""

import csv
import io
import re

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from apps.console.models import Preference
from apps.core.models import AuditEntry
from apps.inventory.models import Host
from apps.provisioning.models import Job
from tests.costs.test_where_people_look import running
from tests.factories import ClusterFactory, PoolFactory, TemplateFactory, with_template

pytestmark = pytest.mark.django_db

LISTS = (
    "/",
    "/clusters/",
    "/pools/",
    "/hosts/",
    "/jobs/",
    "/costs/",
    "/providers/",
    "/templates/",
    "/physical-machines/",
    "/registries/",
    "/ssh-keys/",
    "/audit/",
)


def login(user) -> Client:
    """A browser session signed in as user."""
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def pool(cluster):
    """A pool named web with one template and three hosts (two ready, one failed)."""
    template = TemplateFactory()
    pool = with_template(PoolFactory(cluster=cluster, name="web", max_size=1000), template)
    for name, status in (("web-a", "ready"), ("web-b", "ready"), ("web-c", "failed")):
        Host.objects.create(pool=pool, provider=template.provider, template=template, hostname=name, status=status)
    return pool


@pytest.fixture
def secret_pool(db):
    """A pool of a cluster none of the test users belongs to, with a host."""
    template = TemplateFactory()
    pool = with_template(PoolFactory(cluster=ClusterFactory(name="hidden-line"), name="hidden-pool"), template)
    Host.objects.create(pool=pool, provider=template.provider, template=template, hostname="hidden-host")
    Job.objects.create(pool=pool, kind="scale_out", delta=1, desired_before=0, desired_after=1)
    return pool


def rows(page) -> list[list[str]]:
    """The cells of the page's first list table, as text."""
    html = page.content.decode()
    body = re.search(r'<table class="list"[^>]*>.*?<tbody>(.*?)</tbody>', html, re.S).group(1)
    return [
        [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]


def headings(page) -> list[str]:
    """The keys of the first list table's columns."""
    return re.findall(r'<th data-column="([^"]+)"', page.content.decode())


def test_every_page_needs_login():
    """Anonymous visitors are sent to the login page from every list."""
    for url in (*LISTS, "/orphans/", "/clusters/1/", "/jobs/1/progress/"):
        answer = Client().get(url)
        assert answer.status_code == 302 and answer["Location"].startswith("/login/"), url


def test_every_list_answers_each_role(pool, users, sysadmin):
    """Every list page answers 200 to every signed-in user, members or not."""
    for user in (*users.values(), sysadmin):
        client = login(user)
        for url in LISTS:
            assert client.get(url).status_code == 200, (user.username, url)


def test_non_member_sees_nothing_of_another_cluster(pool, secret_pool, users):
    """No list shows another cluster's pool, host or job; its detail pages are 404 like a missing id."""
    client = login(users["guest"])
    for url in LISTS:
        content = client.get(url).content
        assert b"hidden-line" not in content and b"hidden-pool" not in content and b"hidden-host" not in content
    job = secret_pool.jobs.get()
    host = secret_pool.hosts.get()
    for url in (
        f"/clusters/{secret_pool.cluster_id}/",
        f"/pools/{secret_pool.pk}/",
        f"/hosts/{host.pk}/",
        f"/jobs/{job.pk}/",
        f"/jobs/{job.pk}/progress/",
        "/clusters/999999/",
    ):
        assert client.get(url).status_code == 404, url
    # Filtering by the hidden cluster's id finds nothing, as in the API.
    assert rows(client.get(f"/hosts/?cluster={secret_pool.cluster_id}")) == [["Nothing to show."]]


def test_orphans_are_for_system_administrators_only(users, sysadmin):
    """The orphan list answers 403 to anyone else, as the API does, and is not in their menu."""
    assert login(users["admin"]).get("/orphans/").status_code == 403
    assert b"/orphans/" not in login(users["admin"]).get("/").content
    page = login(sysadmin).get("/orphans/")
    assert page.status_code == 200 and b"/orphans/" in page.content


def test_host_list_filters_searches_and_sorts_with_the_api_parameters(pool, users):
    """?status= uses the API's filter set, ?q= searches host names, ?ordering= sorts as the API does."""
    client = login(users["guest"])
    ready = rows(client.get("/hosts/?status=ready"))
    assert sorted(row[0] for row in ready) == ["web-a", "web-b"]
    assert [row[0] for row in rows(client.get("/hosts/?q=WEB-C"))] == ["web-c"]
    assert [row[0] for row in rows(client.get("/hosts/?ordering=-hostname"))] == ["web-c", "web-b", "web-a"]
    page = client.get("/hosts/?ordering=hostname")
    assert 'href="?ordering=-hostname"' in page.content.decode(), "the sorted column's heading sorts the other way"


def test_bad_filters_are_a_400_that_says_what_to_fix(pool, users):
    """A value the filter set refuses, or an unknown ordering, is a 400 page naming the parameter."""
    client = login(users["guest"])
    answer = client.get("/hosts/?status=sleeping")
    assert answer.status_code == 400 and b"status:" in answer.content
    answer = client.get("/hosts/?ordering=password")
    assert answer.status_code == 400 and b"Cannot order by" in answer.content
    assert client.get("/hosts/?pool=99999999999999999999999").status_code == 200


def test_columns_chosen_are_remembered_per_user(pool, users):
    """The column chooser keeps a user's columns for that table only; reset brings back the defaults."""
    client = login(users["guest"])
    assert "instance_id" in headings(client.get("/hosts/"))
    answer = client.post(
        "/preferences/columns/hosts/", {"columns": ["hostname", "zone", "nonsense"], "next": "/hosts/?status=ready"}
    )
    assert answer.status_code == 302 and answer["Location"] == "/hosts/?status=ready"
    assert headings(client.get("/hosts/")) == ["hostname", "zone"]
    assert "instance_id" in headings(login(users["developer"]).get("/hosts/")), "another user keeps the defaults"
    assert Preference.objects.get(user=users["guest"]).value == ["hostname", "zone"]
    client.post("/preferences/columns/hosts/", {"reset": "1", "next": "https://elsewhere.example/"})
    assert "instance_id" in headings(client.get("/hosts/"))
    assert client.post("/preferences/columns/no-such/", {"columns": ["x"]}).status_code == 404


def test_csv_exports_the_filtered_rows_with_the_chosen_columns(pool, secret_pool, users):
    """?export=csv gives every row the filters match (not only the page), in the columns shown."""
    client = login(users["guest"])
    client.post("/preferences/columns/hosts/", {"columns": ["hostname", "status"], "next": "/hosts/"})
    answer = client.get("/hosts/?status=ready&export=csv")
    assert answer["Content-Type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(b"".join(answer.streaming_content).decode())))
    assert table[0] == ["Host", "Status"]
    assert sorted(table[1:]) == [["web-a", "ready"], ["web-b", "ready"]]


def test_htmx_requests_get_the_table_alone(pool, users):
    """A sort or page asked for by HTMX answers the table fragment, not the whole page."""
    answer = login(users["guest"]).get("/hosts/?ordering=zone", headers={"HX-Request": "true"})
    assert answer.status_code == 200
    assert answer.content.decode().lstrip().startswith('<div id="table-hosts"') and b"<html" not in answer.content
    restore = {"HX-Request": "true", "HX-History-Restore-Request": "true"}
    assert b"<html" in login(users["guest"]).get("/hosts/", headers=restore).content, "back in history: the page"


def test_list_statements_do_not_grow_with_rows(pool, users):
    """The host list sends as many statements for 150 hosts in 21 pools (its pool filter's choices) as for 3 in 1."""
    client = login(users["guest"])

    def statements():
        with CaptureQueriesContext(connection) as queries:
            assert client.get("/hosts/").status_code == 200
        return len(queries)

    few = statements()
    template = pool.template_links.get().template
    Host.objects.bulk_create(
        Host(pool=pool, provider=template.provider, template=template, hostname=f"x{i}") for i in range(150)
    )
    for i in range(20):
        PoolFactory(cluster=pool.cluster, name=f"more-{i}")
    assert statements() == few


def test_cluster_page_shows_pools_members_and_cost(pool, users):
    """A member sees the cluster's pools and members and its cost this month; a non-member gets 404."""
    page = login(users["guest"]).get(f"/clusters/{pool.cluster_id}/")
    content = page.content.decode()
    assert page.status_code == 200 and f"/pools/{pool.pk}/" in content
    assert "admin-user" in content and "guest-user" in content
    assert 'data-figure="run-rate"' in content and 'data-figure="this-month"' in content
    assert login(users["outsider"]).get(f"/clusters/{pool.cluster_id}/").status_code == 404


def test_pool_page_shows_cost(pool, users):
    """The pool page shows its run-rate and cost this month in DCP_CURRENCY, and the moment they are of (in
    the reader's language)."""
    content = login(users["guest"]).get(f"/pools/{pool.pk}/").content.decode()
    assert 'data-figure="run-rate"' in content and "USD" in content
    assert re.search(r'data-figure="as-of">As of [^<]*: figures are computed again', content)
    chinese = login(users["guest"]).get(f"/pools/{pool.pk}/", headers={"Accept-Language": "zh-CN"})
    assert "截至" in chinese.content.decode()


def test_job_page_pages_its_hosts_and_polls_progress_while_running(pool, users):
    """A job's hosts come 100 a page; its progress fragment polls while it runs and stops when it ends."""
    job = Job.objects.create(pool=pool, kind="scale_out", delta=150, desired_before=0, desired_after=150)
    template = pool.template_links.get().template
    Host.objects.bulk_create(
        Host(pool=pool, provider=template.provider, template=template, hostname=f"j{i}", job=job) for i in range(150)
    )
    client = login(users["guest"])
    page = client.get(f"/jobs/{job.pk}/")
    content = page.content.decode()
    assert len(re.findall(r'<a href="/hosts/\d+/">j\d+</a>', content)) == 100
    assert '<th data-column="status_message">' in content, "each host's result: its status and message"
    assert client.post("/preferences/columns/job-hosts/", {"columns": ["hostname"], "next": "/"}).status_code == 302
    assert 'hx-trigger="every 2s"' in content and 'data-total="150"' in content
    Job.objects.filter(pk=job.pk).update(status="succeeded")
    fragment = client.get(f"/jobs/{job.pk}/progress/?active=1")
    assert fragment["HX-Trigger"] == "job-ended" and b"every 2s" not in fragment.content


def test_language_follows_accept_language_then_the_users_choice(pool, users):
    """Accept-Language picks Chinese; a choice made in the menu is kept for the user on their next sign-in."""
    client = login(users["guest"])
    assert "主机" in client.get("/hosts/", headers={"Accept-Language": "zh-CN,zh;q=0.9"}).content.decode()
    assert "Hosts" in client.get("/hosts/").content.decode()
    answer = client.post("/language/", {"language": "zh-hans", "next": "/hosts/"})
    assert answer.status_code == 302 and answer["Location"] == "/hosts/"
    chinese = client.get("/hosts/").content.decode()
    assert "主机" in chinese
    assert 'class="pill status-ready" data-value="ready">就绪<' in chinese, "states are named in Chinese too"
    assert '<option value="failed">失败</option>' in chinese, "and so are the filter's choices"
    export = client.get("/hosts/?export=csv")
    assert "ready" in b"".join(export.streaming_content).decode(), "CSV keeps the API's values"
    other = Client()
    other.post("/login/", {"username": "guest-user", "password": "correct horse battery"})
    assert "主机" in other.get("/hosts/").content.decode(), "the choice follows the user to a new session"
    client.post("/language/", {"language": "en", "next": "/"})
    assert "Hosts" in client.get("/hosts/", headers={"Accept-Language": "zh-CN"}).content.decode()


def test_audit_list_shows_the_users_clusters_changes(pool, users):
    """The audit list shows the console's scale entry to members."""
    login(users["developer"]).post(f"/pools/{pool.pk}/scale/", {"delta": 1})
    assert AuditEntry.objects.filter(action="scale").exists()
    page = login(users["guest"]).get("/audit/?action=scale")
    assert any("developer-user" in row for row in rows(page))
    assert login(users["outsider"]).get("/audit/?action=scale").content.count(b"developer-user") == 0


def test_pool_and_cluster_pages_show_the_apis_cost_figures(cluster, users, priced):
    """Three live hosts at 0.36 USD an hour: the pool and cluster pages show a run-rate of 1.08 USD."""
    pool = PoolFactory(cluster=cluster, name="priced")
    running(pool, priced, hours=1, n=3)
    client = login(users["guest"])
    for path in (f"/pools/{pool.pk}/", f"/clusters/{cluster.pk}/"):
        content = client.get(path).content.decode()
        assert re.search(r'data-figure="run-rate">1\.08 USD<', content), path
        assert re.search(r'data-figure="this-month">\d+\.\d\d USD<', content), path


def test_scale_preview_shows_the_plan_and_its_cost_and_changes_nothing(cluster, users, priced):
    """Preview +2 on a priced pool: where the hosts go and what they add an hour; no job, same desired size."""
    pool = with_template(PoolFactory(cluster=cluster, name="burst"), priced)
    answer = login(users["developer"]).post(f"/pools/{pool.pk}/scale/preview/", {"delta": 2})
    content = answer.content.decode()
    assert answer.status_code == 200 and "nothing has changed yet" in content
    assert f"<td>{priced.name}</td>" in content and "<td>2</td>" in content
    assert re.search(r"Adds 0\.72 USD an hour, \d+\.\d\d USD a month", content)
    assert not Job.objects.exists() and pool.__class__.objects.get(pk=pool.pk).desired_size == 0
    refused = login(users["guest"]).post(f"/pools/{pool.pk}/scale/preview/", {"delta": 2})
    assert b"does not allow scaling" in refused.content and b"Adds" not in refused.content
    too_many = login(users["developer"]).post(f"/pools/{pool.pk}/scale/preview/", {"delta": 99})
    assert b"max_size 10" in too_many.content
    assert login(users["outsider"]).post(f"/pools/{pool.pk}/scale/preview/", {"delta": 2}).status_code == 404


def test_job_is_cancelled_from_its_page_by_developers_only(pool, users):
    """A guest sees no Cancel button and a forged POST is refused; a developer cancels, audited like the API's."""
    job = Job.objects.create(pool=pool, kind="scale_out", delta=2, desired_before=0, desired_after=2)
    guest = login(users["guest"])
    assert b"Cancel this job" not in guest.get(f"/jobs/{job.pk}/").content
    refused = guest.post(f"/jobs/{job.pk}/cancel/", follow=True)
    assert b"does not allow cancelling" in refused.content
    job.refresh_from_db()
    assert job.status == "pending"
    assert login(users["outsider"]).post(f"/jobs/{job.pk}/cancel/").status_code == 404
    developer = login(users["developer"])
    assert b"Cancel this job" in developer.get(f"/jobs/{job.pk}/").content
    page = developer.post(f"/jobs/{job.pk}/cancel/", follow=True)
    assert f"Job {job.pk} was cancelled.".encode() in page.content
    job.refresh_from_db()
    assert job.status == "cancelled" and AuditEntry.objects.filter(action="cancel", via="console").exists()
    again = developer.post(f"/jobs/{job.pk}/cancel/", follow=True)
    assert b"nothing to cancel" in again.content


def test_cluster_admins_manage_members_from_the_cluster_page(pool, users):
    """An admin adds, re-roles and removes members (audited, checked like the API); others get no form and a refusal."""
    from tests.factories import UserFactory

    newcomer = UserFactory(username="newcomer")
    cluster = pool.cluster
    admin = login(users["admin"])
    page = admin.get(f"/clusters/{cluster.pk}/").content.decode()
    assert "Add member" in page
    answer = admin.post(f"/clusters/{cluster.pk}/members/", {"username": "newcomer", "role": "developer"}, follow=True)
    assert b"newcomer is now a member." in answer.content
    assert cluster.memberships.get(user=newcomer).role == "developer"
    # What is wrong with an addition is shown by its field on the add page, and nothing is added.
    again = admin.post(f"/clusters/{cluster.pk}/members/", {"username": "newcomer", "role": "guest"})
    assert again.status_code == 400 and b"already a member" in again.content
    unknown = admin.post(f"/clusters/{cluster.pk}/members/", {"username": "nobody", "role": "guest"})
    assert b'data-field="username"' in unknown.content and b"username=nobody does not exist" in unknown.content
    bad_role = admin.post(f"/clusters/{cluster.pk}/members/", {"username": "nobody", "role": "boss"})
    assert b"boss is not one of the available choices" in bad_role.content and cluster.memberships.count() == 4
    bad_role = admin.post(f"/clusters/{cluster.pk}/members/newcomer/", {"role": "owner"}, follow=True)
    assert b"role:" in bad_role.content and cluster.memberships.get(user=newcomer).role == "developer"
    admin.post(f"/clusters/{cluster.pk}/members/newcomer/", {"role": "guest"})
    assert cluster.memberships.get(user=newcomer).role == "guest"
    gone = admin.post(f"/clusters/{cluster.pk}/members/newcomer/", {"remove": "1"}, follow=True)
    assert b"newcomer is no longer a member." in gone.content and not cluster.memberships.filter(user=newcomer).exists()
    assert AuditEntry.objects.filter(via="console", action__in=["create", "update", "delete"]).count() == 3

    developer = login(users["developer"])
    assert "Add member" not in developer.get(f"/clusters/{cluster.pk}/").content.decode()
    # A forged request of another role is refused by the server (403), as on every edit page.
    refused = developer.post(f"/clusters/{cluster.pk}/members/", {"username": "newcomer", "role": "admin"})
    assert refused.status_code == 403 and not cluster.memberships.filter(user=newcomer).exists()
    assert login(users["guest"]).get(f"/clusters/{cluster.pk}/members/").status_code == 403
    refused = developer.post(f"/clusters/{cluster.pk}/members/guest-user/", {"remove": "1"})
    assert refused.status_code == 403 and cluster.memberships.filter(role="guest").exists()
    outsider = login(users["outsider"])
    assert outsider.post(f"/clusters/{cluster.pk}/members/", {"username": "x", "role": "guest"}).status_code == 404


def test_login_page_offers_the_language_switch(users):
    """Before signing in, the login page switches to Chinese, and the signed-in pages stay Chinese."""
    client = Client()
    assert 'value="zh-hans"' in client.get("/login/").content.decode()
    answer = client.post("/language/", {"language": "zh-hans", "next": "/login/"})
    assert answer.status_code == 302 and answer["Location"] == "/login/"
    assert "<h1>登录</h1>" in client.get("/login/").content.decode()
    client.post("/login/", {"username": "guest-user", "password": "correct horse battery"})
    assert "主机" in client.get("/hosts/").content.decode()
    assert client.post("/language/", {"language": "klingon", "next": "/"}).status_code == 302
    assert "主机" in client.get("/hosts/").content.decode(), "an unknown language changes nothing"


def test_job_page_shows_progress_by_template_and_each_hosts_steps_and_time(cluster, users):
    """A scale-out over two templates: the bar's figures by template (ready, failed, total), each host's time from
    request to ready (or failure) and its steps with their times; the hosts table redraws itself while the job
    runs and stops once it has ended. In Chinese the same, with 秒 for seconds."""
    from datetime import timedelta

    from django.utils import timezone

    from apps.provisioning.models import JobEvent

    first, second = TemplateFactory(name="tpl-a"), TemplateFactory(name="tpl-b")
    pool = with_template(with_template(PoolFactory(cluster=cluster, name="two"), first, 0), second, 1)
    job = Job.objects.create(pool=pool, kind="scale_out", status="running", delta=3, desired_before=0, desired_after=3)
    asked = timezone.now() - timedelta(minutes=5)
    made = {}
    for name, template, status in (("a-1", first, "ready"), ("a-2", first, "failed"), ("b-1", second, "creating")):
        made[name] = Host.objects.create(
            pool=pool, provider=template.provider, template=template, job=job, hostname=name, status=status
        )
    Host.objects.filter(job=job).update(created_at=asked)
    Host.objects.filter(pk=made["a-1"].pk).update(ready_at=asked + timedelta(seconds=41))
    Host.objects.filter(pk=made["a-2"].pk).update(failed_at=asked + timedelta(seconds=12.34))
    for kind, after in (("creating", 0.5), ("ready", 41)):
        event = JobEvent.objects.create(job=job, host=made["a-1"], kind=kind, message="")
        JobEvent.objects.filter(pk=event.pk).update(time=asked + timedelta(seconds=after))
    client = login(users["guest"])
    page = client.get(f"/jobs/{job.pk}/")
    content = page.content.decode()
    by_template = re.search(r'<table class="list by-template">.*?</table>', content, re.S).group(0)
    drawn = re.findall(
        r'<tr data-template="([^"]*)"><td>[^<]*</td><td>(\d+)</td><td>(\d+)</td><td>(\d+)</td>', by_template
    )
    assert drawn == [("tpl-a", "1", "1", "2"), ("tpl-b", "0", "0", "1")]
    hosts = {row[0]: row for row in rows(page) if row and row[0] in made}
    keys = headings(page)
    took, steps = keys.index("took"), keys.index("steps")
    assert hosts["a-1"][took] == "41.0 s" and hosts["a-2"][took] == "12.3 s" and hosts["b-1"][took] == "–"
    assert hosts["a-1"][steps] == "creating +0.5 s → ready +41.0 s" and hosts["b-1"][steps] == "–"
    assert re.search(r'id="table-job-hosts"[^>]*hx-trigger="every 3s', content), "the hosts table follows the job"
    progress = client.get(f"/jobs/{job.pk}/progress/?active=1").content.decode()
    assert '<tr data-template="tpl-a"><td>tpl-a</td><td>1</td><td>1</td><td>2</td>' in progress

    chinese = client.get(f"/jobs/{job.pk}/", headers={"Accept-Language": "zh-CN"})
    assert "按模板" in chinese.content.decode() and "41.0 秒" in chinese.content.decode()
    Job.objects.filter(pk=job.pk).update(status="partial")
    ended = client.get(f"/jobs/{job.pk}/").content.decode()
    assert not re.search(r'id="table-job-hosts"[^>]*hx-trigger', ended), "an ended job's table stays still"


def test_job_timeline_comes_a_page_at_a_time(pool, users):
    """A job of many events shows EVENTS_PER_PAGE of them, oldest first, and pages to the rest: the page stays short."""
    from apps.console.views import EVENTS_PER_PAGE
    from apps.provisioning.models import JobEvent

    job = Job.objects.create(pool=pool, kind="scale_out", delta=1, desired_before=0, desired_after=1)
    JobEvent.objects.bulk_create(
        JobEvent(job=job, kind="info", message=f"step {i:03d}") for i in range(EVENTS_PER_PAGE + 30)
    )
    client = login(users["guest"])

    def timeline(query: str = "") -> list[str]:
        content = client.get(f"/jobs/{job.pk}/{query}").content.decode()
        table = re.search(r'<table class="list timeline">.*?</table>', content, re.S).group(0)
        return re.findall(r"<td>(step \d+)</td>", table)

    first = timeline()
    assert first == [f"step {i:03d}" for i in range(EVENTS_PER_PAGE)]
    assert timeline("?events_page=2") == [f"step {i:03d}" for i in range(EVENTS_PER_PAGE, EVENTS_PER_PAGE + 30)]


def test_jobs_and_ssh_keys_lists_have_a_search_box_too(pool, secret_pool, users):
    """?q= finds jobs by pool, requester, trigger or message, and SSH keys by fingerprint, account or pool; still
    only the user's own."""
    from apps.configuration import keys

    mine = Job.objects.create(
        pool=pool, kind="scale_out", delta=1, desired_before=0, desired_after=1, message="quota exceeded in bj-a"
    )
    Job.objects.create(
        pool=pool, kind="scale_in", delta=-1, desired_before=1, desired_after=0, trigger="schedule nightly"
    )
    client = login(users["guest"])
    page = client.get("/jobs/")
    assert 'name="q"' in page.content.decode()
    assert [row[0] for row in rows(client.get("/jobs/?q=QUOTA"))] == [str(mine.pk)]
    assert len(rows(client.get("/jobs/?q=nightly"))) == 1
    assert rows(client.get("/jobs/?q=hidden-pool")) == [["Nothing to show."]], "another cluster's job stays hidden"
    key = keys.new_key(pool=pool)
    key.save()
    keys.new_key(pool=secret_pool).save()
    found = rows(client.get("/ssh-keys/", {"q": key.fingerprint[-12:]}))  # encoded: a fingerprint may hold "+"
    assert [row[0] for row in found] == [str(key.pk)]
    assert rows(client.get("/ssh-keys/?q=hidden-pool")) == [["Nothing to show."]]


def test_a_scale_ins_progress_by_template_counts_removed_hosts(cluster, users):
    """A scale-in removing two hosts (one of which had failed long before), one removed so far: by template,
    1 removed of 2, none failed, as its bar says."""
    from django.utils import timezone

    template = TemplateFactory(name="tpl-in")
    pool = with_template(PoolFactory(cluster=cluster, name="shrink"), template)
    job = Job.objects.create(pool=pool, kind="scale_in", status="running", delta=-2, desired_before=2, desired_after=0)
    for name, status in (("gone-1", "terminated"), ("going-1", "terminating")):
        Host.objects.create(
            pool=pool, provider=template.provider, template=template, hostname=name, status=status, removal_job=job
        )
    Host.objects.filter(hostname="going-1").update(failed_at=timezone.now())
    content = login(users["guest"]).get(f"/jobs/{job.pk}/progress/?active=1").content.decode()
    assert "<th>Removed</th>" in content
    assert '<tr data-template="tpl-in"><td>tpl-in</td><td>1</td><td>0</td><td>2</td>' in content
