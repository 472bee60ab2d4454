"""The console's main pages at desk and phone width, in English and Chinese, in a real browser.

Playwright drives Debian's Chromium against a live server. Each main page is
photographed at 1,280 px and at 375 px in both languages into the test run's
artifacts (``$DCP_ARTIFACTS_DIR/screenshots``, default ``var/artifacts/screenshots``),
and every check reads what the browser drew: no page runs off to the side,
the navigation folds behind its button at phone width, a table scrolls inside
its own box, a status pill carries a sign and a word, and after the switch to
中文 the navigation, tables, buttons and a server's error message are Chinese.
"""

import os
import re
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.contenttypes.models import ContentType

from apps.core import sentences
from apps.core.models import AuditEntry
from apps.inventory.models import Host, ServicePool
from apps.provisioning.models import Job, JobEvent
from tests.console import test_browser
from tests.factories import PoolFactory, TemplateFactory, with_template

FAILED_HOST = sentences.INIT_FAILED(status="unreachable", message=sentences.UNREACHABLE(reason="Connection refused"))
FAILED_MESSAGE = sentences.HOSTS_READY_BECAUSE(count=2, size=3, reason=sentences.TOO_MANY_FAILED())

# The browser fixtures of test_browser (one Chromium per module, a signed-in page per user), shared.
browser, page_as = test_browser.browser, test_browser.page_as
pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]
WIDTHS = {"desk": 1280, "phone": 375}


def artifacts_dir() -> Path:
    """Where this run's screenshots go: $DCP_ARTIFACTS_DIR/screenshots, else var/artifacts/screenshots."""
    root = os.environ.get("DCP_ARTIFACTS_DIR") or Path(settings.BASE_DIR) / "var" / "artifacts"
    return Path(root) / "screenshots"


@pytest.fixture
def scene(cluster, users):
    """A pool with hosts, a finished job with its timeline, and an audit entry: something on every page."""
    template = TemplateFactory(hourly_price="0.120000")
    pool = with_template(PoolFactory(cluster=cluster, name="web-frontend-pool", desired_size=3), template)
    job = Job.objects.create(
        pool=pool,
        kind="scale_out",
        status="partial",
        delta=3,
        desired_before=0,
        desired_after=3,
        requested_by=users["admin"],
        message=FAILED_MESSAGE,
    )
    hosts = [
        Host.objects.create(
            pool=pool,
            provider=template.provider,
            template=template,
            job=job,
            status=status,
            zone="cn-beijing-a",
            hostname=f"web-{i:03d}.bj.example.internal",
            instance_id=f"i-2ze{i:017d}",
            private_ip=f"10.0.0.{i}",
        )
        for i, status in enumerate(("ready", "ready", "failed"), start=1)
    ]
    Host.objects.filter(pk=hosts[2].pk).update(status_message=FAILED_HOST)
    # The timeline as the engine writes it, so the pictures show what an engineer reads in each language.
    timeline = [
        ("requested", None, sentences.SCALE_ASKED(who=users["admin"], delta="+3", before=0, after=3)),
        (
            "planned",
            None,
            sentences.PLACING(
                placements=sentences.PLACED_IN_ZONE(count=3, template=template.name, zone="cn-beijing-a")
            ),
        ),
        ("created", hosts[0], sentences.HOST_CREATED(host=hosts[0].hostname, instance=hosts[0].instance_id)),
        ("ready", hosts[0], sentences.HOST_MOVED(host=hosts[0].hostname, status="ready", seconds=62.4)),
        (
            "failed",
            hosts[2],
            sentences.HOST_MOVED_BECAUSE(host=hosts[2].hostname, status="failed", seconds=95.1, reason=FAILED_HOST),
        ),
        ("finished", None, sentences.JOB_ENDED_BECAUSE(status="partial", reason=FAILED_MESSAGE)),
    ]
    for kind, host, message in timeline:
        JobEvent.objects.create(job=job, host=host, kind=kind, message=message)
    AuditEntry.objects.create(
        username=users["admin"].username,
        user=users["admin"],
        action="scale",
        via="console",
        cluster=cluster,
        object_type=ContentType.objects.get_for_model(ServicePool),
        object_id=str(pool.pk),
        object_repr=str(pool),
    )
    return {"pool": pool, "host": hosts[0], "job": job}


def main_pages(scene, cluster) -> dict[str, str]:
    """The main pages by name: each list and a detail page of each kind."""
    return {
        "clusters": "/clusters/",
        "pools": "/pools/",
        "pool": f"/pools/{scene['pool'].pk}/",
        "hosts": "/hosts/",
        "host": f"/hosts/{scene['host'].pk}/",
        "jobs": "/jobs/",
        "job": f"/jobs/{scene['job'].pk}/",
        "costs": "/costs/",
        "providers": "/providers/",
        "audit": "/audit/",
    }


def switch_language(page, code: str) -> None:
    """The user menu's language button, as a person would press it (opening the fold first on a phone)."""
    if page.locator(".nav-toggle").is_visible():
        page.click(".nav-toggle")
    page.click("details.user summary")
    page.click(f"button[name=language][value={code}]")
    page.wait_for_load_state()


def test_screenshots_of_the_main_pages_fit_desk_and_phone(page_as, scene, cluster, users):
    """Every main page, both languages, 1,280 and 375 px: saved, no sideways scrolling of the page itself."""
    folder = artifacts_dir()
    page = page_as(users["admin"])
    for language in ("en", "zh-hans"):
        if language != "en":
            switch_language(page, language)
        for width_name, width in WIDTHS.items():
            page.set_viewport_size({"width": width, "height": 900})
            for name, path in main_pages(scene, cluster).items():
                page.goto(f"{page.base}{path}")
                if name == "costs":  # its chart and table are drawn from a fetch after the page loads
                    page.wait_for_function("document.getElementById('cost-status').textContent === ''")
                assert page.locator("html").get_attribute("lang") == language
                shot = folder / f"{language}-{width_name}" / f"{name}.png"
                shot.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=shot, full_page=True)
                assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
                overflow = page.evaluate("document.documentElement.scrollWidth")
                assert overflow <= width, f"{name} ({language}) is {overflow} px wide at {width} px"


def test_phone_width_folds_the_navigation_and_scrolls_tables_in_their_box(page_as, scene, users):
    """At 375 px the navigation is behind ☰ and opens on a tap, the host table scrolls in its box, pills have signs."""
    page = page_as(users["developer"])
    page.set_viewport_size({"width": 375, "height": 800})
    page.goto(f"{page.base}/hosts/")
    assert not page.locator("#main-nav").is_visible()
    page.click(".nav-toggle")
    assert page.locator("#main-nav").is_visible()
    assert page.locator(".nav-toggle").get_attribute("aria-expanded") == "true"
    page.click(".nav-toggle")
    assert not page.locator("#main-nav").is_visible()
    table = page.locator("#table-hosts table")
    box = table.evaluate("t => ({client: t.clientWidth, scroll: t.scrollWidth})")
    assert box["scroll"] > box["client"] and box["client"] <= 375, "the table scrolls in its own box"
    table.evaluate("t => { t.scrollLeft = 10000 }")
    assert table.evaluate("t => t.scrollLeft") > 0
    sign = page.locator(".pill.status-failed").first.evaluate("p => getComputedStyle(p, '::before').content")
    assert sign == '"✕"', "a failed status shows a sign, not only a colour"
    assert page.locator("form.filters select[name=status]").evaluate("s => s.getBoundingClientRect().width") > 300
    page.goto(f"{page.base}/pools/{scene['pool'].pk}/")
    field = page.locator("form.scale input[name=delta]").bounding_box()
    preview = page.locator("form.scale button[name=preview]").bounding_box()
    assert field["width"] > 300 and preview["y"] >= field["y"] + field["height"], "the scale form stacks"
    page.set_viewport_size({"width": 1280, "height": 800})
    assert page.locator("#main-nav").is_visible() and not page.locator(".nav-toggle").is_visible()


def test_switch_to_chinese_and_back(page_as, scene, users):
    """中文: navigation, table headings, buttons, labels of values and a server's error are Chinese; then English."""
    page = page_as(users["developer"])
    page.goto(f"{page.base}/pools/{scene['pool'].pk}/")
    switch_language(page, "zh-hans")
    nav = page.locator("header nav").inner_text()
    assert all(word in nav for word in ("集群", "服务池", "主机", "任务", "成本", "审计日志")), nav
    assert "预览" in page.locator("form.scale").inner_text()
    page.goto(f"{page.base}/jobs/{scene['job'].pk}/")
    timeline = page.locator("table.timeline").inner_text()
    assert "已请求" in timeline and "已规划" in timeline and "requested" not in timeline
    assert re.search(r"\d\d:\d\d:\d\d\.\d{3} UTC", timeline), "times carry their time zone"
    assert "扩容" in page.locator("h1").inner_text()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{page.base}/costs/")
    page.wait_for_function("document.getElementById('cost-status').textContent === ''")
    assert page.evaluate("!!echarts.getInstanceByDom(document.getElementById('cost-chart'))") and errors == []
    assert page.locator("#cost-total").inner_text().endswith("USD")
    page.goto(f"{page.base}/hosts/")
    assert "导出 CSV" in page.locator(".table-tools").inner_text()
    assert "主机" in page.locator("#table-hosts thead").inner_text()
    assert "就绪" in page.locator("#table-hosts tbody").inner_text()
    page.goto(f"{page.base}/hosts/?ordering=nonsense")
    error = page.locator(".table-block .messages").inner_text()
    assert "无法按" in error and "'nonsense'" in error, error
    switch_language(page, "en")
    assert "Hosts" in page.locator("header nav").inner_text()
    assert "Cannot order by 'nonsense'" in page.locator(".table-block .messages").inner_text()
    assert "Export CSV" in page.locator(".table-tools").inner_text()
