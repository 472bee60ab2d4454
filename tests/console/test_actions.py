"""The console's actions and the pages added with them, through Django's test client.

Scaling (by a delta, to a size, by picked hosts) and re-running initialization
show a confirmation first (the dry run's plan, its cost, the budgets after it)
and change nothing until confirmed; each goes through the API's services, so a
guest's forged POST is refused and a non-member gets 404. Budget, report and
provider pages show what the API shows the same user. Lists and tables send a
fixed number of statements whatever their number of rows.
"""

import html
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.configuration.models import InitRun
from apps.core.models import AuditEntry
from apps.costs.budgets.models import AlertDelivery, Budget, BudgetAlert
from apps.costs.models import Price
from apps.costs.reports.models import CostReportSchedule
from apps.inventory.models import Host
from apps.provisioning.models import Job, JobEvent
from tests.api.seed import _budget, cost_report
from tests.costs.test_where_people_look import running
from tests.factories import ClusterFactory, MachineFactory, PoolFactory, TemplateFactory, ready_hosts, with_template

pytestmark = pytest.mark.django_db


def login(user) -> Client:
    """A browser session signed in as user."""
    client = Client()
    client.force_login(user)
    return client


def plan_budgets(page) -> str:
    """The text of a scale plan's budget rows."""
    return " ".join(re.findall(r'<tr data-budget="\d+".*?</tr>', page.content.decode(), re.S))


def text(page) -> str:
    """A page's text without its tags, spaces collapsed."""
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page.content.decode())))


def statements(client, url: str, method: str = "get", data=None) -> int:
    """How many SQL statements one request sends (it must answer 200)."""
    with CaptureQueriesContext(connection) as queries:
        answer = getattr(client, method)(url, data or {})
        assert answer.status_code == 200, answer.content[:500]
    return len(queries)


@pytest.fixture
def pool(cluster, priced):
    """Pool web (bounds 0–20) on the 0.36 USD an hour template, two hosts running for 30 hours."""
    pool = with_template(PoolFactory(cluster=cluster, name="web", max_size=20), priced)
    running(pool, priced, hours=30, n=2)
    pool.desired_size = 2
    pool.save(update_fields=["desired_size"])
    return pool


@pytest.fixture
def budgets(pool):
    """A roomy budget of the cluster and a tight enforced one of the pool (its forecast is already past it)."""
    roomy = Budget.objects.create(cluster=pool.cluster, name="roomy", amount=Decimal("100000"), currency="USD")
    tight = Budget.objects.create(
        cluster=pool.cluster, pool=pool, name="tight", amount=Decimal("30"), currency="USD", enforce=True
    )
    return roomy, tight


def test_scale_to_a_size_shows_plan_cost_and_budgets_then_confirms(pool, budgets, users):
    """To size 5: the plan (3 on the template), what it adds, each budget after it, the tight one refusing.

    Nothing changes until the confirmation; a developer's confirmation is refused for the budget (and says
    so), an admin who overrides it gets the job, audited on the budget.
    """
    roomy, tight = budgets
    developer = login(users["developer"])
    page = developer.post(f"/pools/{pool.pk}/scale/confirm/", {"desired_size": "5"})
    assert page.status_code == 200
    body = text(page)
    assert "Desired size 2 → 5; nothing has changed yet." in body
    plan = re.search(r'<table class="list plan">.*?</table>', page.content.decode(), re.S).group(0)
    assert "look" in plan and "<td>3</td>" in plan
    # 3 hosts at 0.36 USD an hour: 1.08 an hour, 788.40 a month of 730 hours.
    assert "Adds 1.08 USD an hour, 788.40 USD a month." in body
    rows = re.findall(r'<tr data-budget="(\d+)"( class="refuses")?>', page.content.decode())
    assert rows == [(str(roomy.pk), ""), (str(tight.pk), ' class="refuses"')]
    assert "yes: refuses this scale" in body and "Refused: an enforced budget" in body
    assert "100,000.00 USD" in plan_budgets(page) and "30.00 USD" in plan_budgets(page)
    assert 'name="override_budget"' not in page.content.decode(), "only cluster admins may override"
    assert 'name="desired_size" value="5"' in page.content.decode()
    assert not Job.objects.exists()

    refused = developer.post(f"/pools/{pool.pk}/scale/", {"desired_size": "5"}, follow=True)
    assert "would take the forecast past budget tight" in text(refused)
    forged = developer.post(f"/pools/{pool.pk}/scale/", {"desired_size": "5", "override_budget": "1"}, follow=True)
    assert "Only the cluster's admins may override a budget." in text(forged)
    assert not Job.objects.exists()
    pool.refresh_from_db()
    assert pool.desired_size == 2

    admin = login(users["admin"])
    confirmation = admin.post(f"/pools/{pool.pk}/scale/confirm/", {"desired_size": "5"})
    assert 'name="override_budget"' in confirmation.content.decode()
    answer = admin.post(f"/pools/{pool.pk}/scale/", {"desired_size": "5", "override_budget": "1"})
    job = Job.objects.get()
    assert answer.status_code == 302 and answer["Location"] == f"/jobs/{job.pk}/"
    assert (job.kind, job.delta, job.desired_after) == ("scale_out", 3, 5)
    assert AuditEntry.objects.filter(object_id=str(tight.pk), after__override_budget=True).exists()


def test_scale_refusals_say_why(pool, users):
    """Bounds, both fields at once, not a number, and the permission: each refusal says what to fix."""
    developer = login(users["developer"])
    past = developer.post(f"/pools/{pool.pk}/scale/confirm/", {"desired_size": "21"})
    assert "Refused:" in text(past) and "past its max_size 20" in text(past)
    both = developer.post(f"/pools/{pool.pk}/scale/confirm/", {"delta": "1", "desired_size": "3"})
    assert both.status_code == 400 and 'Give exactly one of "delta", "desired_size" or "hosts".' in text(both)
    word = developer.post(f"/pools/{pool.pk}/scale/confirm/", {"desired_size": "five"})
    assert word.status_code == 400 and "Give the size to scale the pool to" in text(word)
    # The form comes back as typed, the message right after its field, which points at it; no Confirm button.
    content = word.content.decode()
    field = re.search(
        r'<label data-field="desired_size">.*?</label>\s*<ul class="errorlist" id="([^"]+)"', content, re.S
    )
    assert field and 'value="five"' in field.group(0) and f'aria-describedby="{field.group(1)}"' in field.group(0)
    assert 'name="confirm"' not in content and 'data-field="delta">' in content
    empty = developer.post(f"/pools/{pool.pk}/scale/confirm/", {"delta": "", "desired_size": ""})
    assert empty.status_code == 400
    assert re.search(
        r'data-field="delta">.*?</label>\s*<ul class="errorlist"[^>]*><li>Give a number of hosts',
        empty.content.decode(),
        re.S,
    )
    preview = developer.post(f"/pools/{pool.pk}/scale/preview/", {"delta": "-3"})
    assert "below its min_size 0" in text(preview)
    guest = login(users["guest"]).post(f"/pools/{pool.pk}/scale/confirm/", {"desired_size": "3"})
    assert guest.status_code == 403
    assert "does not allow scaling" in text(guest) and 'name="confirm"' not in guest.content.decode()
    assert not Job.objects.exists()


def test_preview_of_a_scale_in_shows_the_hosts_and_run_rate_it_removes(pool, users):
    """-1: the host the engine would remove and the 0.36 USD an hour it stops paying."""
    page = login(users["developer"]).post(f"/pools/{pool.pk}/scale/preview/", {"delta": "-1"})
    body = text(page)
    assert "These hosts would be removed:" in body and "Removes 0.36 USD an hour of run-rate." in body
    assert "No budget covers this pool." in body
    assert not Job.objects.exists()


def test_pick_hosts_remove_them_after_confirmation(pool, users):
    """Two picked hosts: the confirmation lists them and their run-rate; confirmed, a scale-in job by them."""
    picked = list(pool.hosts.order_by("pk"))
    ids = [host.pk for host in picked]
    developer = login(users["developer"])
    hosts_list = developer.get("/hosts/").content.decode()
    assert f'name="hosts" value="{ids[0]}" form="bulk-hosts"' in hosts_list and 'value="remove"' in hosts_list
    page = developer.post("/hosts/actions/", {"action": "remove", "hosts": ids, "next": "/hosts/"})
    body = text(page)
    assert page.status_code == 200 and "Desired size 2 → 0" in body
    assert all(host.hostname in body for host in picked) and "Removes 0.72 USD an hour of run-rate." in body
    assert not Job.objects.exists()
    answer = developer.post("/hosts/actions/", {"action": "remove", "hosts": ids, "confirm": "1"})
    job = Job.objects.get()
    assert answer["Location"] == f"/jobs/{job.pk}/" and (job.kind, job.delta) == ("scale_in", -2)
    assert set(Host.objects.filter(pk__in=ids).values_list("status", flat=True)) == {"terminating"}
    assert set(job.removed_hosts.values_list("pk", flat=True)) == set(ids)


def test_hosts_of_two_pools_are_refused_together(pool, priced, users):
    """Removing is a scale-in of one pool: hosts of two pools are refused, nothing changes."""
    other = with_template(PoolFactory(cluster=pool.cluster, name="api"), priced)
    Host.objects.create(pool=other, provider=priced.provider, template=priced, hostname="api-1", status="ready")
    ids = list(Host.objects.values_list("pk", flat=True))
    page = login(users["developer"]).post("/hosts/actions/", {"action": "remove", "hosts": ids, "confirm": "1"})
    assert page.status_code == 400 and "remove hosts of one pool at a time" in text(page)
    assert not Job.objects.exists()


def test_guest_sees_no_controls_and_forged_posts_change_nothing(pool, users):
    """No scale form, checkboxes or bulk buttons for a guest; forged POSTs are refused; an outsider gets 404."""
    ids = list(pool.hosts.values_list("pk", flat=True))
    guest = login(users["guest"])
    for url in (f"/pools/{pool.pk}/", "/hosts/"):
        content = guest.get(url).content.decode()
        assert 'form="bulk-hosts"' not in content and 'id="bulk-hosts"' not in content
        assert 'name="desired_size"' not in content
    for kind in ("remove", "initialize"):
        refused = guest.post("/hosts/actions/", {"action": kind, "hosts": ids, "confirm": "1"})
        assert refused.status_code == 403 and "does not allow changing these hosts" in text(refused)
    refused = guest.post(f"/pools/{pool.pk}/scale/", {"desired_size": "4"}, follow=True)
    assert "does not allow scaling" in text(refused)
    outsider = login(users["outsider"])
    assert outsider.post("/hosts/actions/", {"action": "remove", "hosts": ids, "confirm": "1"}).status_code == 404
    assert outsider.post(f"/pools/{pool.pk}/scale/confirm/", {"delta": "1"}).status_code == 404
    assert outsider.post(f"/pools/{pool.pk}/scale/", {"delta": "1"}).status_code == 404
    assert not Job.objects.exists() and not InitRun.objects.exists()
    assert set(pool.hosts.values_list("status", flat=True)) == {"ready"}


def test_rerun_initialization_on_picked_hosts(cluster, users):
    """The confirmation says which hosts run again and which are skipped; confirmed, a run per ready host."""
    template = TemplateFactory(init_method="ansible")
    pool = with_template(PoolFactory(cluster=cluster), template)
    ready = ready_hosts(pool, template, [MachineFactory(provider=template.provider) for _ in range(2)])
    failed = Host.objects.create(pool=pool, provider=template.provider, template=template, hostname="broken-1")
    failed.status = "failed"
    failed.save(update_fields=["status"])
    ids = [ready[0].pk, failed.pk]
    developer = login(users["developer"])
    page = developer.post("/hosts/actions/", {"action": "initialize", "hosts": ids})
    body = text(page)
    assert "Initialization will run again on these hosts" in body and ready[0].hostname in body
    assert "These hosts are skipped" in body and "broken-1" in body
    assert not InitRun.objects.exists()
    done = developer.post("/hosts/actions/", {"action": "initialize", "hosts": ids, "confirm": "1"})
    assert "Initialization started again on 1 host." in text(done)
    assert f"/hosts/{ready[0].pk}/" in done.content.decode()
    assert list(InitRun.objects.values_list("host_id", "rerun")) == [(ready[0].pk, True)]


def test_pools_list_counts_running_jobs_and_polls(pool, users):
    """The pools list shows each pool's running jobs and redraws its table by itself (HTMX polling)."""
    Job.objects.create(pool=pool, kind="scale_out", delta=1, desired_before=2, desired_after=3, status="running")
    Job.objects.create(pool=pool, kind="scale_out", delta=1, desired_before=1, desired_after=2, status="succeeded")
    page = login(users["guest"]).get("/pools/")
    content = page.content.decode()
    assert 'hx-trigger="every 5s [' in content and 'hx-get="/pools/"' in content
    headers = re.findall(r'<th data-column="([a-z_]+)"', content)
    cells = re.findall(r"<td>(.*?)</td>", re.search(r"<tbody>(.*?)</tbody>", content, re.S).group(1))
    assert cells[headers.index("running_jobs")] == "1"
    fragment = login(users["guest"]).get("/pools/", headers={"HX-Request": "true"})
    assert fragment.content.decode().startswith('<div id="table-pools"')


def test_pool_and_host_pages_show_budget_cost_and_timeline(pool, budgets, users):
    """The pool page shows its budgets' figures; a host page its rate, cost so far and timeline."""
    page = login(users["guest"]).get(f"/pools/{pool.pk}/")
    content = page.content.decode()
    assert 'data-figure="run-rate">0.72 USD' in content and 'data-budget="' in content
    assert "tight" in text(page) and "roomy" in text(page)
    cluster_page = text(login(users["guest"]).get(f"/clusters/{pool.cluster_id}/"))
    assert "roomy (whole cluster)" in cluster_page and "tight (Pool web)" in cluster_page
    # Amounts as money is shown: to the currency's minor unit, thousands grouped.
    assert "100,000.00 USD" in cluster_page and "30.00 USD" in text(page) and ".0000" not in cluster_page
    host = pool.hosts.order_by("pk").first()
    job = Job.objects.create(pool=pool, kind="scale_out", delta=1, desired_before=1, desired_after=2)
    JobEvent.objects.create(job=job, host=host, kind="ready", message="ready after 2 s")
    host_page = login(users["guest"]).get(f"/hosts/{host.pk}/")
    body = text(host_page)
    assert re.search(r"0\.36(0*) USD", body) and "10.80 USD" in body and "ready after 2 s" in body


def test_budget_pages(pool, users):
    """The list shows this period's figures; a budget's page its burn-down data and alerts; outsiders get 404."""
    _budget(pool.cluster, pool, timezone.now())
    budget = Budget.objects.get()
    listed = login(users["guest"]).get("/budgets/")
    assert listed.status_code == 200 and f"/budgets/{budget.pk}/" in listed.content.decode()
    page = login(users["guest"]).get(f"/budgets/{budget.pk}/")
    content = page.content.decode()
    assert page.status_code == 200 and 'id="burndown-data"' in content and 'id="burndown-chart"' in content
    assert "5,000.00 USD" in text(page) and "4,100.00 USD" in text(page) and ".0000" not in text(page)
    assert "ops@example.test" in content and "answered HTTP 500" in content
    assert "k=1" not in content, "a webhook's query is a secret"
    assert login(users["outsider"]).get(f"/budgets/{budget.pk}/").status_code == 404
    assert f"/budgets/{budget.pk}/" not in login(users["outsider"]).get("/budgets/").content.decode()


def test_report_schedule_pages_link_downloads_through_the_api(pool, users):
    """A schedule's page lists its reports with csv and xlsx links; the link answers a member, not an outsider."""
    report = cost_report(pool.cluster, pool, users["admin"])
    schedule = report.schedule
    assert f"/reports/{schedule.pk}/" in login(users["guest"]).get("/reports/").content.decode()
    page = login(users["guest"]).get(f"/reports/{schedule.pk}/")
    link = f"/api/v1/cost-reports/{report.pk}/?format=csv"
    assert page.status_code == 200 and link in page.content.decode()
    download = login(users["guest"]).get(link)
    assert download.status_code == 200 and b"12.50" in download.content
    assert login(users["outsider"]).get(link).status_code == 404
    assert login(users["outsider"]).get(f"/reports/{schedule.pk}/").status_code == 404


def test_provider_page_never_shows_credentials(pool, priced, users, sysadmin):
    """Templates, the user's hosts, rate limits and prices; no credentials; the endpoint for system admins."""
    account = priced.provider
    account.credentials = {"access_key_id": "AKIDLOOK", "secret_access_key": "very-secret-value"}
    account.endpoint_url = "http://127.0.0.1:5999"
    account.options = {"rate_limits": {"create": {"request": [3, 1]}}}
    account.save()
    hidden = with_template(PoolFactory(cluster=ClusterFactory(name="other-line"), name="hidden"), priced)
    Host.objects.create(pool=hidden, provider=account, template=priced, hostname="hidden-host")
    page = login(users["guest"]).get(f"/providers/{account.pk}/")
    content, body = page.content.decode(), text(page)
    assert page.status_code == 200 and "look" in body and pool.hosts.first().hostname in body
    assert "hidden-host" not in content and "very-secret-value" not in content and "AKIDLOOK" not in content
    assert "127.0.0.1:5999" not in content
    assert re.search(r"create request 3 1 this account", body) and "m5.large – – 0.36000000 USD per_second" in body
    assert "127.0.0.1:5999" in login(sysadmin).get(f"/providers/{account.pk}/").content.decode()
    listed = login(users["guest"]).get("/providers/").content.decode()
    assert f"/providers/{account.pk}/" in listed and "127.0.0.1:5999" not in listed
    exported = b"".join(login(users["guest"]).get("/providers/?export=csv").streaming_content).decode()
    assert "Endpoint" in exported.splitlines()[0] and "127.0.0.1:5999" not in exported
    assert "127.0.0.1:5999" in login(sysadmin).get("/providers/").content.decode()


def test_new_lists_and_pages_send_fixed_statements(pool, priced, users):
    """Pools, hosts, budgets and schedules lists, pool, cluster, provider, budget and schedule pages, and the
    remove confirmation: as many statements for many rows as for few."""
    _budget(pool.cluster, pool, timezone.now())
    budget = Budget.objects.get()
    alert = budget.alerts.get()
    report = cost_report(pool.cluster, pool, users["admin"])
    client = login(users["developer"])
    urls = ["/pools/", "/budgets/", f"/pools/{pool.pk}/", f"/providers/{priced.provider_id}/", "/hosts/"]
    urls += [f"/reports/{report.schedule_id}/", "/reports/", f"/budgets/{budget.pk}/", f"/clusters/{pool.cluster_id}/"]
    few = [statements(client, url) for url in urls]
    for i in range(12):
        more = with_template(PoolFactory(cluster=pool.cluster, name=f"more-{i}", desired_size=2), priced)
        running(more, priced, hours=1, n=2)
        Job.objects.create(pool=more, kind="scale_out", delta=1, desired_before=0, desired_after=1, status="running")
        Budget.objects.create(cluster=pool.cluster, pool=more, name=f"b{i}", amount=Decimal(10 + i), currency="USD")
        Price.objects.create(
            provider=priced.provider,
            instance_type=f"t{i}.large",
            currency="USD",
            hourly_price=Decimal("0.1"),
            valid_from=timezone.now(),
        )
        report.pk = None
        report.period_start = report.period_start.replace(year=2000 + i)
        report.save()
        schedule = CostReportSchedule.objects.get(pk=report.schedule_id)
        schedule.pk, schedule.name = None, f"copy-{i}"
        schedule.save()
        copy = BudgetAlert.objects.get(pk=alert.pk)
        copy.pk, copy.percent = None, 50 + i
        copy.save()
        AlertDelivery.objects.create(alert=copy, channel="email", target=f"ops{i}@example.test", status="sent")
    for i in range(10):
        Host.objects.create(pool=pool, provider=priced.provider, template=priced, hostname=f"w{i}", status="ready")
    pool.desired_size = 12
    pool.save(update_fields=["desired_size"])
    assert [statements(client, url) for url in urls] == few
    assert report.schedule.reports.count() == 13 and budget.alerts.count() == 13
    picked = list(pool.hosts.values_list("pk", flat=True))
    one = statements(client, "/hosts/actions/", "post", {"action": "remove", "hosts": picked[:1]})
    assert statements(client, "/hosts/actions/", "post", {"action": "remove", "hosts": picked}) == one
