"""The console in a real browser: Playwright drives Debian's Chromium against a live server.

Every check reads the page the browser drew: the order of a table's rows after
a click on a heading, the columns left after choosing them and reloading, the
rows an HTMX filter swapped in, Chinese labels after the language switch, a
job's progress bar filled by a real worker.
"""

import os
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from apps.configuration.models import InitRun
from apps.costs.budgets.models import Budget
from apps.inventory.models import Host
from apps.provisioning.models import Job
from tests.conftest import client_for, wait_for
from tests.costs.test_where_people_look import running
from tests.e2e.test_cloud_scale import template_for
from tests.factories import MachineFactory, PoolFactory, TemplateFactory, ready_hosts, with_template

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]
playwright = pytest.importorskip("playwright.sync_api")
CHROMIUM = "/usr/bin/chromium"
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def browser(worker):
    """One headless Chromium for the module (Debian's, never a downloaded one).

    Playwright's sync API keeps an event loop on this thread, so Django's ORM calls the tests make between
    browser steps need DJANGO_ALLOW_ASYNC_UNSAFE. The session's worker is started first: it copies this
    process's environment, and must not inherit that switch.
    """
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (see .ci/run)")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with playwright.sync_playwright() as driver:
        chromium = driver.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()
    del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]


@pytest.fixture
def page_as(browser, live_server):
    """A function giving a new browser page signed in as a user, through the login form."""
    contexts = []

    def sign_in(user, locale: str = "en-US"):
        context = browser.new_context(locale=locale, viewport={"width": 1400, "height": 900})
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(f"{live_server.url}/login/")
        page.fill("input[name=username]", user.username)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_url(f"{live_server.url}/")
        page.base = live_server.url
        return page

    yield sign_in
    for context in contexts:
        context.close()


@pytest.fixture
def pool(cluster):
    """A pool with six hosts of mixed status, names out of order."""
    template = TemplateFactory()
    pool = with_template(PoolFactory(cluster=cluster, name="web"), template)
    for name, status in (("h-c", "ready"), ("h-a", "ready"), ("h-f", "failed"), ("h-b", "ready"), ("h-e", "failed")):
        Host.objects.create(
            pool=pool, provider=template.provider, template=template, hostname=name, status=status, zone="bj-a"
        )
    return pool


def column(page, key: str, table: str = "hosts") -> list[str]:
    """The texts of one column of one of the page's tables (its host table unless told), top to bottom, as drawn."""
    keys = page.locator(f"#table-{table} thead th").evaluate_all("cells => cells.map(c => c.dataset.column)")
    index = keys.index(key)
    return page.locator(f"#table-{table} tbody tr td:nth-child({index + 1})").all_inner_texts()


def pool_cells(page, name: str) -> dict[str, str]:
    """The cells of one pool's row in the pools list, by column key."""
    row = page.locator("#table-pools tbody tr", has_text=name)
    return dict(zip(headings(page, "pools"), row.locator("td").all_inner_texts(), strict=True))


def headings(page, table: str = "hosts") -> list[str]:
    """The keys of a table's columns as drawn (the host table's unless told)."""
    return page.locator(f"#table-{table} thead th").evaluate_all("cells => cells.map(c => c.dataset.column)")


def test_sorting_a_table_by_its_heading(page_as, pool, users):
    """A click on Host sorts by name; a second click reverses; the address keeps the order."""
    page = page_as(users["guest"])
    page.goto(f"{page.base}/hosts/")
    page.click("#table-hosts thead th[data-column=hostname] a")
    page.wait_for_url(re.compile(r"ordering=hostname"))
    assert column(page, "hostname") == ["h-a", "h-b", "h-c", "h-e", "h-f"]
    page.click("#table-hosts thead th[data-column=hostname] a")
    page.wait_for_url(re.compile(r"ordering=-hostname"))
    assert column(page, "hostname") == ["h-f", "h-e", "h-c", "h-b", "h-a"]
    page.reload()
    assert column(page, "hostname") == ["h-f", "h-e", "h-c", "h-b", "h-a"]


def test_filter_swaps_in_the_matching_rows(page_as, pool, users):
    """Choosing a status in the filter redraws the table with only those hosts, without a page load."""
    page = page_as(users["guest"])
    page.goto(f"{page.base}/hosts/")
    page.evaluate("window.notReloaded = true")
    page.select_option("select[name=status]", "failed")
    page.wait_for_url(re.compile(r"status=failed"))
    page.wait_for_function("document.querySelectorAll('#table-hosts tbody tr').length === 2")
    assert sorted(column(page, "hostname")) == ["h-e", "h-f"]
    assert page.evaluate("window.notReloaded") is True, "the table was swapped in by HTMX, not by a reload"
    page.fill("input[name=q]", "h-f")
    page.click("form.filters button[type=submit]")
    page.wait_for_function("document.querySelectorAll('#table-hosts tbody tr').length === 1")
    assert column(page, "hostname") == ["h-f"]


def test_chosen_columns_stay_after_reload(page_as, pool, users):
    """Untick Instance and CPU, tick Cluster: the table shows that choice, after a reload and a new sign-in."""
    page = page_as(users["developer"])
    page.goto(f"{page.base}/hosts/")
    assert "instance_id" in headings(page) and "cluster" not in headings(page)
    page.click("details.columns summary")
    page.uncheck("details.columns input[value=instance_id]")
    page.uncheck("details.columns input[value=cpu]")
    page.check("details.columns input[value=cluster]")
    page.click("details.columns button[name=save]")
    page.wait_for_load_state()
    chosen = headings(page)
    assert "instance_id" not in chosen and "cpu" not in chosen and "cluster" in chosen
    page.reload()
    assert headings(page) == chosen
    again = page_as(users["developer"])
    again.goto(f"{again.base}/hosts/")
    assert headings(again) == chosen
    assert column(again, "cluster")[0] == pool.cluster.name


def test_switching_to_chinese(page_as, pool, users):
    """The user menu's 简体中文 turns the console Chinese, and it stays so; a zh-CN browser starts in Chinese."""
    page = page_as(users["guest"])
    page.goto(f"{page.base}/pools/{pool.pk}/")
    assert page.locator("header nav").inner_text().count("Hosts") == 1
    page.click("details.user summary")
    page.click("button[name=language][value=zh-hans]")
    page.wait_for_load_state()
    nav = page.locator("header nav").inner_text()
    assert "主机" in nav and "集群" in nav and "服务池" in nav and "任务" in nav and "成本" in nav
    assert page.locator("h2").first.inner_text() == "成本"
    assert "主机" in page.locator("#table-hosts thead").inner_text()
    page.goto(f"{page.base}/hosts/")
    assert "导出 CSV" in page.locator(".table-tools").inner_text()
    chinese = page_as(users["developer"], locale="zh-CN")
    assert "服务池" in chinese.locator("h1").inner_text()


@pytest.fixture(scope="module")
def aliyun():
    """The Aliyun ECS emulator: its instances take a few seconds to boot, so a job's bar has time to move."""
    from tests.providers.harnesses.aliyun import AliyunHarness

    harness = AliyunHarness()
    harness.start()
    yield harness
    harness.stop()


def test_scale_to_a_size_confirm_and_watch_the_bar_fill(worker, aliyun, page_as, cluster, users, tmp_path):
    """A developer asks for size 3: the preview and the confirmation show the plan and the budget after it;
    nothing is made until Confirm. The job page's bar is redrawn by polling as the worker works, up to 100 %,
    without a reload, and the pools list then shows the new size.

    The emulated ECS boots instances in 4 s: the job page first shows 0 of 3 ready, HTMX redraws the bar
    while the job runs, and the page ends on 3 of 3 ready, succeeded, with the three hosts in its table.
    """
    aliyun.reset()
    aliyun.set_faults(boot_seconds=4.0)
    template = template_for(aliyun, aliyun.account())
    pool = with_template(PoolFactory(cluster=cluster, name="ecs-pool"), template)
    Budget.objects.create(cluster=cluster, name="ops-month", amount=Decimal("5000"), currency="USD")
    page = page_as(users["developer"])
    page.goto(f"{page.base}/pools/{pool.pk}/")
    page.fill("input[name=desired_size]", "3")
    page.click("form.scale button[name=preview]")
    page.wait_for_selector("#scale-preview table.plan")
    assert "nothing has changed yet" in page.locator("#scale-preview").inner_text()
    assert page.locator("#scale-preview table.plan tbody td").all_inner_texts()[0] == template.name
    assert "ops-month" in page.locator("#scale-preview table.budgets-after").inner_text()
    page.click("form.scale button[type=submit]")
    page.wait_for_url(re.compile(r"/scale/confirm/$"))
    assert "Desired size 0 → 3" in page.locator("main").inner_text()
    assert page.locator("table.budgets-after tbody tr").count() == 1
    page.screenshot(path=tmp_path / "scale-confirm.png", full_page=True)
    assert not Job.objects.filter(pool=pool).exists()
    page.click("form.confirm button[name=confirm]")
    page.wait_for_url(re.compile(r"/jobs/\d+/$"))
    bar = page.locator(".progress")
    assert bar.get_attribute("data-total") == "3" and bar.get_attribute("data-ready") == "0"
    # The pools list, open beside the job, counts the running job and follows it by polling.
    pools = page.context.new_page()
    pools.goto(f"{page.base}/pools/?cluster={cluster.pk}")
    assert pool_cells(pools, "ecs-pool")["running_jobs"] == "1"
    pools.evaluate("window.notReloaded = true")
    page.evaluate(
        "window.notReloaded = true; window.redrawn = 0; document.body.addEventListener('htmx:afterSwap', "
        "e => { if (e.detail.target.id === 'job-progress') window.redrawn++; })"
    )
    page.wait_for_function("window.redrawn >= 1", timeout=30_000)
    page.wait_for_function(
        "document.querySelector('.progress') && document.querySelector('.progress').dataset.ready === '3'",
        timeout=120_000,
    )
    width = page.evaluate("document.querySelector('.progress .ready').getBoundingClientRect().width")
    whole = page.evaluate("document.querySelector('.progress').getBoundingClientRect().width")
    assert width == pytest.approx(whole, abs=1), "a full bar for 3 of 3 ready"
    assert page.evaluate("window.notReloaded") is True, "the bar reached 100 % without a page load"
    page.wait_for_function("document.querySelector('[data-status]').dataset.status === 'succeeded'", timeout=30_000)
    assert Job.objects.get(pool=pool).status == "succeeded"
    page.wait_for_function("document.querySelectorAll('#table-job-hosts tbody tr').length === 3")
    # The bar's figures by template, and each host's time from request to ready, as drawn.
    assert page.locator(".by-template tbody tr td").all_inner_texts() == [template.name, "3", "0", "3"]
    assert all(re.fullmatch(r"\d+\.\d s", took) for took in column(page, "took", "job-hosts"))
    page.screenshot(path=tmp_path / "job.png", full_page=True)
    pools.wait_for_function(
        "[...document.querySelectorAll('#table-pools tbody td')].map(td => td.innerText).join(' ').includes('ecs-pool')"
        " && document.querySelector('#table-pools td:nth-child(' + "
        "([...document.querySelectorAll('#table-pools thead th')].findIndex(th => th.dataset.column === 'running_jobs')"
        " + 1) + ')').innerText === '0'",
        timeout=30_000,
    )
    cells = pool_cells(pools, "ecs-pool")
    assert (cells["desired_size"], cells["size"], cells["ready"], cells["running_jobs"]) == ("3", "3", "3", "0")
    assert pools.evaluate("window.notReloaded") is True, "the pools list was redrawn by HTMX, not reloaded"


@pytest.fixture
def physical_pool(cluster):
    """Pool db: three ready hosts on physical machines, with Ansible as their initialization."""
    template = TemplateFactory(init_method="ansible")
    pool = with_template(PoolFactory(cluster=cluster, name="db", desired_size=3), template)
    hosts = ready_hosts(pool, template, [MachineFactory(provider=template.provider) for _ in range(3)])
    return pool, hosts


def test_pick_two_hosts_and_remove_them_then_rerun_initialization(worker, page_as, physical_pool, users, tmp_path):
    """Tick two hosts in the hosts table, Remove: the confirmation lists them, Confirm starts a scale-in job;
    when the worker has ended it the pool's page lists the one host left. Then re-run initialization on it:
    the confirmation names it, and its page shows the re-run's outcome once the worker has run it."""
    pool, hosts = physical_pool
    gone, kept = hosts[:2], hosts[2]
    page = page_as(users["developer"])
    page.goto(f"{page.base}/hosts/?pool={pool.pk}")
    for host in gone:
        page.check(f"#table-hosts input[type=checkbox][value='{host.pk}']")
    page.click("form#bulk-hosts button[value=remove]")
    page.wait_for_url(re.compile(r"/hosts/actions/$"))
    listed = page.locator("ul.removed").inner_text()
    assert all(host.hostname in listed for host in gone) and kept.hostname not in listed
    assert "Desired size 3 → 1" in page.locator("main").inner_text()
    page.screenshot(path=tmp_path / "remove-confirm.png", full_page=True)
    page.click("form.confirm button[name=confirm]")
    page.wait_for_url(re.compile(r"/jobs/\d+/$"))
    page.wait_for_function("document.querySelector('[data-status]').dataset.status === 'succeeded'", timeout=60_000)
    assert page.locator(".progress").get_attribute("data-removed") == "2"
    page.goto(f"{page.base}/pools/{pool.pk}/")
    assert column(page, "hostname") == [kept.hostname]

    page.check(f"#table-hosts input[type=checkbox][value='{kept.pk}']")
    page.click("form#bulk-hosts button[value=initialize]")
    page.wait_for_url(re.compile(r"/hosts/actions/$"))
    assert kept.hostname in page.locator("ul.to-run").inner_text()
    page.click("form.confirm button[name=confirm]")
    page.wait_for_selector("ul.started")
    assert "Initialization started again on 1 host." in page.locator("main").inner_text()
    page.click(f"ul.started a[href='/hosts/{kept.pk}/']")
    wait_for(lambda: not InitRun.objects.filter(host=kept, status="running").exists(), timeout=90, message="run")
    page.reload()
    run = page.locator("main h3").first.inner_text()
    assert "re-run" in run and "running" not in run
    page.screenshot(path=tmp_path / "host-rerun.png", full_page=True)


def test_pages_look_right(page_as, pool, users, tmp_path):
    """Screenshots of the host list and the pool page in both languages (looked at by a person)."""
    page = page_as(users["developer"])
    for name, path in (("hosts", "/hosts/"), ("pool", f"/pools/{pool.pk}/"), ("costs", "/costs/")):
        page.goto(f"{page.base}{path}")
        page.wait_for_load_state("networkidle")
        shot = tmp_path / f"{name}-en.png"
        page.screenshot(path=shot, full_page=True)
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page.click("details.user summary")
    page.click("button[name=language][value=zh-hans]")
    page.goto(f"{page.base}/pools/{pool.pk}/")
    page.screenshot(path=tmp_path / "pool-zh.png", full_page=True)
    # The page is no wider than the window: nothing runs off to the right.
    assert page.evaluate("document.documentElement.scrollWidth") <= 1400


def test_costs_page_draws_the_apis_daily_costs(page_as, cluster, users, priced, tmp_path):
    """Two hosts at 0.36 USD an hour for 30 hours: the chart has a bar per day and the table the cluster's cost.
    Then, for a window that has ended (so its figures stand still), every row of the table is the API's answer to
    the same question, figure for figure; the browser reports no JavaScript error or console error throughout."""
    pool = PoolFactory(cluster=cluster, name="priced")
    running(pool, priced, hours=30, n=2)
    page = page_as(users["guest"])
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.goto(f"{page.base}/costs/?group_by=pool&start=2000-01-01&end=2000-01-02")
    page.select_option("select[name=group_by]", "pool")
    page.fill("input[name=start]", (timezone.now() - timedelta(days=3)).date().isoformat())
    page.fill("input[name=end]", (timezone.now() + timedelta(days=1)).date().isoformat())
    page.click("#cost-form button[type=submit]")
    page.wait_for_function("document.querySelectorAll('#cost-rows tbody tr').length === 1")
    cells = page.locator("#cost-rows tbody tr td").all_inner_texts()
    assert cells[0] == f"{cluster.name}/priced" or cells[0].endswith("priced")
    assert Decimal(cells[1].split()[0]) == pytest.approx(Decimal("21.60"), abs=Decimal("0.02"))
    assert page.locator("#cost-total").inner_text().endswith("USD")
    drawn = page.evaluate(
        "echarts.getInstanceByDom(document.getElementById('cost-chart')).getOption().series"
        ".map(s => s.data.reduce((a, b) => a + b, 0))"
    )
    assert sum(drawn) == pytest.approx(21.60, abs=0.02)
    page.screenshot(path=tmp_path / "costs.png", full_page=True)

    running(PoolFactory(cluster=cluster, name="second"), priced, hours=50, n=1)
    today = timezone.now().date()
    start, end = (today - timedelta(days=3)).isoformat(), today.isoformat()
    page.fill("input[name=start]", start)
    page.fill("input[name=end]", end)
    page.click("#cost-form button[type=submit]")
    page.wait_for_function("document.querySelectorAll('#cost-rows tbody tr').length === 2")
    page.wait_for_function("document.getElementById('cost-status').textContent === ''")
    query = {"group_by": "pool", "step": "day", "start": f"{start}T00:00:00Z", "end": f"{end}T00:00:00Z"}
    answer = client_for(users["guest"]).get("/api/v1/costs/", query)
    assert answer.status_code == 200, answer.content
    api = answer.json()

    def amount(text: str) -> Decimal:
        return Decimal(text.removesuffix(" " + api["currency"]).replace(",", ""))

    drawn_rows = [page.locator("#cost-rows tbody tr").nth(i).locator("td").all_inner_texts() for i in range(2)]
    assert [[row[0], *map(amount, row[1:])] for row in drawn_rows] == [
        [row["key"], Decimal(row["cost"]), Decimal(row["host_hours"]), Decimal(row["unpriced_host_hours"])]
        for row in api["rows"]
    ]
    assert amount(page.locator("#cost-total").inner_text()) == Decimal(api["total"]) > 0
    assert errors == []


def test_budget_page_draws_its_burn_down(page_as, pool, priced, users, tmp_path):
    """A budget's page draws spent, forecast, linear and the amount as lines, with no error in the browser;
    the spent line ends on the spent figure (two hosts at 0.36 USD an hour for 30 hours, or what of it
    falls in this month). Screenshots of it, the provider page and a report schedule's page."""
    from tests.api.seed import _budget, cost_report

    spending = with_template(PoolFactory(cluster=pool.cluster, name="spending", desired_size=2), priced)
    running(spending, priced, hours=30, n=2)
    _budget(pool.cluster, spending, timezone.now())
    budget = Budget.objects.get()
    report = cost_report(pool.cluster, pool, users["admin"])
    page = page_as(users["guest"])
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{page.base}/budgets/{budget.pk}/")
    page.wait_for_function("window.echarts && echarts.getInstanceByDom(document.getElementById('burndown-chart'))")
    series = page.evaluate(
        "echarts.getInstanceByDom(document.getElementById('burndown-chart')).getOption().series"
        ".map(s => [s.name, s.data.length])"
    )
    days = len(page.evaluate("JSON.parse(document.getElementById('burndown-data').textContent).days"))
    assert series == [[name, days] for name in ("Spent", "Forecast", "Linear", "Budget")] and days >= 28
    spent = page.evaluate(
        "echarts.getInstanceByDom(document.getElementById('burndown-chart')).getOption().series[0]"
        ".data.filter(v => v !== null).pop()"
    )
    figure = Decimal(page.locator("[data-figure=spent]").inner_text().split()[0])
    assert spent == pytest.approx(float(figure), abs=0.01) and figure > 0
    forecast = Decimal(page.locator("[data-figure=forecast]").inner_text().split()[0])
    assert forecast > figure, "the two hosts keep running to the month's end"
    page.screenshot(path=tmp_path / "budget.png", full_page=True)
    for name, path in (("provider", f"/providers/{pool.hosts.first().provider_id}/"), ("report", "/reports/")):
        page.goto(f"{page.base}{path}")
        page.screenshot(path=tmp_path / f"{name}.png", full_page=True)
    page.goto(f"{page.base}/reports/{report.schedule_id}/")
    assert page.locator("table.reports a[download]").all_inner_texts() == ["csv", "xlsx"]
    assert errors == []
